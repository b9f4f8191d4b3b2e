"""The hidden preheader: first in the body (clients show it as the inbox snippet), hidden
by display and size only, with no tiny font and no invisible colour, which is what
SpamAssassin's HTML_FONT_LOW_CONTRAST / FONT_INVIS rules read as hidden spam text."""

from __future__ import annotations

import re

from .factories import sample_edition


def test_the_preheader_is_hidden_without_a_tiny_font_or_an_invisible_colour(renderer):
    email = renderer.render(sample_edition())
    first = re.search(r"<body[^>]*>\s*<div style=\"([^\"]*)\">([^<]*)</div>", email.html)
    assert first is not None, "the preheader is not the body's first element"
    style, text = first.groups()
    assert text == email.preheader != ""
    assert style == "display:none;max-height:0px;max-width:0px;overflow:hidden;mso-hide:all;"
    assert "font-size" not in style and "color" not in style and "opacity" not in style
