"""Proof of what a reader was sent: ``digest audit EMAIL --date D``.

A financial publisher must show, months later, exactly what a reader received and who
approved it. Nothing per reader is stored for it beyond the ledger row every send writes:
the email is built again from

* the stored body (``rendered_bodies``, kept for ``[review] keep_bodies``: :mod:`.prune`),
* the reader's tokens, which are signed from their ids (:mod:`digest.links`) and their
  zone and address as planned (the delivery row),
* the moment the batch built its emails (``batches.send_moments``: the Date header and
  the heading's date), and the Message-ID derived from the edition and the reader
  (:func:`digest.message.delivery_message_id`),

through the code that built it the first time (:func:`digest.deliver.providers.base.frame_message`,
which the outbox and SMTP providers frame each reader's message with), so an edition sent
through the outbox audits to the same bytes as its ``.eml`` file, and one sent over SMTP to
the message handed to the server (line endings aside: SMTP's are CRLF). SendGrid
was handed the same parts (subject, headers, text, HTML with this reader's substitutions)
and framed the MIME message itself, with its own Message-ID.

What it needs beyond the ledger is the configuration it was sent with (the publication's
name and address, ``DIGEST_BASE_URL``, ``DIGEST_SECRET_KEY``): an audit after one changed
rebuilds the email with the new value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..content import fill_tokens
from ..deliver.dates import dated_for_zones
from ..deliver.providers.base import OutgoingBatch, Recipient, frame_message
from ..deliver.recipients import make_link_maker, rendered_email
from ..deliver.send_moments import claims, moment_for
from ..message import recipient_headers, shared_headers
from ..models import (
    Batch, Delivery, DeliveryStatus, DraftBody, Edition, EditionApproval, EditionSnapshot, RenderedBody, Subscriber,
)
from ..runtime import Runtime

#: Providers whose messages digest frames itself (the rest frame their own, e.g. SendGrid).
FRAMED_HERE = ("outbox", "smtp")


@dataclass
class Audit:
    """What ``digest audit`` found. ``email`` is the rebuilt message's bytes, or ``None``
    with ``reason`` (one line) when there is none to show."""

    address: str
    day: date
    email: bytes | None = None
    #: The parts as handed to the provider, this reader's values filled (what SendGrid
    #: put in its own MIME message): ``--format html`` and ``txt``.
    html: str | None = None
    text: str | None = None
    delivery_id: int = 0
    reason: str | None = None
    lines: list[str] = field(default_factory=list)  # what it was, who approved it, how it was sent
    warnings: list[str] = field(default_factory=list)


def audit_reader(runtime: Runtime, address: str, day: date) -> Audit:
    """The email ``address`` was sent in the edition of ``day``, built again."""
    audit = Audit(address, day)
    with runtime.sessions() as session:
        wanted = address.strip().lower()
        subscriber = session.scalar(select(Subscriber).where(func.lower(Subscriber.email) == wanted))
        of_the_day = select(Delivery, Edition).join(Edition, Edition.id == Delivery.edition_id).where(
            Edition.date == day).order_by(Edition.id)
        found = None
        if subscriber is not None:
            found = session.execute(of_the_day.where(Delivery.subscriber_id == subscriber.id)).first()
        if found is None:  # the address the email went to, since changed (one edition's rows, read once)
            found = session.execute(of_the_day.where(func.lower(Delivery.email) == wanted)).first()
            if found is not None:
                subscriber = session.get(Subscriber, found[0].subscriber_id)
        if subscriber is None:
            audit.reason = (f"{address}: no subscriber with this address (never subscribed, or forgotten: "
                            "'digest subscribers forget' erases a reader's ledger too)")
            return audit
        if found is None:
            editions = session.scalar(select(func.count()).select_from(Edition).where(Edition.date == day))
            audit.reason = (f"{address}: not in the edition of {day}" if editions
                            else f"{address}: there is no edition of {day}")
            return audit
        delivery, edition = found
        if delivery.status == DeliveryStatus.SKIPPED:
            audit.reason = f"{address}: not sent the edition of {day}: skipped ({delivery.skip_reason})"
            return audit
        if delivery.status in (DeliveryStatus.QUEUED, DeliveryStatus.FAILED) or delivery.batch_id is None:
            why = f": {delivery.error}" if delivery.error else ""
            audit.reason = f"{address}: not sent the edition of {day}: {delivery.status}{why}"
            return audit
        audit.delivery_id = delivery.id
        batch = session.get(Batch, delivery.batch_id)
        body = session.get(RenderedBody, batch.body_id)
        _describe(session, audit, edition, batch, body, delivery)
        if body.html is None:
            audit.reason = (f"{address}: the email of {day} cannot be rebuilt: its body was pruned on "
                            f"{body.pruned_at:%Y-%m-%d} ([review] keep_bodies); it was sha256 {body.fingerprint}")
            return audit
        audit.email = _rebuild(runtime, edition, batch, body, delivery, subscriber, audit)
    return audit


def _rebuild(runtime: Runtime, edition: Edition, batch: Batch, body: RenderedBody, delivery: Delivery,
             subscriber: Subscriber, audit: Audit) -> bytes:
    """The reader's message as the outbox wrote it (see the module docstring)."""
    settings = runtime.settings
    moment = moment_for(batch.send_moments, delivery.sent_at)
    if moment is None:
        moment = batch.sent_at or delivery.sent_at
        audit.warnings.append("this batch was sent before send moments were recorded: the Date header (and the "
                              "heading's date, if the day differs) is the batch's settling time, not the one sent")
    zone = delivery.timezone or subscriber.timezone or "UTC"
    dated = dated_for_zones(rendered_email(body), {zone}, moment)
    to = delivery.email or subscriber.email
    tokens = make_link_maker(runtime).token_values(subscriber.id, to, body.id)
    tokens.update(dated.values_for(zone))
    recipient = Recipient(delivery.id, subscriber.id, to, tokens, recipient_headers(tokens["unsubscribe_url"]))
    outgoing = OutgoingBatch(batch_id=batch.id, edition_id=edition.id, edition_date=edition.date, body=dated.body,
                             recipients=[recipient], headers=shared_headers(settings.config), sent_at=moment)
    audit.html, audit.text = fill_tokens(dated.body.html, tokens), fill_tokens(dated.body.text, tokens)
    message = frame_message(outgoing, recipient, config=settings.config, secret=settings.secret_key)
    audit.lines.append(f"Message-ID: {message['Message-ID']}" + (
        "" if batch.provider in (None, *FRAMED_HERE) else " (as built here; the provider's own is above)"))
    return message.as_bytes()


