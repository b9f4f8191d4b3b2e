"""The welcome email a reader gets once their signup is confirmed, when ``[signup]
welcome_email`` is on: what they will get (their topics) and when (their hour and zone),
with their preferences and unsubscribe links."""

from __future__ import annotations

from ..content import RenderedEmail
from ..deliver.providers.base import Provider, SendResult
from ..links import LinkMaker
from ..models import Subscriber
from ..settings import PublicationConfig
from .confirmation import WELCOME_BATCH, render_email, send_to_one


def welcome_email(config: PublicationConfig, subscriber: Subscriber) -> RenderedEmail:
    """Topics in the config's order; per-reader links stay as tokens (filled at sending,
    as in a digest)."""
    chosen = set(subscriber.topic_slugs)
    values = {"publication": config.publication, "topics": [t.title for t in config.topics if t.slug in chosen],
              "send_hour": subscriber.send_hour, "timezone": subscriber.timezone}
    return render_email("welcome", values)


def send_welcome(provider: Provider, config: PublicationConfig, links: LinkMaker,
                 subscriber: Subscriber) -> SendResult:
    return send_to_one(provider, config, links, subscriber, welcome_email(config, subscriber),
                       batch_id=WELCOME_BATCH)
