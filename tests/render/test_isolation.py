"""The isolating renderer: which items it leaves out of a failing body, and when it gives up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from digest.render import RenderError, Renderer
from digest.render.errors import DisclosureMissing
from digest.render.isolation import IsolatingRenderer

from .factories import make_briefing, make_related, make_video, sample_config, sample_edition


def _titles(selection) -> set[str]:
    items = [i for s in selection.sections for i in s.briefings]
    return {i.title for i in [*items, *selection.recommended, *selection.videos, *selection.related]}


class Failing:
    """Fails for any selection holding a title with "BOOM" (or, with ``always``, for any)."""

    def __init__(self, always: bool = False):
        self.always = always
        self.calls = 0
        self.real = Renderer(sample_config())

    def render(self, selection):
        self.calls += 1
        if self.always or any("BOOM" in title for title in _titles(selection)):
            raise RenderError("base.mjml.j2: MJML did not compile: a test fault")
        return self.real.render(selection)


def _with_bombs():
    """The sample edition with one failing item of each kind: card, pick, video, headline."""
    base = sample_edition()
    first = base.sections[0]
    return replace(
        base,
        sections=(replace(first, briefings=(replace(first.briefings[0], title="BOOM card"), *first.briefings[1:])),
                  *base.sections[1:]),
        recommended=(replace(make_briefing(90, 0), title="BOOM pick", is_editor_pick=True),),
        videos=(replace(make_video(1), title="BOOM video"), *base.videos),
        related=(replace(make_related(2), title="BOOM headline"), *base.related),
    )


def test_each_item_that_fails_alone_is_left_out_and_the_rest_is_rendered():
    selection = _with_bombs()
    outcome = IsolatingRenderer(Failing()).render(selection)
    assert outcome.error is None and outcome.rendered is not None
    assert sorted((i.kind, i.title) for i in outcome.left_out) == [
        ("briefing", "BOOM card"), ("briefing", "BOOM headline"), ("briefing", "BOOM pick"), ("video", "BOOM video")]
    assert all(i.error == "base.mjml.j2: MJML did not compile: a test fault" for i in outcome.left_out)
    assert "BOOM" not in outcome.rendered.html
    kept = sample_edition()
    assert kept.sections[0].briefings[1].title in outcome.rendered.html


def test_an_item_is_rendered_alone_once_per_process():
    renderer = Failing()
    isolating = IsolatingRenderer(renderer)
    selection = _with_bombs()
    isolating.render(selection)
    first = renderer.calls
    isolating.render(replace(selection, note="another body with the same items"))
    assert renderer.calls - first == 2  # the body, then without the four: no item rendered alone again


def test_a_body_that_fails_whatever_it_holds_is_given_up_with_its_error():
    outcome = IsolatingRenderer(Failing(always=True)).render(sample_edition())
    assert outcome.rendered is None and outcome.left_out == ()
    assert outcome.error == "base.mjml.j2: MJML did not compile: a test fault"


def test_an_error_that_is_not_ours_is_named_with_its_type():
    class Broken:
        def render(self, selection):
            raise ValueError("bad\nvalue")

    assert IsolatingRenderer(Broken()).render(sample_edition()).error == "ValueError: bad value"


def test_strict_modes_missing_disclosure_is_not_isolated_it_blocks():
    class Strict:
        def render(self, selection):
            raise DisclosureMissing("briefing 1 ('x') has no author disclosure: not rendered (selection.strict = true)")

    with pytest.raises(DisclosureMissing):
        IsolatingRenderer(Strict()).render(sample_edition())
