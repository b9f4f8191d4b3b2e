"""The fixed set of editions the before/after render test compares (see
``tests/render/make_baseline.py`` and ``tests/render/test_baseline.py``): every section kind
(note, contents list, topic cards, videos, recommended, related with "and N more"),
sponsored items in cards, contents and headlines, rich briefing bodies, long titles and
unbreakable words, right-to-left text, and a 200-item edition that goes through the size
budget. Dark mode is a screenshot setting (``DARK``), not an edition.

Changing anything here changes what the baseline means: rebuild it with the commit that
made it (``make_baseline.py`` says how), never with the code under test.
"""

from __future__ import annotations

from dataclasses import replace

from digest.content import Selection, TopicSection
from fakes.samples import (
    EDITION_DATE,
    SPONSOR,
    large_edition,
    make_briefing,
    make_related,
    make_video,
    sample_edition,
    single_item_edition,
)

from .factories import contents_edition

#: Screenshot widths (px) and the editions also shot in the dark scheme.
WIDTHS = (375, 600)
DARK = ("sample", "long-titles")

RICH_BODY = (
    "<h2>What changed</h2><p>The company <em>raised</em> guidance and <code>NI 43-101</code> "
    "reports follow.</p><h3>Numbers</h3><table><thead><tr><th>Hole</th><th>Metres</th><th>Grade</th></tr>"
    "</thead><tbody><tr><td>KL-24-001</td><td>212</td><td>1.18%</td></tr><tr><td>KL-24-002</td>"
    "<td colspan=\"2\">pending</td></tr></tbody></table><blockquote><p>We expect first results in "
    "the spring.</p></blockquote><ol><li>Permits</li><li>Financing</li></ol><h4>Chart</h4>"
    '<figure><img src="https://ridgeline.example/static/chart.png" alt="Grade by hole">'
    "<figcaption>Grade by hole, 2024 programme</figcaption></figure><hr>"
    '<p>More on <a href="https://ridgeline.example/topics/lithium">the lithium page</a> and '
    '<a href="mailto:desk@ridgeline.example">mail the desk</a>.</p>'
)
LONG_TITLE = ("Tamarack Lithium Corp. publishes a maiden resource at Kettle Lake that nearly doubles "
              "the district's known tonnage, and what the market has not priced in yet about recovery")
LONG_WORD = "Supercalifragilisticexpialidocious-lithium-hydroxide-monohydrate-offtake-agreement-2026"


def long_titles_edition() -> Selection:
    """A note, long and unbreakable titles, a rich body, sponsored headlines, 14 related
    headlines (more than the sample's ``max_related``: "and N more")."""
    first = replace(make_briefing(0, 0), title=LONG_TITLE, body_html=RICH_BODY)
    second = replace(make_briefing(7, 0, sponsor=SPONSOR), title=f"{LONG_WORD} explained")
    third = replace(make_briefing(1, 1), title="Short", author=None)
    related = [make_related(i) for i in range(14)]
    related[1] = replace(related[1], sponsor=SPONSOR, title=f"{LONG_WORD}: a sponsored headline")
    return Selection(
        edition_date=EDITION_DATE,
        topics=("gold", "lithium"),
        sections=(TopicSection("lithium", "Lithium", (first, second)), TopicSection("gold", "Gold", (third,))),
        videos=tuple(replace(make_video(i), title=f"{LONG_TITLE} (video {i})") for i in range(2)),
        recommended=(replace(make_briefing(4, 4, editor_pick=True), title=LONG_TITLE),),
        related=tuple(related),
        note="Markets were closed on Thursday: this edition covers two days of news.",
    )


RTL_BODY = ("<p>שלום! החברה פרסמה היום תוצאות קידוח ראשונות, <strong>212 מטר</strong> ב-0.61% נחושת.</p>"
            "<p>مرحبا: أعلنت الشركة عن نتائج الحفر الأولى، وهي أفضل من المتوقع.</p>"
            "<ul><li>עלות: 12 מיליון</li><li>الموعد التالي: الربيع</li></ul>")


def rtl_edition() -> Selection:
    """Hebrew and Arabic titles, bodies, excerpts and disclosures beside English ones."""
    hebrew = replace(make_briefing(2, 2), title="קופרקליף מפרסמת תוצאות קידוח ראשונות מבלקווטר",
                     body_html=RTL_BODY, author="נועה לוי",
                     author_disclosure="לכותבת אין החזקות בחברות המוזכרות.")
    arabic = replace(make_briefing(9, 2), title="كوبركليف تعلن نتائج الحفر الأولى في بلاكووتر",
                     body_html=RTL_BODY, excerpt="أعلنت الشركة عن نتائج الحفر الأولى.")
    related = (replace(make_related(0), title="מחירי הספודומן יציבים", excerpt="שבוע שלישי ללא שינוי."),
               make_related(1))
    return Selection(
        edition_date=EDITION_DATE,
        topics=("copper",),
        sections=(TopicSection("copper", "Copper", (hebrew, arabic, make_briefing(16, 2))),),
        videos=(replace(make_video(2), title="ביקור באתר: קופרקליף"),),
        related=related,
    )


def editions() -> dict[str, Selection]:
    return {
        "sample": sample_edition(),
        "contents-13": contents_edition(),
        "single": single_item_edition(),
        "long-titles": long_titles_edition(),
        "rtl": rtl_edition(),
        "budget-200": large_edition(200),
    }
