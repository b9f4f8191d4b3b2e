"""The render pool starts on a background thread: while its workers are not up yet (a
fork server still importing), the planner renders in its own process instead of waiting."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait

import pytest

from digest.deliver.plan import bodies
from digest.deliver.plan.bodies import EditionBodies
from digest.models.compressed import StoredForm, decompress_text
from digest.render import Renderer
from digest.render.isolation import IsolatingRenderer
from fakes.samples import sample_config, sample_edition


class SlowStartingPool:
    """A stand-in for ProcessPoolExecutor whose first worker start blocks until released,
    as one does while the fork server imports what workers need; it then runs tasks here."""

    release = threading.Event()
    instances: list["SlowStartingPool"] = []

    def __init__(self, processes, *, mp_context=None, initializer=None, initargs=()):
        self.initializer, self.initargs = initializer, initargs
        self.started = False
        self.tasks: list[str] = []
        self.shut_down = False
        SlowStartingPool.instances.append(self)

    def submit(self, fn, *args):
        if not self.started:
            assert self.release.wait(10), "the test never released the pool"
            self.started = True  # (the initializer, which sets signal handlers, is not run here)
        self.tasks.append(getattr(fn, "__name__", repr(fn)))
        future = Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        self.shut_down = True


@pytest.fixture
def slow_pool(monkeypatch):
    SlowStartingPool.release = threading.Event()
    SlowStartingPool.instances = []
    monkeypatch.setattr(bodies, "ProcessPoolExecutor", SlowStartingPool)
    monkeypatch.setattr(bodies, "INLINE_RENDERS", 0)
    monkeypatch.setattr(bodies, "_worker_renderer", IsolatingRenderer(Renderer(sample_config())))  # the initializer's
    return SlowStartingPool


def _selections(count: int):
    base = sample_edition()
    return [dataclasses.replace(base, note=f"note {n}") for n in range(count)]


def test_renders_go_on_here_while_the_pool_starts_then_go_to_it(slow_pool):
    editions = EditionBodies(config=sample_config(), processes=2)
    selections = _selections(4)
    try:
        for selection in selections[:3]:  # the pool is still starting: rendered here, no waiting
            editions.submit(selection.fingerprint(), selection)
        assert [editions.ready(s.fingerprint()) for s in selections[:3]] == [True] * 3
        assert len(slow_pool.instances) == 1 and slow_pool.instances[0].tasks == []

        slow_pool.release.set()
        editions._starting.result(timeout=10)  # the background start finishes
        editions.submit(selections[3].fingerprint(), selections[3])
        assert slow_pool.instances[0].tasks.count("_render_in_worker") == 1
        taken = [editions.take(s.fingerprint()) for s in selections]
        assert all(t.rendered is not None and t.rendered.html for t in taken)
        assert len({t.body for t in taken}) == 4 and editions.renders == 4
    finally:
        editions.close()
    assert slow_pool.instances[0].shut_down


def test_the_pool_starts_its_workers_before_it_takes_a_render(slow_pool):
    editions = EditionBodies(config=sample_config(), processes=2)
    first, second = _selections(2)
    try:
        editions.submit(first.fingerprint(), first)  # rendered here: the pool is starting
        slow_pool.release.set()
        editions._starting.result(timeout=10)
        editions.submit(second.fingerprint(), second)
        assert slow_pool.instances[0].tasks == ["int", "int", "_render_in_worker"]
    finally:
        editions.close()


def test_a_pool_that_started_but_was_never_used_is_shut_down(slow_pool):
    editions = EditionBodies(config=sample_config(), processes=2)
    selection = _selections(1)[0]
    editions.submit(selection.fingerprint(), selection)  # rendered here; the pool is starting
    slow_pool.release.set()
    editions.close()  # waits for the start, then shuts it down
    assert slow_pool.instances[0].shut_down


def test_a_pool_that_cannot_start_fails_the_next_render_handed_to_it(monkeypatch):
    release = threading.Event()

    class Broken:
        def __init__(self, *args, **kwargs):
            release.wait(10)
            raise OSError("cannot fork")

    monkeypatch.setattr(bodies, "ProcessPoolExecutor", Broken)
    monkeypatch.setattr(bodies, "INLINE_RENDERS", 0)
    editions = EditionBodies(config=sample_config(), processes=2)
    first, second = _selections(2)
    editions.submit(first.fingerprint(), first)  # starts the pool; rendered here meanwhile
    release.set()
    futures_wait([editions._starting], timeout=10)
    with pytest.raises(OSError, match="cannot fork"):
        editions.submit(second.fingerprint(), second)
    editions.close()


def test_a_big_editions_renders_all_go_to_the_pool_waiting_in_line_while_it_starts(slow_pool, monkeypatch):
    monkeypatch.setattr(bodies, "INLINE_RENDERS", 16)  # ignored for a big edition
    inline = []
    monkeypatch.setattr(EditionBodies, "_inline_renderer", lambda self: inline.append(1))
    editions = EditionBodies(config=sample_config(), processes=2, big=True)
    selections = _selections(3)
    try:
        for selection in selections:  # the pool is still starting: nothing rendered, nothing blocks
            editions.submit(selection.fingerprint(), selection)
        assert not any(editions.ready(s.fingerprint()) for s in selections)
        slow_pool.release.set()
        taken = [editions.take(s.fingerprint()) for s in selections]  # waits for the pool, in line
        assert all(t.rendered is not None and t.rendered.html for t in taken)
        assert slow_pool.instances[0].tasks.count("_render_in_worker") == 3
        later = _selections(4)[3]
        editions.submit(later.fingerprint(), later)  # the pool is up: straight to it
        assert editions.take(later.fingerprint())[1] is not None
        assert slow_pool.instances[0].tasks.count("_render_in_worker") == 4
    finally:
        editions.close()
    assert inline == [] and editions.renders == 4


def test_a_big_editions_renders_fail_with_the_pool_that_could_not_start(monkeypatch):
    release = threading.Event()

    class Broken:
        def __init__(self, *args, **kwargs):
            release.wait(10)
            raise OSError("cannot fork")

    monkeypatch.setattr(bodies, "ProcessPoolExecutor", Broken)
    editions = EditionBodies(config=sample_config(), processes=2, big=True)
    selection = _selections(1)[0]
    editions.submit(selection.fingerprint(), selection)  # waits in line
    release.set()
    with pytest.raises(OSError, match="cannot fork"):
        editions.take(selection.fingerprint())
    editions.close()


def test_a_render_failing_in_a_worker_fails_the_plan_with_its_error():
    """A big edition's render runs in a real worker process; its error comes back as is."""
    from digest.render import RenderError

    config = sample_config()
    strict = config.model_copy(update={"selection": config.selection.model_copy(update={"strict": True})})
    base = sample_edition()
    undisclosed = dataclasses.replace(base.sections[0].briefings[0], author_disclosure="")
    broken = dataclasses.replace(base, sections=(dataclasses.replace(base.sections[0], briefings=(undisclosed,)),))
    editions = EditionBodies(config=strict, processes=1, big=True)
    try:
        editions.submit(base.fingerprint(), base)
        editions.submit(broken.fingerprint(), broken)
        assert editions.take(base.fingerprint())[1].html
        with pytest.raises(RenderError, match="no author disclosure"):
            editions.take(broken.fingerprint())
    finally:
        editions.close()


