"""Outgoing batches for provider tests, built the way the ledger builds them."""

from __future__ import annotations

from datetime import date

from digest.content import RenderedEmail, tokens_in
from digest.deliver.providers.base import OutgoingBatch, Recipient
from digest.links import LinkMaker
from digest.message import recipient_headers, shared_headers
from digest.settings import Settings

SUBJECT = "Ridgeline daily for %%email%%: copper and lithium"
TEXT = (
    "Copper: smelters cut output.\n\n"
    "Not a recommendation to buy or sell.\n"
    "Preferences: %%preferences_url%%\n"
    "View in browser: %%archive_url%%\n"
    "Unsubscribe: %%unsubscribe_url%%\n"
)
HTML = (
    "<!doctype html><html lang=\"en\"><body>"
    "<p>Copper: smelters cut output. Caf\u00e9 \u2014 \u20ac5 figures.</p>"
    "<p>Sent to %%email%%. <a href=\"%%preferences_url%%\">Preferences</a> "
    "<a href=\"%%archive_url%%\">View in browser</a> "
    "<a href=\"%%unsubscribe_url%%\">Unsubscribe</a></p></body></html>"
)


def rendered_email(html: str = HTML) -> RenderedEmail:
    return RenderedEmail(
        subject=SUBJECT, preheader="Copper and lithium today", html=html, text=TEXT,
        tokens=frozenset(tokens_in(SUBJECT + TEXT + html)),
    )


def email_for(n: int) -> str:
    return f"reader{n:05d}@example.org"


def make_batch(
    settings: Settings,
    count: int = 3,
    *,
    batch_id: int = 11,
    edition_id: int = 5,
    first_subscriber: int = 1,
    body: RenderedEmail | None = None,
    emails: list[str] | None = None,
) -> OutgoingBatch:
    links = LinkMaker(settings.base_url, settings.require_secret_key())
    emails = emails or [email_for(first_subscriber + i) for i in range(count)]
    recipients = []
    for i, email in enumerate(emails):
        subscriber_id = first_subscriber + i
        tokens = links.token_values(subscriber_id, email, body_id=7)
        recipients.append(Recipient(
            delivery_id=1000 + subscriber_id, subscriber_id=subscriber_id, email=email,
            tokens=tokens, headers=recipient_headers(tokens["unsubscribe_url"]),
        ))
    return OutgoingBatch(
        batch_id=batch_id, edition_id=edition_id, edition_date=date(2026, 1, 5),
        body=body or rendered_email(), recipients=recipients, headers=shared_headers(settings.config),
    )


def send_pending(runtime, provider, edition_id: int) -> list:
    """Every pending batch of an edition, one after another in this process, as the
    worker's tick sends them (``InlineRunner``); their outcomes."""
    from digest.deliver.batch import Sender
    from digest.deliver.runners import LedgerBatches
    from digest.deliver.runners.in_process import InlineRunner

    runner = InlineRunner(Sender.open(runtime, provider))
    runner.start(LedgerBatches.of_edition(runtime, edition_id))
    return list(runner.outcomes())
