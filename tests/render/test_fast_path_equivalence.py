"""The fast renderer (fragments and skeletons inlined once per process, cached filters)
gives exactly the same RenderedEmail as the whole-document reference path.

``Renderer(config, fast=False)`` is the pipeline as it was before the fast path: every
body inlined by premailer as one document, every filter computed afresh. It is kept as
the reference these tests compare with, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from lxml import etree

from digest.content import RelatedItem, Selection, SponsorDisclosure, TopicSection
from digest.render import Renderer
from digest.render import fragment_inline, replay, sections
from digest.render.fragment_inline import ancestor_classes, inline_body
from digest.render.inline import inline_css
from digest.render.fragments import printed_content
from digest.render.mjml import compile_mjml
from digest.render import RenderError

from .factories import (
    EDITION_DATE,
    HOLDING,
    HOSTILE_BODIES,
    SPONSOR,
    hostile_edition,
    large_edition,
    make_briefing,
    make_related,
    make_video,
    sample_edition,
    single_item_edition,
)

SEED = 20261127
RANDOM_SELECTIONS = 60

#: Bodies a feed could send after ingestion: tables, images, odd entities, non-ASCII,
#: nesting lxml's HTML parser handles its own way, and the hostile set.
ODD_BODIES = HOSTILE_BODIES + (
    "<p>Caf\u00e9 \u2014 na\u00efve \u20ac 5 &amp; 10 &lt;b&gt; &#169; &nbsp;spaced&nbsp;</p>",
    "<table><tr><th>Hole</th><th>g/t</th></tr><tr><td>KL-01</td><td>1.2</td></tr></table><p>after</p>",
    "<p>one<br>two<br/>three</p><hr><blockquote><p>quoted <em>text</em></p></blockquote>",
    "<ol><li>a<ul><li>nested</li></ul></li><li>b</li></ol>",
    "<h2>Heading</h2><h3>Sub</h3><h4>Small</h4><p><code>x &lt; y</code></p>",
    "<figure><img src=\"https://x.example/c.png\" alt=\"chart \u00b7 2026\"><figcaption>Cap</figcaption></figure>",
    "plain text with no tags at all, & an ampersand",
    "<p>unclosed <strong>bold <em>both</p><p>next",
    "<p><a href=\"https://x.example/a?b=1&c=2\" title=\"t \u2019q\u2019\">link</a> <span>span</span></p>",
    "<p><sub>2</sub><sup>3</sup><s>struck</s><u>under</u><b>b</b><i>i</i></p>",
    "<table><caption>c</caption><thead><tr><td colspan=\"2\">h</td></tr></thead><tbody><tr><td rowspan=\"2\">x</td></tr></tbody></table>",
    "",
    "<li>stray item</li><td>stray cell</td></tr></table></div><p>after strays</p>",
)
ODD_TITLES = (
    "Plain title",
    "AT&T <b>\"wins\"</b> it's",
    "Caf\u00e9 na\u00efve \u2014 \u20ac1.2bn deal",
    "  spaces   inside  ",
    "dgst lookalike dgstfrag text",
)


def assert_same(fast, reference) -> None:
    """The comparison every test here makes: every field, byte for byte."""
    for field in ("subject", "preheader", "html", "text", "tokens"):
        got, want = getattr(fast, field), getattr(reference, field)
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want))) \
                if isinstance(got, str) else 0
            context = f" at {at}: {got[max(0, at - 80):at + 80]!r} != {want[max(0, at - 80):at + 80]!r}" \
                if isinstance(got, str) else f": {got!r} != {want!r}"
            raise AssertionError(f"fast and reference {field} differ{context}")
    assert fast == reference


@pytest.fixture(scope="module")
def reference(config):
    return Renderer(config, fast=False)


@pytest.fixture(scope="module")
def fast(config):
    return Renderer(config)


def _check(fast, reference, selection: Selection) -> None:
    want = reference.render(selection)
    assert_same(fast.render(selection), want)  # cold or partly cached
    assert_same(fast.render(selection), want)  # every fragment and skeleton cached


@pytest.mark.parametrize(
    "make", [sample_edition, single_item_edition, lambda: large_edition(200), hostile_edition],
    ids=["sample", "single-item", "200-items-budgeted", "hostile"],
)
def test_fixed_editions(make, fast, reference):
    _check(fast, reference, make())


def _content(rng: random.Random):
    """A day's content: briefings over the sample topics, with odd bodies and titles."""
    topics = [("lithium", "Lithium", 0), ("gold", "Gold", 1), ("copper", "Copper", 2),
              ("ev-supply-chain", "EV Supply Chain", 3), ("uranium", "Uranium", 4), ("silver", "Silver", 5)]
    odd_sponsor = SponsorDisclosure(payer="Caf\u00e9 & Co", amount=None, form="shares", text=None)
    by_topic = {}
    for slug, title, company in topics:
        items = []
        for k in range(rng.randint(0, 7)):
            n = company + 7 * k + 7 * 8 * rng.randint(0, 3)
            item = make_briefing(n, company, sponsor=rng.choice([None, None, None, SPONSOR, odd_sponsor]),
                                 disclosure=rng.choice(["The author holds no position.", HOLDING]))
            if rng.random() < 0.35:
                item = replace(item, body_html=rng.choice(ODD_BODIES))
            if rng.random() < 0.2:
                item = replace(item, title=rng.choice(ODD_TITLES))
            if rng.random() < 0.1:
                item = replace(item, url=None)
            if rng.random() < 0.1:
                item = replace(item, author=None)
            items.append(item)
        by_topic[slug] = (title, items)
    videos = [make_video(i) for i in range(8)]
    videos[3] = replace(videos[3], thumbnail_url=None)
    videos[5] = replace(videos[5], title="Caf\u00e9 \"tour\" & <core> shack")
    related = [make_related(i) for i in range(20)]
    related[2] = replace(related[2], url=None)
    related[4] = replace(related[4], excerpt=None)
    related[6] = RelatedItem(id=9999, url=None, title="No link & no excerpt", published_at=related[6].published_at,
                             date_label=related[6].date_label, excerpt="x" * 300)
    recommended = [make_briefing(40 + i, i, editor_pick=True) for i in range(4)]
    return by_topic, videos, related, recommended


