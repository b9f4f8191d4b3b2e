"""A publisher's brand colours keep the email's text readable (WCAG AA, 4.5:1): at config
load each colour the templates draw text with (or behind text) is checked against what it
meets, and one that fails is moved to the nearest passing shade of the same hue, with a
warning naming the key, the ratio and the shade (the README says why adjusted rather
than refused). The contrast formula itself is checked against published values first."""

from __future__ import annotations

import logging
import re

import pytest

from digest.contrast import luminance, nearest_passing, ratio
from digest.render import Renderer
from digest.settings import bundled_config_path, load_publication_config

from .factories import sample_edition


def test_contrast_formula_matches_published_values():
    assert ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert round(ratio("#767676", "#ffffff"), 2) == 4.54  # WebAIM: the lightest grey passing on white
    assert round(ratio("#777777", "#ffffff"), 2) == 4.48  # ... and the first that fails
    assert luminance("rgb(255, 255, 255)") == pytest.approx(1.0)
    assert round(ratio("#d9822b", "#ffffff"), 2) == 2.93  # issue 17's accent: 2.92-2.93:1
    with pytest.raises(ValueError, match="not a colour"):
        ratio("orange", "#ffffff")


def _config(tmp_path, **branding):
    text = bundled_config_path().read_text(encoding="utf-8")
    for key, value in branding.items():
        text, n = re.subn(rf'(?m)^{key} = "#[0-9a-fA-F]{{6}}"$', f'{key} = "{value}"', text)
        assert n == 1, key
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return load_publication_config(path)


def test_the_bundled_colours_pass_quietly(caplog):
    with caplog.at_level(logging.WARNING, logger="digest.settings"):
        config = load_publication_config(bundled_config_path())
    assert caplog.records == []
    assert config.branding.accent_color == "#aa6622"


def test_a_too_light_accent_is_adjusted_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="digest.settings"):
        config = _config(tmp_path, accent_color="#d9822b")
    [record] = caplog.records
    assert record.getMessage() == (
        "branding.accent_color #d9822b against #ffffff (section headings, drawn in the accent on the "
        "white cards) has contrast 2.93:1, under WCAG AA's 4.5:1 for text: using #aa6622 (4.53:1) instead; "
        "set branding.accent_color to a passing colour to silence this"
    )
    # By hand: #d9822b = (217, 130, 43) mixed 55/256 of the way to black is (170.4, 102.1,
    # 33.8) -> #aa6622, 4.53:1; at 54/256 it is (171.2, 102.6, 33.9) -> #ab6722, under 4.5.
    assert config.branding.accent_color == "#aa6622"
    assert ratio("#ab6722", "#ffffff") < 4.5 <= ratio("#aa6622", "#ffffff")
    # The email draws its headings in the adjusted shade, and a passing one in the dark.
    html = Renderer(config).render(sample_edition()).html
    heading = re.search(r'<h2 class="section-heading" id="topic-lithium" style="([^"]*)"', html).group(1)
    assert "color:#aa6622;" in heading.replace(" ", "")  # the styles table writes it as configured
    dark = config.branding.accent_on_dark
    assert f"h2.section-heading, .dm-surface .contents-topic a {{ color: {dark} !important; }}" in html
    assert ratio(dark, "#161b22") >= 4.5


def test_a_too_light_primary_and_a_too_dark_background_are_adjusted(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="digest.settings"):
        config = _config(tmp_path, primary_color="#7fb2e5", background_color="#9aa0a6")
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(" ", 1)[0] for m in messages] == [
        "branding.primary_color", "branding.primary_color", "branding.background_color"]
    assert "the masthead's date line" in messages[1] and "the footer's text" in messages[2]
    primary, background = config.branding.primary_color, config.branding.background_color
    for text, surface in (("#ffffff", primary), (primary, "#ffffff"), ("#dbe4ee", primary), ("#4a5563", background)):
        assert ratio(text, surface) >= 4.5, (text, surface)
    # Same hue: the primary was darkened (each channel scaled alike), the background lightened.
    r, g, b = (int(primary[i:i + 2], 16) for i in (1, 3, 5))
    assert (r / 0x7f, g / 0xb2) == pytest.approx((b / 0xe5, b / 0xe5), abs=0.02) and b < 0xe5
    assert luminance(background) > luminance("#9aa0a6")


def test_nearest_passing_leaves_a_passing_colour_alone():
    assert nearest_passing("#12355b", "#ffffff") == "#12355b"
