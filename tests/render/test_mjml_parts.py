"""Sections compiled once and assembled (digest.render.mjml_parts) give MRML's own HTML
for the whole document, byte for byte, and its warnings; anything else compiles whole."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import pytest

from digest.content import tokens_in
from digest.settings import load_publication_config
from digest.render import Renderer
from digest.render.errors import RenderError
from digest.render.mjml import compile_mjml
from digest.render.mjml_parts import MjmlParts, split_document
from fakes.benchmarks import load_benchmark

from .baseline_editions import editions
from .factories import HOSTILE_BODIES, hostile_edition, make_briefing, sample_config, sample_edition


class Checked(MjmlParts):
    """Compares every assembled body with the whole document compiled by MRML."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.checked = 0

    def compile(self, source: str, template: str) -> str:
        html = super().compile(source, template)
        assert html == compile_mjml(source, template), f"assembled HTML differs from MRML's (body {self.checked})"
        self.checked += 1
        return html


def checked_renderer(config, **kwargs) -> Renderer:
    renderer = Renderer(config)
    renderer.mjml = Checked(**kwargs)
    return renderer


def hostile_items():
    """MSO comments, emoji, right-to-left text and markup in titles, bodies and the note."""
    edition = hostile_edition(HOSTILE_BODIES)
    extra = (
        replace(make_briefing(40, 1), title="<!--[if mso]><b>MSO</b><![endif]--> 🚀 Gold ⛏️ rallies 👍🏽",
                body_html="<p>🚀 <!--[if mso]>x<![endif]--> </mj-section><mj-section></p>"),
        replace(make_briefing(41, 2), title="\u202eRTL override\u202c שלום مرحبا &amp; &lt;/mj-text&gt;",
                author="‏נועה‏", body_html="<p dir='rtl'>שלום <b>עולם</b></p>"),
    )
    section = replace(edition.sections[0], briefings=edition.sections[0].briefings + extra)
    return replace(edition, sections=(section,), note="</mj-body></mjml> 🙂 <b>&amp;</b>")


def no_logo_config():
    config = sample_config()
    return config.model_copy(update={"branding": config.branding.model_copy(update={"logo_url": None})})


CONFIGS = {
    "sample": sample_config,
    "benchmark": lambda: load_publication_config(load_benchmark("dataset").CONFIG_PATH),
    "no-logo": no_logo_config,  # a text masthead
}


@pytest.mark.parametrize("which", list(CONFIGS))
def test_assembled_bodies_are_the_whole_documents_html(which):
    """The edition workload (the render benchmark's 150 distinct selections), every baseline
    edition (the 200-item one through the size budget: several candidates) and hostile
    items, on the sample publication, the benchmark's and one without a logo."""
    config = CONFIGS[which]()
    renderer = checked_renderer(config)
    selections = load_benchmark("render").edition_selections(150)
    selections += list(editions().values()) + [hostile_items(), sample_edition()]
    for selection in selections:
        renderer.render(selection)
    assert renderer.mjml.checked >= len(selections) + 3  # the budgeted edition: candidates too
    assert renderer.mjml.fallbacks == 0  # every one of them was assembled


def test_a_small_cache_changes_nothing():
    renderer = checked_renderer(sample_config(), cache_chars=20_000)
    for selection in load_benchmark("render").edition_selections(20):
        renderer.render(selection)
    assert renderer.mjml.fallbacks == 0
    assert renderer.mjml._chars <= 20_000 or len(renderer.mjml._pieces) == 1


HEAD = '<mjml lang="en"><mj-head><mj-title>T</mj-title><mj-preview>P</mj-preview></mj-head>'
SECTION = '<mj-section><mj-column><mj-text>{}</mj-text></mj-column></mj-section>'
TWO_COLUMNS = ('<mj-section><mj-column width="50%"><mj-image src="https://x.example/a.png" /></mj-column>'
               '<mj-column width="50%"><mj-text>b</mj-text></mj-column></mj-section>')


@pytest.mark.parametrize("body, assembled", [
    (SECTION.format("a") + TWO_COLUMNS + SECTION.format("c"), True),
    (TWO_COLUMNS + SECTION.format("<!--[if mso]>x"), True),  # the warnings add up too
    (f"<mj-wrapper>{SECTION.format('w')}{SECTION.format('v')}</mj-wrapper>{SECTION.format('z')}", True),
    ("", True),
    (SECTION.format("a") + "loose text", False),
    (SECTION.format("a") + "<!-- a comment -->", False),
    (SECTION.format("a") + "<mj-raw><p>raw</p></mj-raw>", False),
    (SECTION.format("a") + '<mj-hero><mj-text>h</mj-text></mj-hero>', False),
    ('<mj-section><mj-column><mj-carousel><mj-carousel-image src="https://x.example/a.png" /></mj-carousel>'
     '</mj-column></mj-section>', False),
    ("<mj-section><mj-column><mj-wat>x</mj-wat></mj-column></mj-section>", False),
])
def test_documents_assembled_or_compiled_whole(body, assembled, caplog):
    source = f'{HEAD}<mj-body width="500px">{body}</mj-body></mjml>'
    parts = MjmlParts()
    with caplog.at_level(logging.WARNING):
        html = parts.compile(source, "t.mjml")
    warnings = [r.getMessage() for r in caplog.records]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        whole = compile_mjml(source, "t.mjml")
    assert html == whole
    assert warnings == [r.getMessage() for r in caplog.records]
    assert parts.fallbacks == (0 if assembled else 1)


