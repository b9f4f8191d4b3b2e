"""Hostile feed content, rendered: no active content reaches the HTML or the MJML."""

from __future__ import annotations

import re

import nh3
import pytest

from digest.safe_html import clean_html as clean_body_html

from . import checklist
from .factories import HOSTILE_BODIES, hostile_edition


def _ingest_sanitise(body: str) -> str:
    try:
        from digest.ingest.sanitize import sanitize_html
    except ImportError:  # ingestion not merged yet: nh3's defaults stand in
        return nh3.clean(body)
    return sanitize_html(body, base_url="https://ridgeline.example/")


@pytest.mark.parametrize("sanitised_upstream", [False, True], ids=["raw", "ingest-sanitised"])
def test_hostile_bodies_render_inert(sanitised_upstream, renderer, to_message, config):
    bodies = tuple(_ingest_sanitise(b) for b in HOSTILE_BODIES) if sanitised_upstream else HOSTILE_BODIES
    selection = hostile_edition(bodies)
    email = renderer.render(selection)
    msg = to_message(email)
    checklist.check_sanitised(msg)
    checklist.check_document(msg, selection, config)
    # Markup the feed put in titles and disclosures is shown as text (&lt;...&gt;): drop it,
    # then nothing active may be left anywhere in the document.
    html = re.sub(r"&lt;.*?&gt;", "", email.html).lower()
    for needle in ("<script", "<iframe", "<form", "<object", "<embed", "<svg", "javascript:", "data:text",
                   "evil.example", "onerror", "onclick", "onload", "<mj-raw", "<base"):
        assert needle not in html, needle
    # Escaped, not dropped: the reader sees what the feed said.
    assert "&lt;script&gt;alert(" in email.html
    assert 'width="1600"' not in email.html  # a wide image cannot push the layout out
    # The video with a javascript: link was left out; its title never reached the email.
    assert "watch the video" not in html


def test_clean_body_keeps_prose():
    html = '<p>A <strong>bold</strong> <a href="https://x.example/a">link</a></p><ul><li>one</li></ul>'
    cleaned = clean_body_html(html)
    assert '<a href="https://x.example/a" rel="noopener noreferrer">link</a>' in cleaned
    assert "<strong>bold</strong>" in cleaned and "<li>one</li>" in cleaned


def test_clean_body_closes_every_tag_so_mjml_cannot_be_escaped():
    cleaned = clean_body_html("<p>unclosed <strong>bold </mj-text><mj-raw>x")
    assert "mj-" not in cleaned
    assert cleaned.count("<p>") == cleaned.count("</p>")


def test_every_image_gets_alt():
    assert clean_body_html('<img src="https://x.example/a.png">') == '<img alt="" src="https://x.example/a.png">'


def test_unsafe_links_dropped_and_a_safe_selection_passed_through_unchanged():
    from dataclasses import replace

    from digest.render.guard import drop_unsafe_urls
    from fakes.samples import sample_edition

    safe = sample_edition()
    # Nothing to drop: the very same object, so what is cached on it (fingerprints) is kept.
    assert drop_unsafe_urls(safe) is safe
    card = safe.sections[0].briefings[0]
    video = safe.videos[0]
    unsafe = replace(
        safe,
        sections=(replace(safe.sections[0], briefings=(replace(card, url="javascript:alert(1)"),)),),
        videos=(replace(video, url="javascript:alert(2)"), replace(video, id=999, thumbnail_url="data:text/html,x")),
    )
    dropped = drop_unsafe_urls(unsafe)
    assert dropped.sections[0].briefings[0].url is None  # a plain title, not a link
    assert [v.id for v in dropped.videos] == [999] and dropped.videos[0].thumbnail_url is None
    assert drop_unsafe_urls(unsafe) == dropped  # the cached URL checks answer the same the second time


def test_the_gates_keep_what_they_do_not_change():
    """A section the gates leave as it was is the same object (no copy to compare field by
    field in every body), and one they change is a new one."""
    from dataclasses import replace

    from digest.render.guard import drop_unsafe_urls, require_disclosures
    from fakes.samples import sample_edition

    safe = sample_edition()
    assert len(safe.sections) >= 2
    first = safe.sections[0]
    card = first.briefings[0]
    unsafe_first = replace(first, briefings=(replace(card, url="javascript:x"),) + first.briefings[1:])
    unsafe = replace(safe, sections=(unsafe_first,) + safe.sections[1:])
    dropped = drop_unsafe_urls(unsafe)
    assert dropped.sections[0].briefings[0].url is None
    assert dropped.sections[0].briefings[1:] == first.briefings[1:]
    assert all(a is b for a, b in zip(dropped.sections[1:], safe.sections[1:], strict=True))
    undisclosed = replace(safe, sections=(replace(first, briefings=(replace(card, author_disclosure=""),)
                                                  + first.briefings[1:]),) + safe.sections[1:])
    kept = require_disclosures(undisclosed, strict=False)
    assert kept.sections[0].briefings == first.briefings[1:]
    assert all(a is b for a, b in zip(kept.sections[1:], safe.sections[1:], strict=True))
    assert require_disclosures(safe, strict=False) is safe and drop_unsafe_urls(safe) is safe
