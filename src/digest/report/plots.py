"""Plots drawn on the server as inline SVG: the editor's report page loads nothing, from
this site or another (no script, no chart library, no image request).

Each function returns one ``<svg>`` element as :class:`markupsafe.Markup`, every label
escaped; the charts are plain enough to read at a glance: bars per edition, lines for
rates over editions, dashed guide lines for limits.
"""

from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 40
COLOURS = ("#1f6feb", "#2da44e", "#d4a72c", "#cf222e", "#8250df")


def _frame(title: str, body: list[str], legend: Sequence[str]) -> Markup:
    keys = "".join(
        f'<rect x="{LEFT + 150 * n}" y="{HEIGHT - 12}" width="10" height="10" fill="{COLOURS[n % len(COLOURS)]}"/>'
        f'<text x="{LEFT + 150 * n + 14}" y="{HEIGHT - 3}" font-size="11">{escape(name)}</text>'
        for n, name in enumerate(legend)
    )
    return Markup(
        f'<svg class="plot" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">'
        f"<title>{escape(title)}</title>{''.join(body)}{keys}</svg>"
    )


def _axes(top_value: float, labels: Sequence[str], as_percent: bool) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#52606d"/>',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#52606d"/>']
    for fraction in (0.0, 0.5, 1.0):
        value = top_value * fraction
        if as_percent:
            text = f"{100 * value:.2g}%"
        else:
            text = f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{text}</text>')
    step = max(1, len(labels) // 8)
    for n in range(0, len(labels), step):
        x = _x(n, len(labels))
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" font-size="10" text-anchor="middle">'
                     f"{escape(labels[n])}</text>")
    return parts


def _x(n: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + span * (n + 0.5) / max(count, 1)


def _y(value: float, top_value: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h * (1 - (value / top_value if top_value else 0))


def bar_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[int]]) -> Markup:
    """Grouped bars: one group per label, one bar per series."""
    top_value = max([v for values in series.values() for v in values] + [1])
    body = _axes(top_value, labels, as_percent=False)
    group = (WIDTH - LEFT - RIGHT) / max(len(labels), 1) * 0.8
    bar = group / max(len(series), 1)
    for s, (name, values) in enumerate(series.items()):
        for n, value in enumerate(values):
            x = _x(n, len(labels)) - group / 2 + s * bar
            y = _y(value, top_value)
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" '
                        f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                        f"<title>{escape(labels[n])} {escape(name)}: {value:,}</title></rect>")
    return _frame(title, body, list(series))


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
               guides: dict[str, float] | None = None) -> Markup:
    """Rates over editions (None leaves a gap), with dashed guide lines (limits)."""
    guides = guides or {}
    values = [v for vs in series.values() for v in vs if v is not None]
    top_value = max(values + list(guides.values()) + [0.0001]) * 1.1
    body = _axes(top_value, labels, as_percent=True)
    for g, (name, value) in enumerate(guides.items()):
        y = _y(value, top_value)
        body.append(f'<line class="guide" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                    f'stroke="#cf222e" stroke-dasharray="6 4"/>'
                    f'<text x="{WIDTH - RIGHT - 2 - 36 * g}" y="{y - 3:.1f}" font-size="10" text-anchor="end" '
                    f'fill="#cf222e">{escape(name)}</text>')
    for s, (name, points) in enumerate(series.items()):
        colour = COLOURS[s % len(COLOURS)]
        run: list[str] = []
        for n, value in [*enumerate(points), (len(points), None)]:
            if value is not None:
                run.append(f"{_x(n, len(labels)):.1f},{_y(value, top_value):.1f}")
                body.append(f'<circle cx="{_x(n, len(labels)):.1f}" cy="{_y(value, top_value):.1f}" r="3" '
                            f'fill="{colour}"><title>{escape(labels[n])} {escape(name)}: {100 * value:.2f}%'
                            f"</title></circle>")
            elif run:
                body.append(f'<polyline class="line" points="{" ".join(run)}" fill="none" stroke="{colour}" '
                            f'stroke-width="2"/>')
                run = []
    return _frame(title, body, list(series))


def horizontal_bars(title: str, rows: Sequence[tuple[str, int]]) -> Markup:
    """One bar per row (the top clicked items), longest first as given."""
    top_value = max([n for _, n in rows] + [1])
    height = TOP + 22 * max(len(rows), 1) + 8
    body = []
    for n, (label, value) in enumerate(rows):
        y = TOP + 22 * n
        width = (WIDTH - 320) * value / top_value
        body.append(f'<text x="300" y="{y + 14}" font-size="11" text-anchor="end">{escape(label[:48])}</text>'
                    f'<rect class="bar" x="306" y="{y + 3}" width="{width:.1f}" height="14" fill="{COLOURS[0]}"/>'
                    f'<text x="{310 + width:.1f}" y="{y + 14}" font-size="11">{value:,}</text>')
    if not rows:
        body.append(f'<text x="{LEFT}" y="{TOP + 14}" font-size="12">no clicks yet</text>')
    return Markup(
        f'<svg class="plot" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif"><title>{escape(title)}</title>'
        f"{''.join(body)}</svg>"
    )
