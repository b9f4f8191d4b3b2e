"""A long digest opens with "In this issue": each topic and its headlines, linked to their
places in the email (the links resolve in Chromium), the same list in the text part, and
the email still under the clip budget. A short one has no list."""

from __future__ import annotations

import re

import pytest

from digest.content import fill_tokens

from .factories import contents_edition, single_item_edition

LINKS_JS = """() => Array.from(document.querySelectorAll('.contents-list a')).map(a => {
  const target = document.getElementById(decodeURIComponent(a.hash.slice(1)));
  return {href: a.getAttribute('href'), text: a.textContent.trim(),
          target: target ? target.tagName : null, targetText: target ? target.textContent.trim() : null};
})"""


@pytest.fixture(scope="module")
def email(renderer):
    return renderer.render(contents_edition())


def test_the_contents_list_names_every_topic_and_headline_in_order(email):
    selection = contents_edition()
    html = email.html
    block = html[html.index("In this issue"): html.index('id="topic-lithium"')]
    hrefs = re.findall(r'href="(#[^"]+)"', block)
    expected = []
    for section in selection.sections:
        expected.append(f"#topic-{section.slug}")
        expected += [f"#item-{item.id}" for item in section.briefings]
    expected += ["#videos", "#related"]
    assert hrefs == expected
    assert len([h for h in hrefs if h.startswith("#item-")]) == 13
    assert len([h for h in hrefs if h.startswith("#topic-")]) == 4
    # The sponsored piece (part 12, id 1011) is labelled with its payer here too (17(b)).
    assert '<strong class="sponsored-tag"' in block and block.count("SPONSORED") == 1
    entry = block[block.index("SPONSORED"): block.index("</li>", block.index("SPONSORED"))]
    assert 'href="#item-1011"' in entry and "Sponsored by Voltline Battery Metals (USD 4,500, cash)" in entry
    for section in selection.sections:
        for item in section.briefings:
            assert html.count(f'id="item-{item.id}"') == 1  # each anchor once


def test_the_text_part_has_the_list_too(email):
    selection = contents_edition()
    text = email.text
    start = text.index("IN THIS ISSUE")
    listing = text[start: text.index("== LITHIUM ==")]
    expected = []
    for section in selection.sections:
        expected.append(section.title)
        expected += [f"- {'[SPONSORED] ' if item.sponsor else ''}{item.title}" for item in section.briefings]
    expected += ["Video articles", "Related news"]
    lines = [line for line in listing.splitlines()[1:] if line.strip()]
    joined = " ".join(lines)
    for entry in expected:  # in order (a long headline wraps onto the next line)
        assert entry in joined
    positions = [joined.index(entry) for entry in expected]
    assert positions == sorted(positions)


def test_the_email_stays_under_the_clip_budget(email, config):
    assert len(email.html.encode("utf-8")) <= config.selection.max_html_bytes
    assert email.html.count('class="card-title"') == 13  # nothing demoted to make room


def test_a_short_email_has_no_list(renderer):
    short = renderer.render(single_item_edition())
    assert "In this issue" not in short.html and "IN THIS ISSUE" not in short.text


@pytest.mark.browser
def test_the_anchors_resolve_in_chromium(browser, email, token_values):
    page = browser.new_page(viewport={"width": 375, "height": 700})
    page.route("**/*", lambda route: route.abort())
    try:
        page.set_content(fill_tokens(email.dated("UTC").html, token_values), wait_until="load")
        links = page.evaluate(LINKS_JS)
        last = [link for link in links if link["href"].startswith("#item-")][-1]
        page.click(f'.contents-list a[href="{last["href"]}"]')
        page.wait_for_function("() => window.scrollY > 0")
        landed = page.evaluate(f"""() => {{
          const r = document.getElementById('{last["href"][1:]}').getBoundingClientRect();
          return {{top: r.top, height: window.innerHeight, hash: location.hash}};
        }}""")
    finally:
        page.close()
    assert len(links) == 4 + 13 + 2
    for link in links:
        assert link["target"] in ("H2", "H3"), link
        if link["target"] == "H3":
            assert link["targetText"] == link["text"]  # the headline is the card's title
        else:
            assert link["targetText"] == link["text"].upper()  # headings are in capitals
    assert -1 < landed["top"] < landed["height"]  # the card is on screen after the click
