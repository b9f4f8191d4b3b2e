"""How long one rendered body takes, and where the time goes.

    python benchmarks/render.py [--repeat N] [--selections N] [--reference] [--compare N]

Renders the sample edition and the 200-item edition (which goes through the size budget,
so it is several HTML renders) with one reused Renderer, as production does, and prints
ms per rendered body and the share of each stage: Jinja, MJML, premailer, text.

``--selections N`` adds an edition-like workload: N distinct selections (seeded), each
the briefings, videos and related headlines of 1 to 6 topics within a reading window, out
of one day's ~340 items, each rendered once by one fresh Renderer, as ``digest send``
plans an edition. ``--reference`` renders with ``Renderer(fast=False)`` (the whole-document
inlining path the fast path must match byte for byte). ``--compare N`` renders N
edition-like selections both ways and counts the bodies that are byte-identical (exit
status 1 if one is not); the test suite compares 150 (``tests/render/test_assembly.py``).
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import time
from pathlib import Path

from digest.content import Selection, TopicSection
from digest.render import Renderer

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

STAGES = ("jinja", "mjml", "premailer", "text")
TOPIC_COUNT_WEIGHTS = {1: 45, 2: 33, 3: 15, 4: 4, 5: 2, 6: 1}


def _shares(totals: dict[str, float]) -> str:
    staged = sum(totals.values()) or 1.0
    return "  ".join(f"{stage} {100 * totals[stage] / staged:4.1f}%" for stage in STAGES)


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
    print(
        f"{name:<22} {1000 * statistics.median(walls):7.1f} ms/body (median of {repeat})  "
        f"{renderer.timings.html_renders} HTML render(s)  {len(rendered.html.encode()) / 1000:5.1f} KB  {_shares(totals)}"
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


def bench_edition(count: int, fast: bool) -> None:
    selections = edition_selections(count)
    renderer = Renderer(sample_config(), fast=fast)
    totals = dict.fromkeys(STAGES, 0.0)
    started = time.perf_counter()
    for selection in selections:
        renderer.render(selection)
        for stage in STAGES:
            totals[stage] += renderer.timings.seconds[stage]
    seconds = time.perf_counter() - started
    print(f"{count} distinct selections  {1000 * seconds / count:7.1f} ms/body (one fresh Renderer, each once)  "
          f"{_shares(totals)}")


def compare(count: int) -> int:
    """Each of ``count`` edition-like selections rendered by the fast path (fragments,
    assembly) and by ``Renderer(fast=False)``: how many bodies are the same to the byte."""
    config = sample_config()
    fast, reference = Renderer(config), Renderer(config, fast=False)
    same = 0
    for selection in edition_selections(count):
        got, expected = fast.render(selection), reference.render(selection)
        same += all(getattr(got, part) == getattr(expected, part) for part in ("subject", "preheader", "html", "text"))
    print(f"{count} edition-like selections: {same} byte-identical to the reference path (subject, preheader, "
          "HTML, text)")
    return 0 if same == count else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--selections", type=int, default=0, help="also render N distinct selections once each")
    parser.add_argument("--reference", action="store_true", help="the whole-document path (Renderer(fast=False))")
    parser.add_argument("--compare", type=int, default=0,
                        help="only compare N edition-like selections with the reference path, byte for byte")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the budget logs each fit at INFO
    if args.compare:
        raise SystemExit(compare(args.compare))
    fast = not args.reference
    print("path:", "fast (fragments inlined once)" if fast else "reference (whole documents)")
    if args.selections:  # first, while the process-wide fragment caches are cold
        bench_edition(args.selections, fast)
    renderer = Renderer(sample_config(), fast=fast)
    bench(renderer, "sample edition", sample_edition(), args.repeat)
    bench(renderer, "200 items (budgeted)", large_edition(200), max(3, args.repeat // 4))


if __name__ == "__main__":
    main()
