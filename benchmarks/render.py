"""How long one rendered body takes, and where the time goes.

    python benchmarks/render.py [--repeat N] [--selections N]

Renders the sample edition and the 200-item edition (which goes through the size budget,
so it is several HTML renders) with one reused Renderer, as production does, and prints
ms per rendered body and the share of each stage: Jinja (with premailer on a briefing
body seen for the first time), MJML (with its lint), text. The stages are timed here, by
wrapping the renderer's steps: the renderer itself keeps no clock.

``--selections N`` (default 1,000) is the edition workload: N distinct selections
(seeded), each the briefings, videos and related headlines of 1 to 6 topics within a
reading window, out of one day's ~340 items, each rendered once by one fresh Renderer, as
``digest send`` plans an edition. In the same run, the same bodies with premailer over
each whole body (the styles table's briefing-body rules inlined into the whole document,
the other way to do the one job premailer still has): its ms per body on top of the render.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import statistics
import sys
import time
from pathlib import Path

from digest.content import Selection, TopicSection
from digest.render import Renderer
from digest.render import renderer as renderer_module
from digest.render.inline import make_premailer
from digest.render.mjml_parts import MjmlParts

# The sample editions are test support (tests/fakes/samples.py), shared with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.samples import (  # noqa: E402
    COMPANIES,
    EDITION_DATE,
    HOLDING,
    SPONSOR,
    large_edition,
    make_briefing,
    make_related,
    make_video,
    sample_config,
    sample_edition,
)

STAGES = ("jinja", "mjml", "text")
TOPIC_COUNT_WEIGHTS = {1: 45, 2: 33, 3: 15, 4: 4, 5: 2, 6: 1}


class StageClock:
    """Seconds per stage and HTML renders (MJML compiles) since :meth:`reset`, from
    wrappers around the renderer's template rendering and MJML compile (installed by
    :meth:`install`, in this process only)."""

    def __init__(self) -> None:
        self.reset()

    def install(self) -> None:
        render_template, compile_mjml = Renderer._render_template, MjmlParts.compile

        def timed_template(renderer, name, context):
            started = time.perf_counter()
            try:
                return render_template(renderer, name, context)
            finally:
                self.seconds["text" if name == renderer_module.TEXT_TEMPLATE else "jinja"] += time.perf_counter() - started

        def timed_mjml(parts, source, template):
            started = time.perf_counter()
            try:
                return compile_mjml(parts, source, template)
            finally:
                self.seconds["mjml"] += time.perf_counter() - started
                self.html_renders += 1

        Renderer._render_template, MjmlParts.compile = timed_template, timed_mjml

    def reset(self) -> None:
        self.seconds, self.html_renders = dict.fromkeys(STAGES, 0.0), 0


CLOCK = StageClock()  # installed by main()


def _shares(totals: dict[str, float]) -> str:
    staged = sum(totals.values()) or 1.0
    return "  ".join(f"{stage} {100 * totals[stage] / staged:4.1f}%" for stage in STAGES)


def bench(renderer: Renderer, name: str, selection, repeat: int) -> None:
    renderer.render(selection)  # warm caches (cssutils parse cache, compiled templates)
    totals = dict.fromkeys(STAGES, 0.0)
    walls: list[float] = []
    for _ in range(repeat):
        CLOCK.reset()
        started = time.perf_counter()
        rendered = renderer.render(selection)
        walls.append(time.perf_counter() - started)
        for stage in STAGES:
            totals[stage] += CLOCK.seconds[stage]
    print(
        f"{name:<22} {1000 * statistics.median(walls):7.1f} ms/body (median of {repeat})  "
        f"{CLOCK.html_renders} HTML render(s)  {len(rendered.html.encode()) / 1000:5.1f} KB  {_shares(totals)}"
    )


def edition_selections(count: int, seed: int = 6) -> list[Selection]:
    """``count`` distinct selections out of one day's 300 briefings, 40 videos, 20 headlines."""
    rng = random.Random(seed)
    topics = [(slug, title) for _, slug, title, *_ in COMPANIES]
    briefings = []
    for n in range(300):
        company = rng.randrange(len(COMPANIES))
        briefings.append(make_briefing(n, company, sponsor=SPONSOR if rng.random() < 0.04 else None,
                                       disclosure=HOLDING if rng.random() < 0.1 else "The author holds no position."))
    videos = [make_video(i) for i in range(40)]
    related = [make_related(i) for i in range(20)]
    seen: set[str] = set()
    selections: list[Selection] = []
    while len(selections) < count:
        k = rng.choices(list(TOPIC_COUNT_WEIGHTS), weights=list(TOPIC_COUNT_WEIGHTS.values()))[0]
        chosen = sorted(rng.sample(topics, k))
        window = rng.randint(6, 24)  # hours of news since the reader's last edition
        newest = rng.randint(0, 3)
        in_window = [b for b in briefings if newest <= b.id - 1000 < newest + window * 12]
        sections = tuple(
            TopicSection(slug, title, tuple(b for b in in_window if b.topics == (slug,))[: window // 3])
            for slug, title in chosen
        )
        sections = tuple(s for s in sections if s.briefings)
        slugs = {slug for slug, _ in chosen}
        selection = Selection(
            edition_date=EDITION_DATE,
            topics=tuple(sorted(slugs)),
            sections=sections,
            videos=tuple(v for v in videos if v.topics[0] in slugs and v.id - 5000 < window)[:4],
            related=tuple(rng.sample(related, rng.choice([0, 3, 5, 8]))),
            recommended=tuple(b for b in in_window[:40] if b.topics[0] not in slugs)[:2],
        )
        if selection.fingerprint() not in seen:
            seen.add(selection.fingerprint())
            selections.append(selection)
    return selections


_STYLE = re.compile(r"<style\b([^>]*)>", re.IGNORECASE)


def whole_body_premailer(html: str, css: str) -> str:
    """``html`` with ``css`` inlined by premailer into the whole document, as the render
    path did before it was rebuilt: MJML's own style blocks left alone (inlining its resets
    would change the email), the inlined block dropped, the doctype lxml drops put back."""
    at = html.index("</head>")
    marked = _STYLE.sub(r'<style\1 data-premailer="ignore">', html[:at]) + f"<style>{css}</style>" + html[at:]
    inlined = make_premailer(marked).transform(pretty_print=False)
    return "<!doctype html>" + inlined.replace(f"<style>{css}</style>", "")


def bench_edition(count: int) -> None:
    """ms per body, wall clock and CPU time (the CPU figure is the steadier one on a
    shared machine)."""
    selections = edition_selections(count)
    renderer = Renderer(sample_config())
    bodies = []
    wall, cpu = time.perf_counter(), time.process_time()
    CLOCK.reset()
    for selection in selections:
        bodies.append(renderer.render(selection).html)
    totals = CLOCK.seconds
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{count} distinct selections, one fresh Renderer, each once: {1000 * wall / count:6.2f} ms/body "
          f"({1000 * cpu / count:.2f} ms CPU)  {_shares(totals)}")
    premailer_wall, premailer_cpu = time.perf_counter(), time.process_time()
    for html in bodies:
        whole_body_premailer(html, renderer.styles.body_css)
    premailer_wall, premailer_cpu = time.perf_counter() - premailer_wall, time.process_time() - premailer_cpu
    print(f"the same with premailer over each whole body:       {1000 * (wall + premailer_wall) / count:6.2f} ms/body "
          f"({1000 * (cpu + premailer_cpu) / count:.2f} ms CPU; premailer {1000 * premailer_wall / count:.2f} ms of it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--selections", type=int, default=1000, help="render N distinct selections once each")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the budget logs each fit at INFO
    CLOCK.install()
    if args.selections:  # first, while the process-wide body cache is cold
        bench_edition(args.selections)
    renderer = Renderer(sample_config())
    bench(renderer, "sample edition", sample_edition(), args.repeat)
    bench(renderer, "200 items (budgeted)", large_edition(200), max(3, args.repeat // 4))


if __name__ == "__main__":
    main()