def test_a_body_failing_in_a_worker_comes_back_without_the_item_that_broke_it():
    """Isolation runs in the worker process: the planner gets the body, and what it left out."""
    base = sample_edition()
    bad = dataclasses.replace(base.sections[0].briefings[0], title="A raw \x01 in a stored title")
    broken = dataclasses.replace(base, sections=(dataclasses.replace(base.sections[0], briefings=(
        bad, *base.sections[0].briefings[1:])), *base.sections[1:]))
    editions = EditionBodies(config=sample_config(), processes=1, big=True)
    try:
        editions.submit(broken.fingerprint(), broken)
        taken = editions.take(broken.fingerprint())
    finally:
        editions.close()
    # The worker hands back the body as it is stored: its html and text compressed.
    assert taken.error is None and isinstance(taken.rendered, StoredForm)
    html = decompress_text(taken.rendered.html)
    assert "A raw" not in html and base.sections[0].briefings[1].title in html
    [left_out] = taken.left_out
    assert (left_out.kind, left_out.id, left_out.title) == ("briefing", bad.id, bad.title)
    assert "MJML did not compile" in left_out.error
    # The same body, fingerprint and all, as rendered in this process.
    here = IsolatingRenderer(Renderer(sample_config())).render(broken).rendered
    assert taken.rendered == StoredForm.of(here) and taken.body == here.fingerprint
    assert (decompress_text(taken.rendered.html), decompress_text(taken.rendered.text)) == (here.html, here.text)
