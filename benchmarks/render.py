"""How long one rendered body takes, and where the time goes.

    python benchmarks/render.py [--repeat N]

Renders the sample edition and the 200-item edition (which goes through the size budget,
so it is several HTML renders) with one reused Renderer, as production does, and prints
ms per rendered body and the share of each stage: Jinja, MJML, premailer, text.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

from digest.render import Renderer
from digest.render.samples import large_edition, sample_config, sample_edition

STAGES = ("jinja", "mjml", "premailer", "text")


def bench(renderer: Renderer, name: str, selection, repeat: int) -> None:
    renderer.render(selection)  # warm caches (cssutils parse cache, compiled templates)
    totals = dict.fromkeys(STAGES, 0.0)
    walls: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        rendered = renderer.render(selection)
        walls.append(time.perf_counter() - started)
        for stage in STAGES:
            totals[stage] += renderer.timings.seconds[stage]
    staged = sum(totals.values()) or 1.0
    shares = "  ".join(f"{stage} {100 * totals[stage] / staged:4.1f}%" for stage in STAGES)
    print(
        f"{name:<22} {1000 * statistics.median(walls):7.1f} ms/body (median of {repeat})  "
        f"{renderer.timings.html_renders} HTML render(s)  {len(rendered.html.encode()) / 1000:5.1f} KB  {shares}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the budget logs each fit at INFO
    renderer = Renderer(sample_config())
    bench(renderer, "sample edition", sample_edition(), args.repeat)
    bench(renderer, "200 items (budgeted)", large_edition(200), max(3, args.repeat // 4))


if __name__ == "__main__":
    main()