def _random_selection(rng: random.Random, content) -> Selection:
    by_topic, videos, related, recommended = content
    chosen = sorted(rng.sample(sorted(by_topic), rng.randint(1, len(by_topic))))
    sections = []
    for slug in chosen:
        title, items = by_topic[slug]
        picked = [item for item in items if rng.random() < 0.7]
        if picked:
            sections.append(TopicSection(slug, title, tuple(picked)))
    return Selection(
        edition_date=EDITION_DATE,
        topics=tuple(chosen),
        sections=tuple(sections),
        videos=tuple(rng.sample(videos, rng.randint(0, 5))),
        recommended=tuple(rng.sample(recommended, rng.choice([0, 0, 1, 2]))),
        related=tuple(rng.sample(related, rng.choice([0, 1, 3, 8, 15]))),
        note=rng.choice([None, None, None, "Nothing new in some topics today.", "Caf\u00e9 & <note>"]),
    )


def test_random_selections(fast, reference):
    rng = random.Random(SEED)
    content = _content(rng)
    for i in range(RANDOM_SELECTIONS):
        selection = _random_selection(rng, content)
        try:
            _check(fast, reference, selection)
        except AssertionError as exc:
            raise AssertionError(f"random selection {i} (seed {SEED}): {exc}") from exc


def test_large_random_edition_through_the_budget(fast, reference):
    rng = random.Random(SEED + 1)
    content = _content(rng)
    selection = _random_selection(rng, content)
    extra = tuple(make_briefing(100 + n, n % 7, sponsor=SPONSOR if n % 9 == 0 else None) for n in range(150))
    selection = replace(selection, sections=selection.sections + (TopicSection("general", "Markets & General", extra),))
    _check(fast, reference, selection)


# ---------------------------------------------------------------- the checks can fail


def test_a_tampered_fragment_is_caught(fast, reference, monkeypatch):
    """If a cached fragment were inlined wrongly, the comparison above would say so."""
    monkeypatch.setattr(fast, "assembler", None)  # these caches are read when a body is inlined
    selection = sample_edition()
    want = reference.render(selection)
    assert_same(fast.render(selection), want)  # caches warm: the next render reads them
    original = fragment_inline.fragment_cache.get

    def tampered(key, default=None):
        value = original(key, default)
        return value.replace("margin:0 0 12px", "margin:0 0 13px") if isinstance(value, str) else value

    monkeypatch.setattr(fragment_inline.fragment_cache, "get", tampered)
    with pytest.raises(AssertionError, match="html differ"):
        assert_same(fast.render(selection), want)