def _describe(session: Session, audit: Audit, edition: Edition, batch: Batch, body: RenderedBody,
              delivery: Delivery) -> None:
    """The lines that go with the email: what was sent, under whose approval, how."""
    lines = audit.lines
    lines.append(f"reader: {audit.address} (delivery {delivery.id}, {delivery.status}"
                 f"{f' at {delivery.sent_at:%Y-%m-%d %H:%M:%S}Z' if delivery.sent_at else ''}, "
                 f"zone {delivery.timezone or 'UTC'})")
    lines.append(f"edition: {edition.date} ({edition.slot}); body {body.id}, sha256 {body.fingerprint}")
    # The latest snapshot with this body taken before it was sent (a redraft may carry the same body again).
    sent = delivery.sent_at or batch.sent_at
    snapshots = select(EditionSnapshot).join(DraftBody, DraftBody.snapshot_id == EditionSnapshot.id).where(
        EditionSnapshot.edition_id == edition.id, DraftBody.body_id == body.id)
    if sent is not None:
        snapshots = snapshots.where(EditionSnapshot.taken_at <= sent)
    snapshot = session.scalars(snapshots.order_by(EditionSnapshot.version.desc()).limit(1)).first()
    if snapshot is None:
        lines.append("snapshot: none (the edition was not drafted for review: [review] approval = \"none\")")
        lines.append("approval: none recorded")
    else:
        lines.append(f"snapshot: version {snapshot.version}, fingerprint {snapshot.fingerprint}, taken "
                     f"{snapshot.taken_at:%Y-%m-%d %H:%M:%S}Z by {snapshot.drafted_by}")
        approval = session.scalars(
            select(EditionApproval).where(EditionApproval.snapshot_id == snapshot.id)
            .order_by(EditionApproval.id).limit(1)).first()
        lines.append(f"approval: by {approval.approved_by} at {approval.approved_at:%Y-%m-%d %H:%M:%S}Z "
                     f"(fingerprint {approval.fingerprint})" if approval else "approval: none recorded")
    provider_id = delivery.provider_message_id or batch.provider_message_id
    lines.append(f"provider: {batch.provider or 'unknown'}, provider message id {provider_id or '-'}")
    built = ", ".join(f"{m:%Y-%m-%d %H:%M:%S}Z" for m in claims(batch.send_moments)) or "-"
    lines.append(f"batch: {batch.id} (number {batch.number}), {batch.status}, built at {built}, settled "
                 f"{f'{batch.sent_at:%Y-%m-%d %H:%M:%S}Z' if batch.sent_at else '-'}")
    if delivery.status == DeliveryStatus.AMBIGUOUS:
        audit.warnings.append("this delivery is ambiguous: the provider may or may not have delivered it")
    if batch.provider and batch.provider not in FRAMED_HERE:
        audit.warnings.append(f"{batch.provider} framed the MIME message itself (its own Message-ID): this is the "
                              "message as it was handed over, subject, headers, text and HTML with this "
                              "reader's values filled")
