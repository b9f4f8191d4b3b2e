"""A proof: one copy of an edition sent to an editor's address, recorded nowhere.

It carries the selection of a chosen subscriber (or every topic) with dates in their
zone (or the publication's default zone), a "[Proof]" subject prefix, and links made for no subscriber (id 0), so clicking its unsubscribe link in
the proof changes nobody's subscription.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..content import RenderedEmail
from ..errors import DigestError
from ..message import recipient_headers, shared_headers
from ..models import Subscriber
from ..runtime import Runtime
from ..subscribers import normalise_email
from .providers.base import OutgoingBatch, Provider, Recipient, SendResult
from .batch import send_unrecorded
from .recipients import make_link_maker

PROOF_PREFIX = "[Proof] "


def send_proof(
    runtime: Runtime,
    provider: Provider,
    edition_date: date,
    to: str,
    *,
    subscriber_email: str | None = None,
    now: datetime | None = None,
    renderer=None,
) -> SendResult:
    from ..render import Renderer
    from ..select import Selector

    config = runtime.settings.config
    now = now or datetime.now(timezone.utc)
    to = normalise_email(to)
    links = make_link_maker(runtime)
    with runtime.sessions() as session:
        selector = Selector(session, config, now)
        if subscriber_email:
            email = normalise_email(subscriber_email)
            subscriber = session.scalars(
                select(Subscriber).where(Subscriber.email == email).options(selectinload(Subscriber.topics))
            ).one_or_none()
            if subscriber is None:
                raise DigestError(f"no subscriber {email!r} (see 'digest subscribers list')")
            selection = selector.for_subscriber(subscriber, edition_date)
            timezone_name = subscriber.timezone
        else:
            selection = selector.for_topics(config.topic_slugs, edition_date)
            timezone_name = config.schedule.default_timezone
    rendered = (renderer or Renderer(config)).render(selection)
    return send_rendered_proof(runtime, provider, edition_date, to, rendered, timezone_name, now=now, links=links)


def send_rendered_proof(runtime: Runtime, provider: Provider, edition_date: date, to: str, rendered: RenderedEmail,
                        timezone_name: str, *, now: datetime, links=None) -> SendResult:
    """A proof of a body already rendered (its dates still tokens): dated in
    ``timezone_name``, marked in its subject, its links made for nobody."""
    config = runtime.settings.config
    links = links or make_link_maker(runtime)
    to = normalise_email(to)
    rendered = rendered.dated(timezone_name, now)
    rendered = replace(rendered, subject=PROOF_PREFIX + rendered.subject)
    tokens = links.token_values(0, to, 0)
    batch = OutgoingBatch(
        batch_id=0,
        edition_id=0,
        edition_date=edition_date,
        body=rendered,
        recipients=[Recipient(0, 0, to, tokens, recipient_headers(tokens["unsubscribe_url"]))],
        headers=shared_headers(config),
    )
    return send_unrecorded(provider, batch)