def _tamper(monkeypatch, cache, old: str, new: str) -> list[int]:
    """Make ``cache.get`` answer with ``old`` replaced by ``new``; returns a list that
    counts the answers actually changed (so a test cannot pass by tampering nothing)."""
    original = cache.get
    changed: list[int] = []

    def tampered(key, default=None):
        value = original(key, default)
        if isinstance(value, str) and old in value:
            changed.append(1)
            return value.replace(old, new)
        return value

    monkeypatch.setattr(cache, "get", tampered)
    return changed


def test_a_tampered_skeleton_frame_is_caught(fast, reference, monkeypatch):
    """The skeleton cache now holds the frame (head, page and section elements)."""
    monkeypatch.setattr(fast, "assembler", None)  # these caches are read when a body is inlined
    selection = sample_edition()
    want = reference.render(selection)
    assert_same(fast.render(selection), want)
    changed = _tamper(monkeypatch, fragment_inline.skeleton_cache, "max-width:600px", "max-width:601px")
    with pytest.raises(AssertionError, match="html differ"):
        assert_same(fast.render(selection), want)
    assert changed


def test_a_tampered_section_is_caught(fast, reference, monkeypatch):
    monkeypatch.setattr(fast, "assembler", None)  # these caches are read when a body is inlined
    selection = sample_edition()
    want = reference.render(selection)
    assert_same(fast.render(selection), want)
    changed = _tamper(monkeypatch, sections.section_cache, "border-top:0", "border-top:1px")
    with pytest.raises(AssertionError, match="html differ"):
        assert_same(fast.render(selection), want)
    assert changed


@pytest.fixture
def cold_caches():
    """Empty fast-path caches before the test and after it (a tampered value may be stored)."""
    caches = (fragment_inline.fragment_cache, fragment_inline.skeleton_cache, sections.section_cache,
              replay.attribute_cache)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


def test_a_tampered_attribute_record_is_caught(fast, reference, monkeypatch, cold_caches):
    """Fragments inlined from recorded attributes (no premailer) are checked too."""
    monkeypatch.setattr(fast, "assembler", None)  # these caches are read when a body is inlined
    selection = sample_edition()
    want = reference.render(selection)
    assert_same(fast.render(selection), want)  # records every fragment's elements
    fragment_inline.fragment_cache.clear()  # the fragments are inlined again, from the records
    original = replay.attribute_cache.get
    changed: list[int] = []

    def tampered(key, default=None):
        value = original(key, default)
        if value and value[0]:
            changed.append(1)
            return ((*value[0], ("style", "color:red")),) + value[1:]
        return value

    monkeypatch.setattr(replay.attribute_cache, "get", tampered)
    with pytest.raises(AssertionError, match="html differ"):
        assert_same(fast.render(selection), want)
    assert changed


def test_sections_and_recorded_attributes_are_reused(fast, reference, monkeypatch, cold_caches):
    """Seeded selections, each rendered once from cold caches, as an edition renders them:
    new skeletons assembled from cached sections, new fragments inlined from recorded
    attributes, and every body still equal to the whole-document path."""
    monkeypatch.setattr(fast, "assembler", None)  # these caches are read when a body is inlined
    counts = {"section hits": 0, "section misses": 0, "replays": 0, "frames": 0}
    section_get, frame_get, replay_ = sections.section_cache.get, fragment_inline.skeleton_cache.get, \
        fragment_inline.replay

    def counting_section_get(key, default=None):
        value = section_get(key, default)
        counts["section hits" if value is not None else "section misses"] += 1
        return value

    def counting_frame_get(key, default=None):
        value = frame_get(key, default)
        counts["frames"] += value is None
        return value

    def counting_replay(pieces):
        done = replay_(pieces)
        counts["replays"] += done
        return done

    monkeypatch.setattr(sections.section_cache, "get", counting_section_get)
    monkeypatch.setattr(fragment_inline.skeleton_cache, "get", counting_frame_get)
    monkeypatch.setattr(fragment_inline, "replay", counting_replay)
    rng = random.Random(SEED + 2)
    content = _content(rng)
    for i in range(RANDOM_SELECTIONS):
        selection = _random_selection(rng, content)
        try:
            assert_same(fast.render(selection), reference.render(selection))
        except AssertionError as exc:
            raise AssertionError(f"random selection {i} (seed {SEED + 2}): {exc}") from exc
    assert counts["section hits"] > counts["section misses"] > 0, counts
    assert counts["frames"] > 0 and counts["replays"] > 0, counts