def test_warnings_of_assembled_sections():
    source = f'<mjml><mj-body>{TWO_COLUMNS}{SECTION.format("<!--[if mso]>x")}</mj-body></mjml>'
    assert split_document(source) is not None
    logger = logging.getLogger("digest.render.mjml")  # where compile_mjml warns
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        MjmlParts().compile(source, "t.mjml")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == [
        "t.mjml: 1 image(s) without an alt attribute",
        't.mjml: <html lang="und">: set <mjml lang="...">',
        "t.mjml: unbalanced MSO conditional comments",
    ]


def test_a_compile_error_is_the_whole_documents():
    source = f"{HEAD}<mj-body>{SECTION.format('a')}<mj-section><mj-column><mj-text>x</mj-column></mj-section></mj-body></mjml>"
    with pytest.raises(RenderError) as whole:
        compile_mjml(source, "base.mjml.j2")
    with pytest.raises(RenderError) as assembled:
        MjmlParts().compile(source, "base.mjml.j2")
    assert str(assembled.value) == str(whole.value)


def test_split_document():
    a, b = SECTION.format("a"), SECTION.format("b")
    assert split_document(f"{HEAD}<mj-body css-class=\"x\">\n  {a}\n  {b}\n</mj-body>\n</mjml>\n") == (
        HEAD, '<mj-body css-class="x">', [a, b])
    assert split_document(f"{HEAD}<mj-body />\n</mjml>") is None
    assert split_document(f"{HEAD}<mj-body>{a}</mj-body></mjml><mj-body></mj-body>") is None
    assert split_document(f"{HEAD}<mj-body>{a}</mj-body></mjml>trailing") is None
    assert split_document(f"{HEAD}<mj-body><mj-section>{a}</mj-body></mjml>") is None


@pytest.mark.parametrize("title", [
    "Plain & simple — 27 Nov 2026 · Gold", "AT&amp;T &lt;b&gt; &#34;quoted&#34; &#39;s", "", "  spaced  ",
    "Gold ⛏️ rallies", "\u202eRTL override\u202c", "two\nlines\tand a tab", "🚀 שלום مرحبا 👍🏽", "back\\slash",
    "mjmlparts-title-4f1c mjmlparts-preview-4f1c",  # the markers' own text
])
def test_titles_and_previews_as_mrml_writes_them(title):
    """The head part is written once per head kinds and the title and preview filled in,
    when MRML writes each of their characters as it is (the aria-label escapes some)."""
    parts = MjmlParts()
    for preview in ("P", title, f"{title} {title}"):
        for body in (SECTION.format("a"), TWO_COLUMNS + SECTION.format("b")):
            source = (f'<mjml lang="en"><mj-head><mj-title>{title}</mj-title><mj-preview>{preview}</mj-preview>'
                      f'</mj-head><mj-body>{body}</mj-body></mjml>')
            assert parts.compile(source, "t.mjml") == compile_mjml(source, "t.mjml")
    assert parts.fallbacks == 0


def test_threads_share_one_cache():
    """A renderer serving threads (the preview server): the caches change under a lock."""
    sources = [f'{HEAD}<mj-body>{SECTION.format(i % 7)}{TWO_COLUMNS if i % 3 else ""}{SECTION.format(i)}</mj-body></mjml>'
               for i in range(60)]
    parts = MjmlParts(cache_chars=30_000)  # small: evictions while the threads run
    results: dict[tuple[int, int], str] = {}

    def work(offset: int) -> None:
        for i in range(offset, offset + len(sources)):
            results[(i % len(sources), offset)] = parts.compile(sources[i % len(sources)], "t.mjml")

    threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 15, 30, 45)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 * len(sources)
    for (i, _), html in results.items():
        assert html == compile_mjml(sources[i], "t.mjml")
    assert parts.fallbacks == 0


def test_sizes_and_tokens_of_assembled_documents():
    """A body's byte size (the size budget's) and tokens are added up from its sections':
    the same figures as encoding and searching the whole HTML, for the bodies, the
    budget's candidates, and a document compiled whole (not known: worked out)."""
    renderer = checked_renderer(sample_config())
    documents, sources = [], []
    compile_document = renderer.mjml.compile

    def kept(source, template):
        sources.append(source)
        documents.append(compile_document(source, template))
        return documents[-1]

    renderer.mjml.compile = kept
    for selection in load_benchmark("render").edition_selections(30) + [hostile_items(), editions()["budget-200"]]:
        rendered = renderer.render(selection)
        assert renderer.mjml.tokens(rendered.html) == tokens_in(rendered.html)
    known = [html for html in documents if id(html) in renderer.mjml._known]
    assert len(known) >= 8 and any(not html.isascii() for html in known)
    for html in documents[-8:]:
        assert renderer.mjml.size(html) == len(html.encode("utf-8"))
        assert renderer.mjml.tokens(html) == tokens_in(html) and tokens_in(html)
    whole = compile_mjml(sources[-1], "t")
    assert id(whole) not in renderer.mjml._known and renderer.mjml.size(whole) == len(whole.encode("utf-8"))
