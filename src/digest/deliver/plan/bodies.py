"""An edition's rendered bodies: one render per distinct selection.

Planning hands every new selection to :class:`EditionBodies` and goes on with the next
reader; a body is only needed when the first batch of its readers is written (and is
stored then, in that batch's transaction). So
renders can run in worker processes (``DIGEST_RENDER_PROCESSES``) while this process
reads subscribers, selects and writes the ledger: on two cores a big edition's renders
no longer wait for planning, nor planning for them.

Small editions (a proof, the demo, a zone's morning in a small list) render in this
process: a pool is only started once an edition has needed more than
:data:`INLINE_RENDERS` renders, since starting worker processes has a cost (a fork server's
imports, once per process, see :mod:`digest.deliver.worker_processes`; about a second per worker where there is
no fork server). The pool starts on a background thread: until its workers are up
(a fork server still importing what they need, most of a second), renders go on here
instead of the planner waiting for them. An edition known to be big (``digest send`` sends
it from worker processes too) renders nothing here: its pool starts with the plan, and
renders asked for before it is up wait in line for it while planning goes on.
Every render goes through :class:`~digest.render.isolation.IsolatingRenderer`: a body
that fails is rendered again without the items that broke it, or comes back as failed
with its error (:class:`TakenBody`), and planning goes on with the other readers. What is
not one body's failure (a renderer that cannot be built, strict mode's missing
disclosures, a pool that could not start) raises from :meth:`EditionBodies.take`, exactly
as an in-process render would, and stops the plan.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import replace
from typing import NamedTuple, Protocol

from ...content import RenderedEmail, Selection
from ...models.compressed import StoredForm
from ...render.isolation import IsolatingRenderer, LeftOutItem, RenderOutcome
from ..worker_processes import freeze_started_heap, leave_with_owner, owner, worker_context

#: Renders done in this process before a pool is started (when one is allowed).
INLINE_RENDERS = 16


class BodyRenderer(Protocol):
    def render(self, selection: Selection) -> RenderedEmail: ...


class TakenBody(NamedTuple):
    """What became of one selection's render."""

    body: str | None  # the body's content fingerprint; None: the body could not be rendered
    #: The body itself the first time it is taken (as it is stored when a worker rendered it)
    rendered: RenderedEmail | StoredForm | None
    left_out: tuple[LeftOutItem, ...]  # items left out of it because they broke it
    error: str | None  # why there is no body


# ----------------------------------------------------------------- worker processes

_worker_renderer: IsolatingRenderer | None = None


def _start_worker(config, started_by: tuple[int, str | None]) -> None:
    # Ctrl-C or a dyno's SIGTERM reaches every process: the planning process decides, and
    # shuts the pool down (a worker killed mid-render would only fail the plan).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    leave_with_owner(started_by)  # a killed planner's renders are wanted by nobody
    global _worker_renderer
    from ...render import Renderer

    _worker_renderer = IsolatingRenderer(Renderer(config))
    freeze_started_heap()


def _render_in_worker(selection: Selection) -> tuple[RenderOutcome, float, float]:
    """The outcome, its body in the form it is stored in (fingerprint and compressed parts
    computed here, not in the planning process, which only stores it), with the render's
    wall time and CPU time (they differ by the time the worker waited for a core: on a
    busy machine, most of it)."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    outcome = _worker_renderer.render(selection)
    if outcome.rendered is not None:
        outcome = replace(outcome, rendered=StoredForm.of(outcome.rendered))
    return outcome, time.perf_counter() - started, time.thread_time() - started_cpu


def _complete(source: Future, target: Future) -> None:
    """``target`` gets ``source``'s outcome when it has one."""

    def copy(done: Future) -> None:
        if target.cancelled():
            return
        if done.cancelled():
            target.cancel()
        elif done.exception() is not None:
            target.set_exception(done.exception())
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


# ----------------------------------------------------------------- the edition's bodies