def test_sections_read_by_premailer_are_not_cut():
    page = etree.fromstring(
        "<html><head></head><body><div><div class='a'><p>x</p></div><div><style>p{}</style><p>y</p></div>"
        "<div>text only</div></div></body></html>", etree.HTMLParser())
    cuts = sections.cut_sections(page, {}, lambda element: (element.tag,), b"")
    assert [cut.element.get("class") for cut in cuts] == ["a"]
    assert etree.tostring(page).count(b"dgstsect") == 1
    cuts[0].put_back()
    assert b"dgstsect" not in etree.tostring(page)


def test_the_fast_path_is_taken(fast, monkeypatch):
    """Not vacuous the other way either: the fast renderer does not just call inline_css."""
    calls = []
    monkeypatch.setattr(fragment_inline, "inline_css", lambda html: calls.append(html) or html)
    fast.render(sample_edition())
    fast.render(large_edition(200))
    assert calls == []


# ---------------------------------------------------------------- fallbacks


def _doc(css: str, texts: list[str]) -> tuple[str, str]:
    body = "".join(f'<mj-text css-class="c{i}">{t}</mj-text>' for i, t in enumerate(texts))
    source = (f'<mjml lang="en"><mj-head><mj-style inline="inline">/* digest:inline */ {css}</mj-style></mj-head>'
              f'<mj-body><mj-section css-class="footer"><mj-column>{body}</mj-column></mj-section></mj-body></mjml>')
    return source, compile_mjml(source, "test")


LONG = "<p class=\"x\">" + "words " * 20 + "</p>"


@pytest.mark.parametrize("css", [
    ".x { color: red; } .footer p { margin: 0; } .c1 { border-top: 0; }",
    ".x + .x { color: red; }",           # sibling combinator: whole-document path
    "p:first-child { color: red; }",     # pseudo-class: whole-document path
    "[class] { color: red; }",           # attribute selector
    "#id { color: red; } .x { margin: 0; }",
    "* { color: red; }",
    "@media screen { .x { color: red; } }",
])
def test_inline_body_equals_inline_css_whatever_the_css(css):
    source, html = _doc(css, [LONG, LONG + "<table><tr><td>x</td></tr></table>", "short"])
    assert inline_body(source, html) == inline_css(html)


@pytest.mark.parametrize("content", [
    LONG + "<table><tr><td>unclosed table",                 # would swallow the rest of the page
    LONG + "</td></tr></tbody></table><p>escaped</p>",       # closes the cells around it
    LONG + "</div><p class=\"x\">after a stray div close</p>",
    LONG + "<p>unclosed paragraph",
    # Balanced for MRML, but lxml's HTML parser closes elements on its own rules:
    LONG + "<p><div>div in p</div></p>",
    LONG + "<div><td>cell in a div</td></div>",
    LONG + "<p><table><tr><td>table in p</td></tr></table></p>",
    LONG + "<ul><p>p in ul</p></ul><li>stray li</li>",
    LONG + "<tr><td>row outside a table</td></tr>",
    LONG + "<body><p>a body tag</p></body>",
])
def test_unbalanced_fragments_are_inlined_in_place(content):
    css = ".x { color: red; } .footer p { margin: 0; } p { padding: 0; }"
    try:
        source, html = _doc(css, [LONG, content, LONG + "<b>3</b>"])
    except RenderError:  # MRML refuses it: it can never reach the inliner, nor the probe
        assert printed_content(content) is None
        return
    assert inline_body(source, html) == inline_css(html)


def test_css_guard():
    assert ancestor_classes(".a p, .b > .c a { x: y }") == frozenset({"a", "b", "c"})
    assert ancestor_classes("p.a { x: y }") == frozenset()
    for css in (".a + p {}", ".a ~ p {}", "a:hover {}", "[x] {}", "#a {}", "* {}", "@media x { p {} }", ". {}"):
        assert ancestor_classes(css) is None, css
