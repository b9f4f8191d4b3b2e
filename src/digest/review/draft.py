"""Drafting an edition: its snapshot, every distinct body it will send, and the seed proofs.

Bodies are rendered once per distinct selection, as planning renders them, and stored
(``rendered_bodies``, shared with the batches that will carry them); ``draft_bodies`` says
which topic set each is for, how many readers had it when drafted, and the email
checklist's result on it as a reader gets it (:mod:`.checklist`). Each seed address
(``[review] seed``) gets a proof of the ``seed_proofs`` bodies with the most readers.
A proof the provider refuses costs that proof alone: it is recorded with its error.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import partial
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import fetch_tuples
from ..deliver.ledger import get_or_create_edition
from ..deliver.plan.rows import store_body
from ..deliver.proof import PROOF_PREFIX, send_rendered_proof
from ..models import DraftBody, EditionSnapshot, ReviewProof, Subscriber, SubscriberStatus, Topic, subscriber_topics
from ..runtime import Runtime
from ..select import SelectionBlocked, Selector
from .checklist import BodyChecklist, check_drafted_body
from .snapshot import current_snapshot, take_snapshot

log = logging.getLogger(__name__)


@dataclass
class DraftedBody:
    topics: str
    readers: int
    subject: str
    html_bytes: int
    checklist: BodyChecklist | None = None


@dataclass
class DraftReport:
    edition_date: date
    snapshot_id: int
    version: int
    fingerprint: str
    taken_at: datetime
    briefings: int = 0
    videos: int = 0
    already: bool = False  # it was drafted before: nothing new was done
    bodies: list[DraftedBody] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # readers with no body: blocked, no-new-items, render-failed
    proofs: list[tuple[str, str, str | None]] = field(default_factory=list)  # (address, topics, error)

    def lines(self) -> list[str]:
        head = (f"edition {self.edition_date}: snapshot v{self.version} ({self.fingerprint[:12]}) taken "
                f"{self.taken_at:%Y-%m-%d %H:%M}Z: {self.briefings} briefing(s), {self.videos} video(s)")
        if self.already:
            return [head + " (already drafted)"]
        lines = [head, f"  {len(self.bodies)} distinct bod{'y' if len(self.bodies) == 1 else 'ies'}:"]
        for b in self.bodies:
            lines.append(f"    {b.readers:>8} reader(s)  {b.html_bytes:>7} bytes  [{b.topics}] {b.subject}")
            if b.checklist is not None and not b.checklist.passed:
                lines.append(f"      checklist {b.checklist.summary()}")
        if self.skipped:
            lines.append("  no email for: " + ", ".join(f"{r}={n}" for r, n in sorted(self.skipped.items())))
        for address, topics, error in self.proofs:
            lines.append(f"  proof [{topics}] to {address}: " + (f"failed: {error}" if error else "sent"))
        return lines


@contextmanager
def seed_provider(settings) -> Iterator:
    """The configured provider for the seed proofs, closed after; None without seeds."""
    if not settings.config.review.seed:
        yield None
        return
    from ..deliver.providers.factory import make_provider

    provider = make_provider(settings)
    try:
        yield provider
    finally:
        provider.close()


def draft_edition(runtime: Runtime, day: date, *, now: datetime, by: str, provider=None, renderer=None,
                  redraft: bool = False) -> DraftReport:
    """Draft ``day``'s edition (once: a drafted edition is left as it is unless ``redraft``).
    ``provider`` sends the seed proofs (none: no proofs)."""
    from ..render import Renderer

    config = runtime.settings.config
    renderer = renderer or Renderer(config)
    with runtime.sessions() as session:
        edition = get_or_create_edition(session, day)
        existing = current_snapshot(session, edition.id)
        if existing is not None and not redraft:
            return _report(day, existing, already=True)
        selector = Selector(session, config, now)
        snapshot = take_snapshot(session, edition.id, selector, now, by)
        report = _report(day, snapshot)
        check = partial(check_drafted_body, runtime.settings, day=day, now=now)
        rendered_bodies = _draft_bodies(session, selector, snapshot, day, renderer, check, report,
                                        skip_empty=config.selection.nothing_new == "skip")
        session.commit()
    if provider is not None:
        _send_proofs(runtime, provider, day, snapshot.id, rendered_bodies, now, report)
    return report


def _report(day: date, snapshot: EditionSnapshot, *, already: bool = False) -> DraftReport:
    return DraftReport(day, snapshot.id, snapshot.version, snapshot.fingerprint, snapshot.taken_at,
                       briefings=len([i for i in snapshot.briefing_ids.split(",") if i]),
                       videos=len([i for i in snapshot.video_ids.split(",") if i]), already=already)


def reader_groups(session: Session) -> Counter:
    """Active readers by (topic slugs, last digest): all a selection depends on."""
    slug_of = dict(session.execute(select(Topic.id, Topic.slug)).all())
    conn = session.connection()
    topics: dict[int, list[str]] = defaultdict(list)
    for subscriber_id, topic_id in fetch_tuples(conn, select(subscriber_topics.c.subscriber_id,
                                                             subscriber_topics.c.topic_id)):
        topics[subscriber_id].append(slug_of[topic_id])
    groups: Counter = Counter()
    for subscriber_id, last_digest_at in fetch_tuples(conn, select(Subscriber.id, Subscriber.last_digest_at)
                                                      .where(Subscriber.status == SubscriberStatus.ACTIVE)):
        if last_digest_at is not None and last_digest_at.tzinfo is not timezone.utc:
            last_digest_at = last_digest_at.astimezone(timezone.utc)  # as planning reads it
        groups[(tuple(sorted(topics.get(subscriber_id, ()))), last_digest_at)] += 1
    return groups


def _draft_bodies(session: Session, selector: Selector, snapshot: EditionSnapshot, day: date, renderer, check,
                  report: DraftReport, *, skip_empty: bool) -> list[tuple[str, object]]:
    """Render, ``check`` and store each distinct body; the (topics, rendered) pairs, most readers first."""
    selections: dict[str, list] = {}  # selection fingerprint -> [selection, readers, topic sets]
    for (slugs, last_digest_at), readers in reader_groups(session).items():
        try:
            selection = selector.for_reader(slugs, last_digest_at, day)
        except SelectionBlocked:
            report.skipped["blocked"] += readers
            continue
        if selection.is_empty and skip_empty:
            report.skipped["no-new-items"] += readers
            continue
        entry = selections.setdefault(selection.fingerprint(), [selection, 0, Counter()])
        entry[1] += readers
        entry[2][",".join(slugs) or "(all topics)"] += readers
    drafted = []
    for selection, readers, topic_sets in sorted(selections.values(), key=lambda e: -e[1]):
        topics = topic_sets.most_common(1)[0][0]
        try:
            rendered = renderer.render(selection)
        except Exception as exc:  # one body that fails costs its readers only (planning retries without items)
            log.warning("edition %s: a body for [%s] failed to render while drafting: %s", day, topics, exc)
            report.skipped["render-failed"] += readers
            continue
        body_id = store_body(session, rendered)
        size = len(rendered.html.encode())
        checklist = check(rendered, selection)
        session.add(DraftBody(snapshot_id=snapshot.id, body_id=body_id, topics=topics[:1000], readers=readers,
                              html_bytes=size, checklist=checklist))
        report.bodies.append(DraftedBody(topics, readers, rendered.subject, size, BodyChecklist.of(checklist)))
        drafted.append((topics, rendered))
    return drafted


def _send_proofs(runtime: Runtime, provider, day: date, snapshot_id: int, bodies, now: datetime,
                 report: DraftReport) -> None:
    review = runtime.settings.config.review
    zone = runtime.settings.config.schedule.default_timezone
    rows = []
    for address in review.seed:
        for topics, rendered in bodies[:review.seed_proofs]:
            error = message_id = None
            try:
                message_id = send_rendered_proof(runtime, provider, day, address, rendered, zone, now=now).message_id
            except Exception as exc:  # a refused proof costs that proof alone
                error = f"{type(exc).__name__}: {exc}"
                log.warning("edition %s: proof [%s] to %s failed: %s", day, topics, address, error)
            rows.append(ReviewProof(snapshot_id=snapshot_id, address=address, topics=topics[:1000],
                                    subject=(PROOF_PREFIX + rendered.subject)[:500], provider_message_id=message_id,
                                    error=error, sent_at=now))
            report.proofs.append((address, topics, error))
    if rows:
        with runtime.sessions() as session:
            session.add_all(rows)
            session.commit()