class EditionBodies:
    """Renders each distinct selection once; :meth:`take` hands out the result.

    ``processes`` > 0 allows a pool of that many workers (built from ``config``) once
    :data:`INLINE_RENDERS` renders have been done here; a custom ``renderer`` always
    renders in this process. ``big`` (an edition known to be big, with a pool): the pool
    starts at once and every render goes to it, those asked for before it is up waiting
    in line, so this process never renders (nor loads the render stack) and goes on
    selecting meanwhile.
    """

    def __init__(self, *, config, renderer: BodyRenderer | None = None, processes: int = 0, big: bool = False) -> None:
        self._config = config
        self._renderer = renderer
        self._isolating: IsolatingRenderer | None = None
        self._processes = processes if renderer is None else 0
        self._pool: ProcessPoolExecutor | None = None
        self._starting: Future | None = None  # the pool, once its workers are up
        self._big = bool(self._processes) and big
        self._lock = threading.Lock()  # the line of renders waiting for the pool, and the pool
        self._waiting: list[tuple[Selection, Future]] | None = [] if self._big else None
        # selection fingerprint -> its render's outcome, or what take() returns after the first time
        self._done: dict[str, RenderOutcome | TakenBody] = {}
        self._pending: dict[str, Future] = {}
        self.renders = 0
        self.render_seconds = 0.0  # summed over renders, whichever process did them
        self.render_cpu_seconds = 0.0  # the same renders' CPU time

    def submit(self, fingerprint: str, selection: Selection) -> None:
        """Make sure ``selection`` (whose fingerprint this is) is, or is being, rendered."""
        if fingerprint in self._done or fingerprint in self._pending:
            return
        self.renders += 1
        if self._big:
            self._started_pool()  # starts it the first time
            self._pending[fingerprint] = self._to_pool(selection)
            return
        if self._processes and self.renders > INLINE_RENDERS:
            pool = self._started_pool()
            if pool is not None:  # else it is starting: rendered here meanwhile
                self._pending[fingerprint] = pool.submit(_render_in_worker, selection)
                return
        started, started_cpu = time.perf_counter(), time.thread_time()
        outcome = self._inline_renderer().render(selection)
        self.render_seconds += time.perf_counter() - started
        self.render_cpu_seconds += time.thread_time() - started_cpu
        self._done[fingerprint] = outcome

    def ready(self, fingerprint: str) -> bool:
        """True when :meth:`take` would not wait."""
        future = self._pending.get(fingerprint)
        return future is None or future.done()

    def wait(self, fingerprint: str, *, timeout: float | None = None) -> None:
        """Until this selection is rendered (or ``timeout`` seconds)."""
        future = self._pending.get(fingerprint)
        if future is not None:
            wait_for_futures([future], timeout=timeout)

    def take(self, fingerprint: str) -> TakenBody:
        """The body's content fingerprint, and the body itself the first time it is taken
        (``None`` after: only its fingerprint is kept), or the render's error. Waits for a
        render still running."""
        done = self._done.get(fingerprint)
        if done is None:
            done, seconds, cpu_seconds = self._pending.pop(fingerprint).result()
            self.render_seconds += seconds
            self.render_cpu_seconds += cpu_seconds
        if isinstance(done, TakenBody):
            return done
        rendered = done.rendered
        body = rendered.fingerprint if rendered is not None else None
        self._done[fingerprint] = TakenBody(body, None, done.left_out, done.error)
        return TakenBody(body, rendered, done.left_out, done.error)

    def _started_pool(self) -> ProcessPoolExecutor | None:
        """The worker pool once it is up (starting it on a background thread the first
        time); None while it is starting. Re-raises a failed start."""
        if self._pool is None:
            if self._starting is None:
                self._starting = Future()
                threading.Thread(target=self._start_pool, name="digest-render-pool-start", daemon=True).start()
            if not self._starting.done():
                return None
            self._pool = self._starting.result()
        return self._pool

    def _to_pool(self, selection: Selection) -> Future:
        """The render's future: the pool's, or, while the pool is starting, one that the
        pool's will complete once it is up (see :meth:`_start_pool`)."""
        with self._lock:
            if self._waiting is not None:
                waiting: Future = Future()
                self._waiting.append((selection, waiting))
                return waiting
        return self._starting.result().submit(_render_in_worker, selection)

    def _start_pool(self) -> None:
        """On a background thread: starting a worker blocks until the fork server has
        imported what workers need and forked it. Then hands the pool the renders that
        waited for it."""
        try:
            pool = ProcessPoolExecutor(self._processes, mp_context=worker_context(),
                                       initializer=_start_worker, initargs=(self._config, owner()))
            try:
                for _ in range(self._processes):  # each submit to a busy pool starts one more worker
                    pool.submit(int)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        except BaseException as exc:
            self._starting.set_exception(exc)
            with self._lock:
                waiting, self._waiting = self._waiting or [], None
            for _, future in waiting:
                if not future.cancelled():
                    future.set_exception(exc)
            return
        self._starting.set_result(pool)
        while True:  # renders asked for meanwhile, in order, then none wait any more
            with self._lock:
                waiting = self._waiting or []
                self._waiting = [] if waiting else None
            if not waiting:
                return
            for selection, future in waiting:
                if future.cancelled():
                    continue
                try:
                    _complete(pool.submit(_render_in_worker, selection), future)
                except RuntimeError as exc:  # the pool was shut down meanwhile (close)
                    future.set_exception(exc)

    def close(self) -> None:
        if self._pool is None and self._starting is not None:  # started, never used
            try:
                self._pool = self._starting.result()
            except BaseException:
                self._pool = None
        if self._pool is not None:
            for future in self._pending.values():
                future.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _inline_renderer(self) -> IsolatingRenderer:
        if self._isolating is None:
            renderer = self._renderer
            if renderer is None:
                from ...render import Renderer

                renderer = Renderer(self._config)
            self._isolating = IsolatingRenderer(renderer)
        return self._isolating
