"""Sanitising, disclosure paragraphs, excerpts and topic rules: pure functions, no I/O."""

from __future__ import annotations

import re

import pytest

from digest.ingest.disclosures import extract_disclosures, parse_sponsor
from digest.ingest.sanitize import make_excerpt, one_line, safe_http_url, sanitize_html
from digest.ingest.tagging import Tagger
from digest.settings import load_settings

HOSTILE = [
    '<script>alert(1)</script>',
    '<SCRIPT SRC=https://evil.example/x.js></SCRIPT>',
    '<scr<script>ipt>alert(1)</script>',
    '<iframe src="https://evil.example/">fallback</iframe>',
    '<form action="https://evil.example/"><input name=pw></form>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<body onload="alert(1)">',
    '<img src="https://ok.example/a.png" onerror="alert(1)">',
    '<img src=x OnError=alert(1)>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#0000106&#0000097vascript:alert(1)">x</a>',
    '<a href="&#x6A;&#x61;vascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
    '<p style="background:url(https://evil.example/t.png)">x</p>',
    '<p style="background:URL(javascript:alert(1))">x</p>',
    '<style>@import url(https://evil.example/x.css);</style>',
    '<p style="@import \'https://evil.example/x.css\'">x</p>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<math><mtext><script>alert(1)</script></mtext></math>',
    '<base href="https://evil.example/">',
    '<div onmouseover="alert(1)">x</div>',
    '<a href="https://ok.example/" onclick="alert(1)">x</a>',
]
ACTIVE = re.compile(
    r"<\s*(script|iframe|form|object|embed|style|link|meta|svg|math|base|input)\b"
    r"|\son\w+\s*="
    r"|javascript:|vbscript:|data:"
    r"|style\s*="
    r"|@import|url\(",
    re.I,
)


@pytest.mark.parametrize("fragment", HOSTILE)
def test_nothing_active_survives(fragment):
    cleaned = sanitize_html(fragment, base_url="https://site.example/post/")
    assert not ACTIVE.search(cleaned), cleaned


def test_safe_markup_is_kept_and_links_get_noopener():
    cleaned = sanitize_html(
        '<p>Hello <strong>there</strong> <a href="https://ok.example/x" target="_blank">link</a> '
        '<img src="https://ok.example/a.png" alt="chart"></p>'
    )
    assert "<strong>there</strong>" in cleaned
    assert re.search(r'<a href="https://ok.example/x" rel="noopener[^"]*">link</a>', cleaned)
    assert "target" not in cleaned
    assert 'alt="chart"' in cleaned


def test_images_always_get_alt_and_relative_links_resolve_or_go():
    cleaned = sanitize_html('<img src="/a.png"><a href="/b">b</a>', base_url="https://site.example/post/")
    assert '<img alt="" src="https://site.example/a.png">' in cleaned
    assert 'href="https://site.example/b"' in cleaned
    no_base = sanitize_html('<img src="/a.png"><a href="/b">b</a>')
    assert "<img" not in no_base and "href" not in no_base


def test_excerpt_is_plain_one_line_and_short():
    body = "<p>" + "Word &amp; <b>bold</b> " * 60 + "</p><script>evil()</script>"
    excerpt = make_excerpt(body)
    assert len(excerpt) <= 200 and excerpt.endswith("…")
    assert "<" not in excerpt and "&amp;" not in excerpt and "evil" not in excerpt
    assert excerpt.startswith("Word & bold Word")
    assert make_excerpt(body, "<p>Given\n excerpt</p>") == "Given excerpt"
    assert one_line("short") == "short"


def test_safe_http_url():
    assert safe_http_url("https://ok.example/a?b=1") == "https://ok.example/a?b=1"
    for bad in (None, "", "/relative", "javascript:alert(1)", "ftp://x.example/", "https://", "http://a b"):
        assert safe_http_url(bad) is None


def test_disclosure_paragraphs_are_lifted_out():
    body = (
        "<p>Main text.</p>"
        "<p><em>Information for this Briefing was found via the company's filings.</em></p>"
        "<p><strong>Author disclosure:</strong> The author holds 2,000 shares of Acme.</p>"
        "<p>PAID PROMOTION — Acme Lithium Corp. paid CAD 12,000 in cash and 50,000 shares for this piece.</p>"
    )
    rest, found = extract_disclosures(body)
    assert rest == "<p>Main text.</p>"
    assert found.attribution == "Information for this Briefing was found via the company's filings."
    assert found.author_disclosure == "The author holds 2,000 shares of Acme."
    assert found.sponsor.payer == "Acme Lithium Corp."
    assert found.sponsor.amount == "CAD 12,000"
    assert found.sponsor.form == "cash and 50,000 shares"
    assert found.sponsor.text.startswith("PAID PROMOTION")


def test_disclosure_none_and_unparsed_promotion_is_kept_whole():
    _, found = extract_disclosures("<p>Disclosure: None.</p><p>Paid promotion: sponsored by a friend.</p>")
    assert found.author_disclosure == "none"
    assert found.sponsor.text == "Paid promotion: sponsored by a friend."
    assert found.sponsor.payer is None
    assert parse_sponsor("Paid promotion: Kestrel Gold paid $5,000 in cash.").form == "cash"


def test_plain_paragraphs_are_not_mistaken_for_disclosures():
    body = "<p>The company disclosed results.</p><p>Information is power.</p>"
    rest, found = extract_disclosures(body)
    assert rest == body
    assert found.attribution is None and found.author_disclosure is None and found.sponsor is None


@pytest.fixture(scope="module")
def tagger_config():
    return load_settings({"DATABASE_URL": "sqlite://"}, demo=True).config


def test_tagging_precedence(tagger_config):
    tagger = Tagger(tagger_config, source_topics=("copper",))
    # categories first (case-insensitive), even when keywords would say otherwise
    assert tagger.topics_for(["LITHIUM"], "gold gold gold") == (("lithium",), False)
    # then keywords, as whole words in title and text (not "golden")
    assert tagger.topics_for(["Misc"], "<p>A new battery plant</p>") == (("ev-supply-chain",), False)
    assert tagger.topics_for([], "a golden sunset") == (("copper",), False)
    # then the source's defaults; then the fallback, flagged
    assert Tagger(tagger_config).topics_for([], "nothing relevant") == (("general",), True)
