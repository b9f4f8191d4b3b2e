"""What an mj-text or mj-raw holds, compiled a top-level node at a time
(digest.render.mjml_html): the same HTML as MRML's for the whole document, and a section
that only recombines known nodes compiles nothing."""

from __future__ import annotations

import pytest

from digest.render import mjml_html, mjml_parts
from digest.render.mjml import compile_mjml
from digest.render.mjml_parts import MjmlParts

HEAD = '<mjml lang="en"><mj-head><mj-title>T</mj-title><mj-preview>P</mj-preview></mj-head><mj-body width="500px">'

#: Contents as the templates write them, and what could trip a cut: void and self-closing
#: tags, closing tags of other names, '>' and '/>' in text and in quoted values, a quoted
#: ">\n<", text around the nodes, an unclosed tag, a comment, entities, emoji.
CONTENTS = [
    '\n<h2 class="h">In this issue</h2>\n<p class="t"><a href="#topic-gold">Gold</a></p>\n<ul class="i">\n'
    '<li style="margin:0"><a href="#item-1">One</a></li>\n\n<li><a href="#item-2">Two &amp; more</a></li>\n\n</ul>\n',
    '<p>a<br>b</p>\n<p>c<br/>d<BR>e</p>\n</p>\n<img src="x.png" alt="x">\n<hr />\n<p>f</p>\n',
    '<p>a</p>\n<b>b</i>\n<p>text with > and /> in it</p>\n<p title="a>\n<b">c</p>\n<x/>\n<p>d</p>',
    'loose text\n<p>one</p>\n more text <b>x</b>\n<p>two</p>\n  \n<p>🚀 שלום</p>\n',
    '<p>open\n<p>never closed</p>\n<p>x</p>\n',
    '<p>a</p>\n<p title=\'b>\n<c\'>d</p>\n<p>e</p>\n',
    '\n<tr><td class="card">x</td></tr>\n<tr><td class="card">y</td></tr>\n',
]


@pytest.mark.parametrize("content", CONTENTS)
def test_pieces_compile_as_the_whole_content(content):
    pieces = mjml_html.pieces(content)
    assert "".join(pieces) == content
    whole = mjml_html.piece_html(content)
    written = [mjml_html.piece_html(piece) for piece in pieces]
    if whole is not None and None not in written:
        assert "".join(written) == whole


def test_where_contents_are_cut():
    assert mjml_html.pieces('\n<h2>x</h2>\n<p>y<br>z</p>\n<ul>\n<li>a</li>\n</ul>\ntail <b>t</b>\n<p>q</p>') == [
        "\n<h2>x</h2>\n", "<p>y<br>z</p>\n", "<ul>\n<li>a</li>\n</ul>\ntail <b>t</b>\n", "<p>q</p>"]
    assert mjml_html.pieces("<p>a</p><p>b</p>") == ["<p>a</p><p>b</p>"]  # no line between them


def test_a_piece_left_open_is_not_taken():
    assert mjml_html.piece_html("<p>open\n") is None
    assert mjml_html.piece_html('<p title="open>\n') is None
    assert mjml_html.piece_html("<p>closed</p>\n") == "<p>closed</p>"


def section(holder: str, content: str) -> str:
    return f'<mj-section><mj-column>{holder.format(content)}</mj-column></mj-section>'


HOLDERS = ['<mj-text padding="0 24px" css-class="contents-list">{}</mj-text>', "<mj-raw>{}</mj-raw>",
           '<mj-text font-size="15px">\n{}\n    </mj-text>', '<mj-text height="40px">{}</mj-text>']


@pytest.mark.parametrize("holder", HOLDERS)
@pytest.mark.parametrize("content", CONTENTS)
def test_sections_as_mrml_writes_them(holder, content):
    body = section(holder, content) + section('<mj-text>{}</mj-text>', "<p>second</p>\n")
    source = f"{HEAD}{body}</mj-body></mjml>"
    parts = MjmlParts()
    try:
        whole = compile_mjml(source, "t.mjml")
    except Exception as exc:
        with pytest.raises(type(exc)) as assembled:
            parts.compile(source, "t.mjml")
        assert str(assembled.value) == str(exc)
        return
    assert parts.compile(source, "t.mjml") == whole


@pytest.mark.parametrize("body", [
    section('<mj-text css-class="x" mj-class=\'y\'>{}</mj-text>', "<p>a</p>\n<p>b</p>"),  # other attribute quoting
    section("<mj-text>{}</mj-text>", "<!-- </mj-text> -->\n<p>a</p>"),
    section("<mj-text>{}</mj-text>", "<p>a</p>\n<script>var a = '</mj-text>';</script>"),
    section("<mj-raw>{}</mj-raw><mj-text />", "<p>a</p>\n<p>b</p>"),
    section("<mj-text>{}</mj-text>", f"<p>{mjml_html.MARK}</p>\n<p>b</p>"),
    section("<mj-text>{}</mj-text>", ""),
])
def test_holders_that_are_not_plain(body):
    source = f"{HEAD}{body}</mj-body></mjml>"
    try:
        whole = compile_mjml(source, "t.mjml")
    except Exception:
        return
    assert MjmlParts().compile(source, "t.mjml") == whole


def test_a_new_combination_of_known_lines_compiles_nothing(monkeypatch):
    """A contents list is a combination of a day's topics: once each line is known, a body
    with a new combination of them compiles nothing (the section's frame is known too)."""
    lines = [f'<p class="contents-topic"><a href="#topic-{n}">Topic {n}</a></p>\n<ul>\n<li>Item {n}</li>\n</ul>\n'
             for n in range(4)]
    holder = '<mj-text padding="0 24px" css-class="contents-list">\n<h2>In this issue</h2>\n{}</mj-text>'

    def source(*chosen: int) -> str:
        return f'{HEAD}{section(holder, "".join(lines[n] for n in chosen))}</mj-body></mjml>'

    parts = MjmlParts()
    for chosen in ((0, 1), (2, 3)):
        assert parts.compile(source(*chosen), "t.mjml") == compile_mjml(source(*chosen), "t.mjml")
    compiled = []
    real = mjml_parts.mjml2html
    monkeypatch.setattr(mjml_parts, "mjml2html", lambda *a, **k: compiled.append(1) or real(*a, **k))
    monkeypatch.setattr(mjml_html, "mjml2html", lambda *a, **k: compiled.append(1) or real(*a, **k))
    for chosen in ((0, 3), (1, 2, 3), (3, 0)):
        assert parts.compile(source(*chosen), "t.mjml") == compile_mjml(source(*chosen), "t.mjml")
    assert compiled == []
