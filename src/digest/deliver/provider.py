"""The one small interface every email provider implements.

A provider only translates a batch to its API and reports what happened. It never
touches the database: the ledger (``digest.deliver.ledger``) decides what is sent and
records the outcome. Transient failures are retried inside the provider, with backoff
and a deadline; what is left is raised as a :class:`ProviderError` that says whether it
is permanent, transient, or ambiguous (the request may have reached the provider).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Mapping, Protocol, Sequence

from ..content import RenderedEmail


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    subscriber_id: int
    email: str
    tokens: Mapping[str, str]  # every token name the body uses -> this recipient's value
    headers: Mapping[str, str]  # per-recipient headers: List-Unsubscribe, List-Unsubscribe-Post


@dataclass(frozen=True)
class OutgoingBatch:
    batch_id: int
    edition_id: int
    edition_date: date
    body: RenderedEmail
    recipients: Sequence[Recipient]
    headers: Mapping[str, str] = field(default_factory=dict)  # shared: List-Id, ...


@dataclass
class SendResult:
    message_id: str | None = None  # the provider's id for the request, when it gives one
    rejected: dict[str, str] = field(default_factory=dict)  # email -> reason (refused recipients)
    per_recipient_ids: dict[str, str] = field(default_factory=dict)  # email -> message id
    # email -> reason: the connection died while this recipient's message was in flight,
    # so it may have been delivered (SMTP). Record as ambiguous; never resend silently.
    ambiguous: dict[str, str] = field(default_factory=dict)


class ProviderError(Exception):
    """A batch the provider did not (or may not) accept.

    ``permanent``: retrying will not help (bad key, invalid request).
    ``ambiguous``: the request may have reached the provider but its answer was lost;
    the batch must not be resent silently.
    """

    def __init__(self, message: str, *, permanent: bool = False, ambiguous: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.ambiguous = ambiguous


class Provider(Protocol):
    name: str
    max_recipients: int

    def send(self, batch: OutgoingBatch) -> SendResult: ...

    def close(self) -> None: ...
