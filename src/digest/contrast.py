"""WCAG 2 contrast of two ``#rrggbb`` colours, and the nearest shade of a colour that
reaches a ratio against a fixed one.

The formula is the spec's own (relative luminance of sRGB, ratio (L1 + 0.05) / (L2 +
0.05)); it is a dozen lines, checked against the spec's worked values in the tests, so no
library is taken for it. Used at config load (:mod:`digest.settings`) and by the browser
tests on computed colours.
"""

from __future__ import annotations

import re

#: WCAG 2 AA for normal text (headings under 18.66 px bold count as normal text).
AA_TEXT = 4.5
_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")
_RGB = re.compile(r"rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)")


def rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` or a computed ``rgb(r, g, b)`` as three 0-255 channels."""
    match = _HEX.match(colour.strip())
    if match:
        value = match.group(1)
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    match = _RGB.match(colour.strip())
    if match:
        return int(match.group(1)), int(match.group(2)), int(match.group(3))
    raise ValueError(f"not a colour: {colour!r} (expected #rrggbb or rgb(r, g, b))")


def hex_colour(channels: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in channels)


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance, 0 (black) to 1 (white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(first: str, second: str) -> float:
    """Contrast ratio, 1 to 21, in either order."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def nearest_passing(colour: str, against: str, minimum: float = AA_TEXT) -> str:
    """``colour`` itself when it reaches ``minimum`` against ``against``; otherwise the
    least change of it that does, keeping its hue: mixed towards black when ``against``
    is light, towards white when it is dark (each step of 1/256 of the way, so the
    result is the passing shade closest to the original)."""
    if ratio(colour, against) >= minimum:
        return colour
    target = (0, 0, 0) if luminance(against) > 0.18 else (255, 255, 255)
    start = rgb(colour)
    for step in range(1, 257):
        t = step / 256
        candidate = hex_colour(tuple(c + (e - c) * t for c, e in zip(start, target)))
        if ratio(candidate, against) >= minimum:
            return candidate
    return hex_colour(target)
