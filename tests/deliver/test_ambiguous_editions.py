"""Ambiguous sends across editions: one edition in flight per reader, operator resends
that touch only the edition they name, and a dry run that says what the real run does.

The stand-in SendGrid drops chosen requests before accepting them (``drop_next``): the
client cannot tell whether the mail went, so the batch is ``ambiguous``; since the
stand-in delivered nothing, a resend is what a careful operator would do, and the
stand-in's record shows whether anyone got two emails.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select, update

from digest.cli import main
from digest.deliver.edition import send_edition
from digest.deliver.providers.factory import make_provider
from digest.models import Batch, Briefing, Delivery, Edition, Subscriber, Topic
from digest.runtime import Runtime

from fakes.edition_seed import read, seed_edition
from fakes.fixtures import TEST_API_KEY, fake_sendgrid  # noqa: F401

DAY_1, DAY_2, DAY_3 = date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 7)
#: Three topic sets -> three bodies -> three batches per edition, readers cycling through them.
TOPIC_SETS = (("lithium",), ("gold",), ("lithium", "gold"))


def _sendgrid(runtime: Runtime, fake) -> Runtime:
    settings = runtime.settings.with_overrides(provider="sendgrid", sendgrid_api_key=TEST_API_KEY,
                                               sendgrid_api_host=fake.url)
    return Runtime(settings, runtime.engine, runtime.sessions)


def _send(runtime: Runtime, day: date, **options):
    provider = make_provider(runtime.settings)
    try:
        return send_edition(runtime, provider, day, **options)
    finally:
        provider.close()


def _fresh_content(runtime: Runtime, label: str) -> None:
    """A new briefing on each topic, published now (after every send so far)."""
    now = datetime.now(timezone.utc)
    with runtime.session() as session:
        for topic in session.scalars(select(Topic).where(Topic.slug.in_(("lithium", "gold")))):
            session.add(Briefing(
                guid=f"{label}-{topic.slug}", url=f"https://ridgeline.example/{label}/{topic.slug}",
                title=f"{topic.title}: {label}", body_html=f"<p>{label} on {topic.slug}.</p>", excerpt=label,
                author="A. Writer", published_at=now,
                attribution="Information for this briefing was found via a company news release.",
                author_disclosure="The author holds no position in the companies named.",
                content_hash=hashlib.sha256(f"{label}{topic.slug}".encode()).hexdigest(), topics=[topic]))


def _rows(runtime: Runtime) -> list[tuple[str, date, str, str | None]]:
    """(email, edition date, delivery status, skip reason) for every ledger row."""
    return read(runtime.settings, select(Subscriber.email, Edition.date, Delivery.status, Delivery.skip_reason)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .join(Edition, Edition.id == Delivery.edition_id))


def _per_edition(fake) -> Counter:
    """(address, edition date) -> messages the stand-in delivered."""
    return Counter((m.to.lower(), m.custom_args["edition_date"]) for m in fake.delivered)


def _cli_env(runtime: Runtime, fake) -> dict[str, str]:
    from digest.settings import bundled_config_path

    return {"DIGEST_CONFIG": str(bundled_config_path()), "DATABASE_URL": runtime.settings.database_url,
            "DIGEST_PROVIDER": "sendgrid", "SENDGRID_API_KEY": TEST_API_KEY, "SENDGRID_API_HOST": fake.url,
            "DIGEST_SECRET_KEY": "test-secret-key-0123456789", "DIGEST_BASE_URL": "https://digest.test",
            "REDIS_URL": ""}


def test_resends_across_two_editions_never_send_anyone_two_emails(runtime, fake_sendgrid):
    """The issue's sequence: two editions on two local dates, an ambiguous batch in each;
    ``--resend-ambiguous`` without a date, then with each date, fresh content between."""
    runtime = _sendgrid(runtime, fake_sendgrid)
    emails = [e.lower() for e in seed_edition(runtime.settings, 30, topic_sets=TOPIC_SETS)]
    first, second = list(range(1, 16)), list(range(16, 31))  # subscriber ids: one local date each

    fake_sendgrid.pass_next()
    fake_sendgrid.drop_next()  # DAY_1's second batch: ambiguous
    assert _send(runtime, DAY_1, subscriber_ids=first).ambiguous == 5
    fake_sendgrid.drop_next()  # DAY_2's first batch: ambiguous
    assert _send(runtime, DAY_2, subscriber_ids=second).ambiguous == 5
    assert len(fake_sendgrid.delivered) == 20

    runner, env = CliRunner(), _cli_env(runtime, fake_sendgrid)
    refused = runner.invoke(main, ["send", "--resend-ambiguous"], env=env)
    assert refused.exit_code == 2, refused.output
    assert "2 editions have ambiguous readers: 2026-12-05, 2026-12-06" in refused.output
    assert len(fake_sendgrid.delivered) == 20 and fake_sendgrid.attempts == 6  # nothing sent

    day_1 = runner.invoke(main, ["send", "--resend-ambiguous", "--date", "2026-12-05"], env=env)
    assert day_1.exit_code == 0, day_1.output
    _fresh_content(runtime, "fresh")
    day_2 = runner.invoke(main, ["send", "--resend-ambiguous", "--date", "2026-12-06"], env=env)
    assert day_2.exit_code == 0, day_2.output

    # Everyone got exactly one email, of their own edition, and the ledger says so: one
    # settled (sent) row per reader, in their edition only (a resend plans nobody new).
    assert fake_sendgrid.attempts == 8
    assert _per_edition(fake_sendgrid) == Counter(
        {(e, "2026-12-05"): 1 for e in emails[:15]} | {(e, "2026-12-06"): 1 for e in emails[15:]})
    assert sorted(_rows(runtime)) == sorted(
        [(e, DAY_1, "sent", None) for e in emails[:15]] + [(e, DAY_2, "sent", None) for e in emails[15:]])


def test_a_reader_in_flight_is_not_planned_into_another_edition(runtime, fake_sendgrid):
    runtime = _sendgrid(runtime, fake_sendgrid)
    emails = [e.lower() for e in seed_edition(runtime.settings, 15, topic_sets=TOPIC_SETS)]
    fake_sendgrid.pass_next()
    fake_sendgrid.drop_next()
    assert _send(runtime, DAY_1).ambiguous == 5
    in_doubt = {email for email, day, status, _ in _rows(runtime) if status == "ambiguous"}
    assert len(in_doubt) == 5

    _fresh_content(runtime, "second")  # something new for everyone: nobody is skipped for nothing new
    dry = _send(runtime, DAY_2, dry_run=True)
    second = _send(runtime, DAY_2)
    assert (dry.sent, dry.skipped["in-flight"]) == (second.sent, second.skipped["in-flight"]) == (10, 5)
    rows = _rows(runtime)
    assert sorted((e, s, r) for e, d, s, r in rows if d == DAY_2) == sorted(
        [(e, "skipped", "in-flight") for e in in_doubt] + [(e, "sent", None) for e in set(emails) - in_doubt])

    # Settled (the operator resends DAY_1): their next digest is planned again, from it.
    assert _send(runtime, DAY_1, resend_ambiguous=True).sent == 5
    last = dict(read(runtime.settings, select(Subscriber.email, Subscriber.last_digest_at)))
    sent_at = dict(read(runtime.settings, select(Subscriber.email, Delivery.sent_at)
                        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                        .join(Edition, Edition.id == Delivery.edition_id).where(Edition.date == DAY_1)))
    _fresh_content(runtime, "third")
    third = _send(runtime, DAY_3)
    assert (third.sent, third.skipped["in-flight"]) == (15, 0)
    for email in in_doubt:
        assert last[email] == sent_at[email]  # their last settled send: DAY_1's resend
    assert _per_edition(fake_sendgrid) == Counter(
        {(e, "2026-12-05"): 1 for e in emails} | {(e, "2026-12-06"): 1 for e in set(emails) - in_doubt}
        | {(e, "2026-12-07"): 1 for e in emails})


def test_dry_run_figures_are_the_real_runs_including_resends(runtime, fake_sendgrid):
    runtime = _sendgrid(runtime, fake_sendgrid)
    seed_edition(runtime.settings, 15, topic_sets=TOPIC_SETS)
    fake_sendgrid.pass_next()
    fake_sendgrid.drop_next()
    assert _send(runtime, DAY_1, subscriber_ids=list(range(1, 13))).ambiguous == 4  # 12 readers, 4 a body
    in_doubt = [sid for (sid,) in read(runtime.settings, select(Delivery.subscriber_id)
                                       .where(Delivery.status == "ambiguous").order_by(Delivery.subscriber_id))]
    with runtime.session() as session:  # one of them unsubscribes meanwhile
        session.execute(update(Subscriber).where(Subscriber.id == in_doubt[0]).values(status="unsubscribed"))

    def figures(summary):
        return summary.sent, sum(summary.batches.values()), {k: v for k, v in summary.skipped.items() if v}

    # The three readers never planned, one body each (ids 13, 14, 15 cycle the topic sets);
    # the other twelve are already in the ledger.
    plain = figures(_send(runtime, DAY_1, dry_run=True))
    assert plain == (3, 3, {"already-sent": 12}) == figures(_send(runtime, DAY_1))
    # The resend: three of the four ambiguous readers, one batch; the fourth has left; the
    # other eleven readers of the edition were sent before.
    resend = figures(_send(runtime, DAY_1, dry_run=True, resend_ambiguous=True))
    assert resend == (3, 1, {"already-sent": 11, "suppressed": 1}) == figures(
        _send(runtime, DAY_1, resend_ambiguous=True))
    assert len(fake_sendgrid.delivered) == 8 + 3 + 3
    assert read(runtime.settings, select(Batch.status).where(Batch.id == select(Batch.id).where(
        Batch.attempts == 2).scalar_subquery())) == [("sent",)]


def test_one_ambiguous_reader_in_a_sent_batch_is_in_flight_until_resent(runtime):
    """A reader whose own message was cut off (SMTP) inside a batch that went out: the
    batch is ``sent``, the reader ``ambiguous``, and still in flight for other editions."""
    from .conftest import CountingRenderer, FakeSelector, RecordingProvider, add_subscribers

    ids = add_subscribers(runtime, 4, prefix="cut")
    provider = RecordingProvider()
    provider.unsure = {"cut1@example.com": "connection lost during DATA"}

    def send(day, **options):
        return send_edition(runtime, provider, day, now=datetime.now(timezone.utc), selector=FakeSelector(),
                            renderer=CountingRenderer(), **options)

    first = send(DAY_1)
    assert (first.sent, first.ambiguous) == (3, 1)
    assert read(runtime.settings, select(Batch.status, Batch.readers_in_doubt)) == [("sent", True)]
    second = send(DAY_2)
    assert (second.sent, second.skipped["in-flight"]) == (3, 1)
    provider.unsure = {}
    assert send(DAY_1, resend_ambiguous=True).sent == 1
    third = send(DAY_3)
    assert (third.sent, third.skipped["in-flight"]) == (4, 0)
    # The provider was handed: all four on DAY_1 (one cut off), the other three on DAY_2,
    # the cut-off one alone in the resend, all four on DAY_3.
    handed = [sorted(r.email for r in b.recipients) for b in provider.sent]
    everyone = sorted(f"cut{n}@example.com" for n in range(4))
    assert handed == [everyone, [e for e in everyone if e != "cut1@example.com"], ["cut1@example.com"], everyone]
    assert len(ids) == 4
