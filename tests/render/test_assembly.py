"""Bodies assembled from cached section pieces (:mod:`digest.render.assembly`) are the
bodies the whole-document path renders, byte for byte, and the checks can fail."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from digest.render import Renderer
from digest.render.assembly import Assembler, _Printer, cut_html, split_source

from .factories import large_edition, sample_edition
from .test_fast_path_equivalence import ODD_TITLES, assert_same

_spec = importlib.util.spec_from_file_location(
    "render_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "render.py")
_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_benchmark)
edition_selections = _benchmark.edition_selections  # the benchmark's edition-like workload

EDITION_SELECTIONS = 150


@pytest.fixture
def fast(config):
    return Renderer(config)  # fresh caches: what is assembled is learnt in the test


@pytest.fixture(scope="module")
def reference(config):
    return Renderer(config, fast=False)


def test_an_editions_selections_are_assembled_and_equal_the_reference(fast, reference):
    assembled = 0
    for i, selection in enumerate(edition_selections(EDITION_SELECTIONS)):
        got = fast.render(selection)
        assembled += fast.timings.assembled
        try:
            assert_same(got, reference.render(selection))
        except AssertionError as exc:
            raise AssertionError(f"edition selection {i}: {exc}") from exc
    # Most bodies after the first few: known sections around one new one (its headlines).
    assert assembled > EDITION_SELECTIONS * 0.8


def test_odd_subjects_and_preheaders_are_printed_as_the_reference_prints_them(fast, reference):
    base = sample_edition()
    fast.render(base)  # learns the frame and the pieces
    for title in ODD_TITLES:
        card = replace(base.sections[0].briefings[0], title=title, excerpt=f"{title} & more")
        selection = replace(base, sections=(replace(base.sections[0], briefings=(card,)),) + base.sections[1:])
        got = fast.render(selection)
        assert fast.timings.assembled == 1, title
        assert_same(got, reference.render(selection))


def test_a_budgeted_edition_is_judged_as_before(fast, reference):
    for selection in (sample_edition(), large_edition(200), large_edition(200)):
        assert_same(fast.render(selection), reference.render(selection))


def _tamper(monkeypatch, cache, change) -> list[int]:
    original = cache.get
    changed: list[int] = []

    def tampered(key, default=None):
        value = original(key, default)
        if value is not None:
            new = change(value)
            if new != value:
                changed.append(1)
                return new
        return value

    monkeypatch.setattr(cache, "get", tampered)
    return changed


def test_a_tampered_piece_is_caught(fast, reference, monkeypatch):
    selection = sample_edition()
    want = reference.render(selection)
    assert_same(fast.render(selection), want)
    changed = _tamper(monkeypatch, fast.assembler.pieces,
                      lambda piece: replace(piece, html=piece.html.replace("margin:0 0 12px", "margin:0 0 13px")))
    got = fast.render(selection)
    assert fast.timings.assembled == 1 and changed
    with pytest.raises(AssertionError, match="html differ"):
        assert_same(got, want)


def test_a_tampered_frame_is_caught(fast, reference, monkeypatch):
    selection = sample_edition()
    want = reference.render(selection)
    assert_same(fast.render(selection), want)
    changed = _tamper(monkeypatch, fast.assembler.frames,
                      lambda frame: (frame[0].replace("max-width:100%", "max-width:99%"), frame[1]))
    got = fast.render(selection)
    assert fast.timings.assembled == 1 and changed
    with pytest.raises(AssertionError, match="html differ"):
        assert_same(got, want)


def test_a_frame_is_only_reused_for_the_same_columns_and_components(fast, reference):
    """Video rows add MJML's half-width column class to the head: a body without videos
    has its own frame."""
    with_videos = sample_edition()
    without = replace(with_videos, videos=())
    fast.render(with_videos)
    got = fast.render(without)  # every section known, but not this frame: rendered whole
    assert fast.timings.assembled == 0
    assert_same(got, reference.render(without))
    fewer = replace(without, sections=without.sections[1:])  # known sections, the frame now known too
    again = fast.render(fewer)
    assert fast.timings.assembled == 1
    assert_same(again, reference.render(fewer))


def test_split_source_takes_only_sections_directly_in_the_body():
    head = '<mjml><mj-head><mj-title>S</mj-title><mj-preview>P</mj-preview></mj-head><mj-body width="600px">'
    one = '<mj-section><mj-column><mj-text>a</mj-text></mj-column></mj-section>'
    parts = split_source(f"{head}\n  {one}\n{one}\n</mj-body></mjml>")
    assert parts is not None and parts.sections == (one, one)
    assert "<mj-title></mj-title>" in parts.head and "<mj-preview></mj-preview>" in parts.head
    assert split_source(f"{head}{one}<mj-wrapper>{one}</mj-wrapper></mj-body></mjml>") is None
    assert split_source(f"{head}{one}<mj-raw><p>x</p></mj-raw></mj-body></mjml>") is None
    assert split_source(f"{head}{one}loose text</mj-body></mjml>") is None
    assert split_source(f"{head}</mj-body></mjml>") is None
    assert split_source("<mjml><mj-body>") is None


def test_cut_html_needs_one_run_per_section():
    start, end = "<!--[if mso | IE]><table>", "<!--[if mso | IE]></td></tr></table><![endif]-->"
    html = f"<html><head></head><body><div>{start}a{end}{start}b{end}</div></body></html>"
    assert cut_html(html, 2) == ("<html><head></head><body><div>", [f"{start}a{end}", f"{start}b{end}"],
                                 "</div></body></html>")
    assert cut_html(html, 1) is None and cut_html(html, 3) is None
    assert cut_html(f"<html><body><div>{start}a{end}x{start}b{end}</div></body></html>", 2) is None


@pytest.mark.parametrize("subject", ODD_TITLES + ("", "<title>", '"quoted"'))
def test_frame_masks_round_trip(subject):
    printer = _Printer()
    text, attribute = printer.text(subject or "x"), printer.attribute(subject or "x")
    before = (f'<html><head><title>{text}</title></head><body><div style="display:none;">pre &amp; header</div>'
              f'<div aria-label="{attribute}" class="dm-page">')
    if not subject or attribute is None:  # no title / lxml quotes it with ' : no frame, rendered whole
        assert printer.mask(before, subject, "pre & header") is None
        return
    masked = printer.mask(before, subject, "pre & header")
    assert masked is not None and subject not in masked.replace("<title>", "")
    assert printer.fill(masked, subject, "pre & header") == before
    assert printer.fill(masked, "Other", "another") == before.replace(text, "Other").replace(
        f'aria-label="{attribute}"', 'aria-label="Other"').replace("pre &amp; header", "another")


def test_assembler_learns_nothing_from_a_document_it_cannot_cut():
    assembler = Assembler()
    source = ('<mjml><mj-head><mj-title>S</mj-title></mj-head><mj-body>'
              '<mj-section><mj-column><mj-text>a</mj-text></mj-column></mj-section></mj-body></mjml>')
    assembler.learn(source, "<html></html>", "<html><body>no sections here</body></html>", "S", "")
    assert len(assembler.pieces) == 0 and len(assembler.frames) == 0
