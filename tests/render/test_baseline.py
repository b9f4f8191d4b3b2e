"""Before/after: the fixed editions of :mod:`.baseline_editions`, rendered by the code
under test, against what the old render path made of them (``baseline/``, written by
``make_baseline.py`` on the commit in ``baseline/MADE-WITH``).

After normalising whitespace: the same subject and preheader, the same text part, the
same links (every href and src, in order) and the same visible text (Chromium's
``innerText``); and full-page screenshots at 375 and 600 px (and in the dark scheme for
some) differing in at most 0.5% of pixels. Both screenshots are taken in this run, the
baseline's from its stored HTML, so the machine's fonts are the same on both sides.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .baseline_editions import DARK, WIDTHS, editions
from .screens import differing_share, links, normalise, screenshot, visible_text

BASELINE = Path(__file__).resolve().parent / "baseline"
MAX_DIFFERING = 0.005
NAMES = tuple(editions())


@pytest.fixture(scope="module")
def rendered(renderer):
    return {name: renderer.render(selection) for name, selection in editions().items()}


def _stored(name: str, suffix: str) -> str:
    return (BASELINE / f"{name}{suffix}").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_same_words_and_links(name, rendered):
    email, meta = rendered[name], json.loads(_stored(name, ".json"))
    assert (email.subject, email.preheader) == (meta["subject"], meta["preheader"])
    assert normalise(email.text) == normalise(_stored(name, ".txt"))
    assert links(email.html) == links(_stored(name, ".html"))


@pytest.mark.browser
@pytest.mark.parametrize("name", NAMES)
def test_looks_the_same_in_chromium(name, rendered, browser):
    before, after = _stored(name, ".html"), rendered[name].html
    assert visible_text(browser, after) == visible_text(browser, before)
    shots = [(width, False) for width in WIDTHS] + [(width, True) for width in WIDTHS if name in DARK]
    for width, dark in shots:
        share = differing_share(screenshot(browser, before, width, dark), screenshot(browser, after, width, dark))
        assert share <= MAX_DIFFERING, f"{name} at {width} px{' (dark)' if dark else ''}: {share:.2%} of pixels differ"
