"""The stages on their own: escaping, strict variables, MJML errors, inlining, text."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from digest.content import Selection, TopicSection
from digest.paths import email_templates_dir
from digest.render import Renderer, RenderError
from digest.render.mjml import compile_mjml, lint
from digest.render.text import html_to_text

from .factories import SPONSOR, make_briefing, sample_edition, single_item_edition


def _copy_templates(tmp_path: Path) -> Path:
    target = tmp_path / "email"
    for path in email_templates_dir().rglob("*"):
        if path.is_file():
            (target / path.relative_to(email_templates_dir())).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(email_templates_dir())).write_text(path.read_text())
    return target


def test_titles_are_escaped_in_html_but_not_in_text(renderer):
    item = replace(make_briefing(0, 0), title='AT&T <b>"wins"</b>')
    selection = Selection(single_item_edition().edition_date, ("lithium",), (TopicSection("lithium", "Lithium", (item,)),))
    email = renderer.render(selection)
    assert "AT&amp;T &lt;b&gt;" in email.html and "<b>\"wins\"" not in email.html
    assert 'AT&T <b>"wins"</b>' in email.text
    # The subject and preheader are plain text: the title as written, never escaped.
    assert email.subject == "Ridgeline Resource Briefing: 1 briefing on Lithium — 27 Nov 2026"
    assert email.preheader.startswith('AT&T <b>"wins"</b>'), email.preheader


def test_misspelt_variable_is_an_error_naming_the_template(tmp_path, config):
    templates = _copy_templates(tmp_path)
    footer = templates / "partials" / "footer.mjml.j2"
    footer.write_text(footer.read_text().replace("{{ disclaimer }}", "{{ disclaimr }}"))
    with pytest.raises(RenderError, match="disclaimr"):
        Renderer(config, templates).render(single_item_edition())


def test_template_syntax_error_names_file_and_line(tmp_path, config):
    templates = _copy_templates(tmp_path)
    (templates / "subject.txt.j2").write_text("{{ pub.name }\n")
    with pytest.raises(RenderError, match=r"subject\.txt\.j2:1"):
        Renderer(config, templates)


def test_mjml_error_names_the_template():
    with pytest.raises(RenderError, match=r"^base\.mjml\.j2: MJML did not compile"):
        compile_mjml("<mjml><mj-body><mj-section><mj-column><mj-text>x</mj-column>", "base.mjml.j2")
    # MRML's offsets are turned into a line of the generated MJML.
    with pytest.raises(RenderError, match=r"^x\.mjml\.j2: .*generated MJML line 2"):
        compile_mjml("<mjml>\n<mj-head><mj-title>x</mj-title>  </mj-head><mj-body></mj-body></mjml>", "x.mjml.j2")


def test_mjml_lint_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="digest.render.mjml"):
        compile_mjml("<mjml><mj-body><mj-wat>x</mj-wat></mj-body></mjml>", "odd.mjml.j2")
    assert "odd.mjml.j2: unknown MJML element <mj-wat>" in caplog.text
    assert any('lang="und"' in w for w in lint('<html lang="und"></html>'))


def test_strict_config_blocks_an_item_without_disclosure(config):
    item = replace(make_briefing(0, 0), author_disclosure=None)
    selection = Selection(single_item_edition().edition_date, ("lithium",), (TopicSection("lithium", "Lithium", (item, make_briefing(7, 0))),))
    strict = config.model_copy(update={"selection": config.selection.model_copy(update={"strict": True})})
    with pytest.raises(RenderError, match=r"briefing 1000 .*author disclosure"):
        Renderer(strict).render(selection)


def test_lenient_config_leaves_it_out_and_logs_it(renderer, caplog):
    item = replace(make_briefing(0, 0), attribution="  ")
    selection = Selection(single_item_edition().edition_date, ("lithium",), (TopicSection("lithium", "Lithium", (item, make_briefing(7, 0))),))
    with caplog.at_level(logging.WARNING):
        email = renderer.render(selection)
    assert "briefing 1000" in caplog.text and "source attribution" in caplog.text
    assert item.title not in email.html and item.title not in email.text
    assert "1 briefing on Lithium" in email.subject


def test_sponsor_disclosure_without_full_text_lists_the_facts(renderer):
    sponsor = replace(SPONSOR, text=None)
    item = replace(make_briefing(3, 3), sponsor=sponsor)
    selection = Selection(single_item_edition().edition_date, ("ev-supply-chain",), (TopicSection("ev-supply-chain", "EV Supply Chain", (item,)),))
    email = renderer.render(selection)
    for part in (email.html, email.text):
        assert "Paid by: Voltline Battery Metals; Amount: USD 4,500; Form: cash." in " ".join(part.split())


def test_note_is_shown(renderer):
    selection = Selection(single_item_edition().edition_date, ("lithium",), (), note="Nothing new in your topics today.")
    email = renderer.render(selection)
    assert "Nothing new in your topics today." in email.html and "Nothing new in your topics today." in email.text
    assert email.subject == "Ridgeline Resource Briefing: Nothing new in your topics today. — 27 Nov 2026"


def test_body_html_to_text():
    text = html_to_text('<p>One <a href="https://x.example/a">link</a>.</p><ul><li>a</li><li>b</li></ul><p>End</p>')
    assert text == "One link (https://x.example/a).\n\n- a\n- b\n\nEnd"


def test_renderer_is_reusable_and_deterministic(renderer):
    first = renderer.render(sample_edition())
    second = renderer.render(sample_edition())
    assert first == second
