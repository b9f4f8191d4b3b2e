"""Selection rules on a real database (SQLite and PostgreSQL): topics, ranking, limits,
windows, videos, Recommended and Related news, time zones, and the nothing-new case."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from select_seeding import NOW
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from digest.date_tokens import date_token, fill_dates
from digest.models import Subscriber
from digest.select import MAX_LOOKBACK, NOTHING_NEW, Selector

EDITION = date(2026, 11, 27)


def configured(runtime, **selection):
    config = runtime.settings.config
    return config.model_copy(update={"selection": config.selection.model_copy(update=selection)})


def titles(section):
    return [b.title for b in section.briefings]


def test_editor_picks_first_then_newest_capped_per_topic(runtime, session, seed):
    seed.briefing(title="old", hours_ago=10)
    seed.briefing(title="newest", hours_ago=1)
    seed.briefing(title="middle", hours_ago=5)
    seed.briefing(title="old pick", hours_ago=20, is_editor_pick=True)
    seed.briefing(title="oldest", hours_ago=30)
    sel = Selector(session, configured(runtime, max_per_topic=3), NOW).for_topics(
        ["lithium"], EDITION
    )
    [section] = sel.sections
    assert (section.slug, section.title) == ("lithium", "Lithium")
    assert titles(section) == ["old pick", "newest", "middle"]
    assert [r.title for r in sel.related] == ["old", "oldest"]


def test_sections_follow_config_topic_order_and_items_appear_once(runtime, session, seed):
    seed.briefing(title="both", topics=("lithium", "gold"), hours_ago=1)
    seed.briefing(title="gold only", topics=("gold",), hours_ago=2)
    seed.briefing(title="lithium only", topics=("lithium",), hours_ago=3)
    sel = Selector(session, runtime.settings.config, NOW).for_topics(["gold", "lithium"], EDITION)
    # config order is ev-supply-chain, lithium, gold, ...
    assert [s.slug for s in sel.sections] == ["lithium", "gold"]
    assert titles(sel.sections[0]) == ["both", "lithium only"]
    assert titles(sel.sections[1]) == ["gold only"]
    assert sel.topics == ("gold", "lithium")
    assert sel.briefing_count == 3


def test_item_that_does_not_fit_its_first_topic_goes_to_the_next(runtime, session, seed):
    seed.briefing(title="lithium a", topics=("lithium",), hours_ago=1)
    seed.briefing(title="shared", topics=("lithium", "gold"), hours_ago=2)
    sel = Selector(session, configured(runtime, max_per_topic=1), NOW).for_topics(
        ["lithium", "gold"], EDITION
    )
    assert [titles(s) for s in sel.sections] == [["lithium a"], ["shared"]]
    assert sel.related == ()


def test_future_items_wait_for_their_time(runtime, session, seed):
    seed.briefing(title="due now", hours_ago=0)
    seed.briefing(title="embargoed", hours_ago=-1)
    seed.video(title="future video", hours_ago=-0.1)
    config = runtime.settings.config
    sel = Selector(session, config, NOW).for_topics(["lithium"], EDITION)
    assert [titles(s) for s in sel.sections] == [["due now"]]
    assert sel.videos == () and sel.related == ()
    later = Selector(session, config, NOW + timedelta(hours=2)).for_topics(["lithium"], EDITION)
    assert titles(later.sections[0]) == ["embargoed", "due now"]


def test_window_starts_at_the_last_digest_or_new_subscriber_hours(runtime, session, seed):
    hours = runtime.settings.config.selection.new_subscriber_hours
    seed.briefing(title="since last", hours_ago=2)
    seed.briefing(title="before last", hours_ago=5)
    seed.briefing(title="too old for a newcomer", hours_ago=hours + 1)
    regular = seed.subscriber("regular@example.com", last_digest_at=NOW - timedelta(hours=3))
    newcomer = seed.subscriber("new@example.com")
    selector = Selector(session, runtime.settings.config, NOW)
    assert titles(selector.for_subscriber(regular, EDITION).sections[0]) == ["since last"]
    assert titles(selector.for_subscriber(newcomer, EDITION).sections[0]) == ["since last", "before last"]


def test_long_absent_subscriber_gets_no_more_than_the_lookback(runtime, session, seed):
    seed.briefing(title="recent", hours_ago=1)
    seed.briefing(title="ancient", hours_ago=MAX_LOOKBACK.total_seconds() / 3600 + 1)
    away = seed.subscriber(last_digest_at=NOW - timedelta(days=400))
    sel = Selector(session, runtime.settings.config, NOW).for_subscriber(away, EDITION)
    assert titles(sel.sections[0]) == ["recent"]


def test_videos_in_topics_newest_first_capped(runtime, session, seed):
    for i in range(4):
        seed.video(title=f"lithium video {i}", hours_ago=i + 1)
    seed.video(title="gold video", topics=("gold",), hours_ago=0.5)
    sel = Selector(session, configured(runtime, max_videos=3), NOW).for_topics(["lithium"], EDITION)
    assert [v.title for v in sel.videos] == ["lithium video 0", "lithium video 1", "lithium video 2"]
    assert not sel.is_empty and sel.briefing_count == 0


def test_recommended_are_editor_picks_outside_the_readers_topics(runtime, session, seed):
    seed.briefing(title="in-topic pick", topics=("lithium",), is_editor_pick=True)
    seed.briefing(title="gold pick", topics=("gold",), is_editor_pick=True, hours_ago=2)
    seed.briefing(title="copper pick", topics=("copper",), is_editor_pick=True, hours_ago=1)
    seed.briefing(title="uranium pick", topics=("uranium",), is_editor_pick=True, hours_ago=3)
    seed.briefing(title="gold plain", topics=("gold",))
    sel = Selector(session, configured(runtime, max_recommended=2), NOW).for_topics(
        ["lithium"], EDITION
    )
    assert [b.title for b in sel.recommended] == ["copper pick", "gold pick"]
    assert titles(sel.sections[0]) == ["in-topic pick"]


def test_related_news_are_one_line_headlines_of_what_did_not_fit(runtime, session, seed):
    seed.briefing(title="kept", hours_ago=1)
    long_excerpt = "Word " * 80
    related_1 = seed.briefing(title="related 1", hours_ago=2, excerpt=long_excerpt)
    seed.briefing(title="related 2", hours_ago=3, excerpt="", body_html="<p>From the <b>body</b>\n text.</p>")
    seed.briefing(title="related 3", hours_ago=4)
    sel = Selector(session, configured(runtime, max_per_topic=1, max_related=2), NOW).for_topics(
        ["lithium"], EDITION
    )
    first, second = sel.related
    assert (first.id, first.title, first.url) == (related_1.id, "related 1", related_1.url)
    assert first.excerpt.endswith("…") and "\n" not in first.excerpt and len(first.excerpt) <= 160
    assert second.excerpt == "From the body text."
    assert fill_dates(first.date_label, "UTC") == "27 Nov 2026"


def test_dates_are_zone_free_tokens_filled_in_the_readers_zone(runtime, session, seed):
    seed.briefing(title="early utc", hours_ago=10)  # 02:00 UTC on 27 Nov = 21:00 on 26 Nov in Toronto
    seed.video(hours_ago=10)
    selector = Selector(session, runtime.settings.config, NOW)
    sel = selector.for_topics(["lithium"], EDITION)
    item, video = sel.sections[0].briefings[0], sel.videos[0]
    assert item.date_label == date_token(item.published_at) == "%%date:202611270200%%"
    assert video.date_label == date_token(video.published_at)
    assert fill_dates(item.date_label, "America/Toronto") == "26 Nov 2026"
    assert fill_dates(video.date_label, "America/Toronto") == "26 Nov 2026"
    assert fill_dates(item.date_label, "UTC") == "27 Nov 2026"


def test_readers_in_different_zones_share_one_selection(runtime, session, seed):
    seed.briefing(title="early utc", hours_ago=10)
    seed.subscriber("toronto@example.com", timezone="America/Toronto")
    seed.subscriber("kolkata@example.com", timezone="Asia/Kolkata")
    session.commit()
    subscribers = session.scalars(select(Subscriber).options(selectinload(Subscriber.topics))).all()
    selector = Selector(session, runtime.settings.config, NOW)
    toronto, kolkata = (selector.for_subscriber(s, EDITION) for s in subscribers)
    assert toronto is kolkata
    assert toronto.fingerprint() is toronto.fingerprint()  # hashed once per selection object


@pytest.mark.parametrize("mode, note", [("skip", None), ("note", NOTHING_NEW)])
def test_nothing_new(runtime, session, seed, mode, note):
    seed.briefing(topics=("gold",), is_editor_pick=True)
    sel = Selector(session, configured(runtime, nothing_new=mode), NOW).for_topics(
        ["lithium"], EDITION
    )
    assert sel.is_empty
    assert sel.note == note
    assert [b.topics for b in sel.recommended] == [("gold",)]


def test_no_topics_means_every_topic_and_unknown_topics_are_ignored(runtime, session, seed):
    seed.briefing(topics=("gold",))
    seed.briefing(topics=("uranium",))
    selector = Selector(session, runtime.settings.config, NOW)
    everything = selector.for_topics([], EDITION)
    assert [s.slug for s in everything.sections] == ["gold", "uranium"]
    assert everything.topics == tuple(sorted(runtime.settings.config.topic_slugs))
    only_gold = selector.for_topics(["gold", "retired-topic"], EDITION)
    assert [s.slug for s in only_gold.sections] == ["gold"]
