"""The styles table: parsed as written, bad lines named, and a briefing's own HTML given
its rules by premailer (the one job premailer still has)."""

from __future__ import annotations

import pytest

from digest.render import RenderError, Renderer
from digest.render.styles import parse_styles

from .factories import single_item_edition
from .test_pipeline import _copy_templates

TABLE = """
[elements]
card_title = margin:0 0 4px; font-size:20px;
meta = color:#5f6b7a
[briefing-body]
p = margin:0 0 12px
td, th = padding:4px
"""


def test_table_is_parsed_as_written():
    styles = parse_styles(TABLE)
    assert vars(styles.elements) == {"card_title": "margin:0 0 4px; font-size:20px", "meta": "color:#5f6b7a"}
    assert styles.body_css == (".briefing-body p { margin:0 0 12px }\n"
                               ".briefing-body td, .briefing-body th { padding:4px }")


@pytest.mark.parametrize("text, message", [
    ("[colours]\nx = color:red", r"styles\.j2:1: unknown section \[colours\]"),
    ("x = color:red", r"styles\.j2:1: expected 'name = declarations' under a \[section\]"),
    ("[elements]\nx color red", r"styles\.j2:2: expected 'name = declarations'"),
    ('[elements]\nx = font-family:"Evil"><script>', r"styles\.j2:2: a style cannot hold"),
])
def test_a_bad_line_is_named(text, message):
    with pytest.raises(RenderError, match=message):
        parse_styles(text)


def test_a_briefing_body_gets_its_rules_inline(renderer):
    safe_body = renderer.env.filters["safe_body"]
    html = '<p>Hi <a href="https://x.example/">there</a></p><ul><li>one</li></ul><script>x()</script>'
    assert safe_body(html) == (
        '<p style="margin:0 0 12px">Hi <a href="https://x.example/" rel="noopener noreferrer" '
        'style="color:#12355b">there</a></p><ul style="margin:0 0 12px; padding-left:22px">'
        '<li style="margin:0 0 4px">one</li></ul>'
    )


def test_a_misspelt_style_name_is_an_error_naming_the_template(tmp_path, config):
    templates = _copy_templates(tmp_path)
    card = templates / "partials" / "card_heading.mjml.j2"
    card.write_text(card.read_text().replace("css.meta", "css.metta"))
    with pytest.raises(RenderError, match=r"base\.mjml\.j2: .*metta"):
        Renderer(config, templates).render(single_item_edition())
