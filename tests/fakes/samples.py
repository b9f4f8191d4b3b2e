"""Sample editions built from plain content values: for the tests and the render
benchmark (which puts tests/ on its path), without a database (a realistic edition, a
single item, 200 items). Test support: it lives here, not in the package."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from digest.content import BriefingItem, RelatedItem, Selection, SponsorDisclosure, TopicSection, VideoItem
from digest.settings import PublicationConfig, bundled_config_path, load_publication_config

EDITION_DATE = date(2026, 11, 27)
SITE = "https://ridgeline.example"
_BASE_TIME = datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc)

BODY = (
    "<p>{company} reported {what}, and the numbers were better than most followers of the "
    "stock expected. The release sets out <strong>{figure}</strong>, with the remainder due "
    "in the first quarter of 2027.</p>"
    "<ul><li>Grade and tonnage: in line with the 2025 drill programme</li>"
    "<li>Cash at the end of October: about CAD {cash} million</li>"
    "<li>Next catalyst: metallurgical results</li></ul>"
    "<p>What the report does not yet settle is recovery. Management says a larger variability "
    "programme will report next year. Our notes on the district are collected on the "
    '<a href="' + SITE + '/topics/{topic}">{topic_title} topic page</a>.</p>'
)

COMPANIES = (
    ("Tamarack Lithium Corp.", "lithium", "Lithium", "a maiden resource at Kettle Lake", "31.6 Mt at 1.18% Li2O"),
    ("Northgate Gold Ltd.", "gold", "Gold", "a feasibility study for its Red Pine mine", "an after-tax NPV of CAD 412 million"),
    ("Coppercliff Resources", "copper", "Copper", "first assays from the Blackwater porphyry", "212 m at 0.61% copper"),
    ("Voltline Battery Metals", "ev-supply-chain", "EV Supply Chain", "an offtake deal with a cathode maker", "12,000 t a year for six years"),
    ("Athabasca Yellowcake Inc.", "uranium", "Uranium", "a winter drill plan at Cree Lake", "18,000 m across 40 holes"),
    ("Silverton Mining", "silver", "Silver", "record quarterly production", "1.9 Moz of silver"),
    ("Ridgeline Markets Desk", "general", "Markets & General", "its weekly view of the junior market", "a 4% rise in the TSX-V index"),
)


HEADLINES = (
    "{company} publishes {what}",
    "Three questions for {company} after {what}",
    "What {what} means for {company} shareholders",
)
RELATED_HEADLINES = (
    ("Spodumene prices steady for a third week", "Chinese converters bought little, but offers did not fall."),
    ("Junior explorers raised CAD 212 million in November", "Flow-through money did most of the work again."),
    ("Ontario opens consultation on critical-minerals permits", "Ninety days for comment on shorter review timelines."),
    ("Copper inventories on the LME fall to a two-year low", "Backwardation returned to the front of the curve."),
    ("Gold holds above USD 2,600 as real yields ease", "ETF holdings rose for the fourth week running."),
)


def _headline(n: int, company: str, what: str) -> str:
    title = HEADLINES[(n // len(COMPANIES)) % len(HEADLINES)].format(company=company, what=what)
    if n >= len(COMPANIES) * len(HEADLINES):
        title += f" (update {n})"
    return title[0].upper() + title[1:]


def sample_config() -> PublicationConfig:
    """The bundled sample publication (Ridgeline Resource Briefing)."""
    return load_publication_config(bundled_config_path())


def make_briefing(n: int, company_index: int | None = None, *, sponsor: SponsorDisclosure | None = None,
                  disclosure: str = "The author holds no position in the companies named.",
                  editor_pick: bool = False) -> BriefingItem:
    company, topic, topic_title, what, figure = COMPANIES[(n if company_index is None else company_index) % len(COMPANIES)]
    published = _BASE_TIME - timedelta(hours=n)
    return BriefingItem(
        id=1000 + n,
        url=f"{SITE}/briefings/{topic}-{1000 + n}",
        title=_headline(n, company, what),
        body_html=BODY.format(company=company, what=what, figure=figure, cash=12 + n % 30, topic=topic,
                              topic_title=topic_title),
        excerpt=f"{company} reported {what}: {figure}. Recovery is still the open question.",
        author="Maren Okafor-Lind" if n % 2 else "Theo Lachance",
        published_at=published,
        date_label=f"{published.day} Nov 2026" if published.month == 11 else "30 Oct 2026",
        topics=(topic,),
        attribution=f"Information for this briefing was found via {company}'s news release of 26 November 2026.",
        author_disclosure=disclosure,
        sponsor=sponsor,
        is_editor_pick=editor_pick,
    )


def make_video(n: int) -> VideoItem:
    company, topic, *_ = COMPANIES[n % len(COMPANIES)]
    published = _BASE_TIME - timedelta(hours=3 * n + 1)
    return VideoItem(
        id=5000 + n,
        url=f"https://www.youtube.com/watch?v=ridgeline{n:03d}",
        title=f"Site visit: {company} walks us through the core shack",
        description=f"Our correspondent visits {company}.",
        thumbnail_url=f"https://i.ytimg.com/vi/ridgeline{n:03d}/hqdefault.jpg",
        published_at=published,
        date_label=f"{published.day} Nov 2026",
        topics=(topic,),
    )


def make_related(n: int) -> RelatedItem:
    title, excerpt = RELATED_HEADLINES[n % len(RELATED_HEADLINES)]
    published = _BASE_TIME - timedelta(days=1 + n)
    return RelatedItem(id=9000 + n, url=f"{SITE}/news/{9000 + n}", title=title, published_at=published,
                       date_label=f"{published.day} Nov 2026", excerpt=excerpt)


SPONSOR = SponsorDisclosure(
    payer="Voltline Battery Metals",
    amount="USD 4,500",
    form="cash",
    text="Voltline Battery Metals paid Ridgeline Media USD 4,500 in cash for this coverage.",
)
HOLDING = "The author holds shares of Northgate Gold Ltd., bought in the market in March 2026."


def sample_edition() -> Selection:
    """Four topics, a sponsored piece, an author holding, videos, recommended and related."""
    sections = (
        TopicSection("lithium", "Lithium", (make_briefing(0, 0, editor_pick=True), make_briefing(7, 0))),
        TopicSection("gold", "Gold", (make_briefing(1, 1, disclosure=HOLDING), make_briefing(8, 1))),
        TopicSection("copper", "Copper", (make_briefing(2, 2),)),
        TopicSection("ev-supply-chain", "EV Supply Chain", (make_briefing(3, 3, sponsor=SPONSOR),)),
    )
    return Selection(
        edition_date=EDITION_DATE,
        topics=("copper", "ev-supply-chain", "gold", "lithium"),
        sections=sections,
        videos=tuple(make_video(i) for i in range(3)),
        recommended=(make_briefing(4, 4, editor_pick=True), make_briefing(5, 5, editor_pick=True)),
        related=tuple(make_related(i) for i in range(3)),
    )


def single_item_edition() -> Selection:
    return Selection(
        edition_date=EDITION_DATE,
        topics=("lithium",),
        sections=(TopicSection("lithium", "Lithium", (make_briefing(0, 0),)),),
    )


def large_edition(count: int = 200) -> Selection:
    """``count`` briefings spread over every topic of the sample config: far over budget."""
    config = sample_config()
    index = {c[1]: i for i, c in enumerate(COMPANIES)}
    by_topic: dict[str, list[BriefingItem]] = {t.slug: [] for t in config.topics}
    slugs = list(by_topic)
    for n in range(count):
        slug = slugs[n % len(slugs)]
        sponsor = SPONSOR if n % 25 == 3 else None
        by_topic[slug].append(make_briefing(n, index[slug], sponsor=sponsor))
    sections = tuple(TopicSection(t.slug, t.title, tuple(by_topic[t.slug])) for t in config.topics)
    return Selection(
        edition_date=EDITION_DATE,
        topics=tuple(sorted(slugs)),
        sections=sections,
        videos=tuple(make_video(i) for i in range(4)),
        recommended=(),
        related=tuple(make_related(i) for i in range(5)),
    )
