"""The one small interface every email provider implements.

A provider only translates a batch to its API and reports what happened. It never
touches the database: the ledger (``digest.deliver.ledger``) decides what is sent and
records the outcome. Transient failures are retried inside the provider, with backoff
and a deadline; what is left is raised as a :class:`ProviderError` that says whether it
is permanent, transient, or ambiguous (the request may have reached the provider).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Iterator, Mapping, Protocol, Sequence

from ...content import RenderedEmail
from ...message import build_message, delivery_message_id, message_domain


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    subscriber_id: int
    email: str
    tokens: Mapping[str, str]  # every token name the body uses -> this recipient's value
    headers: Mapping[str, str]  # per-recipient headers: List-Unsubscribe, List-Unsubscribe-Post
    #: The same tokens keyed ``%%name%%``, when the batch was built so (the send path,
    #: :func:`substituted`): SendGrid's request takes this dict as it is, not a copy per reader.
    substitutions: Mapping[str, str] | None = field(default=None, compare=False, repr=False)


class SubstitutedTokens(Mapping[str, str]):
    """A recipient's tokens by name, read through its ``%%name%%``-keyed substitutions:
    one dict per reader serves SendGrid's request and the providers that fill tokens
    themselves (SMTP, the outbox)."""

    __slots__ = ("_substitutions",)

    def __init__(self, substitutions: Mapping[str, str]):
        self._substitutions = substitutions

    def __getitem__(self, name: str) -> str:
        return self._substitutions[f"%%{name}%%"]

    def __iter__(self) -> Iterator[str]:
        return (key[2:-2] for key in self._substitutions)

    def __len__(self) -> int:
        return len(self._substitutions)

    def __repr__(self) -> str:
        return repr(dict(self))


def substituted(delivery_id: int, subscriber_id: int, email: str, substitutions: dict[str, str],
                headers: Mapping[str, str], _new=object.__new__) -> Recipient:
    """A :class:`Recipient` from its ``%%name%%``-keyed values (every value a ``str``), its
    tokens by name a view of them. Its fields are set in one step: a frozen dataclass's
    ``__init__`` sets each through ``object.__setattr__`` (0.84 against 0.50 us a reader,
    a million times an edition); the same object, equal to one made by ``__init__``."""
    recipient = _new(Recipient)
    recipient.__dict__.update(delivery_id=delivery_id, subscriber_id=subscriber_id, email=email,
                              tokens=SubstitutedTokens(substitutions), headers=headers, substitutions=substitutions)
    return recipient


@dataclass(frozen=True)
class OutgoingBatch:
    batch_id: int
    edition_id: int
    edition_date: date
    body: RenderedEmail
    recipients: Sequence[Recipient]
    headers: Mapping[str, str] = field(default_factory=dict)  # shared: List-Id, ...
    #: A confirmation or welcome to one reader, not list mail: no List-Unsubscribe
    #: headers (:func:`digest.message.build_message`), no open or click tracking.
    transactional: bool = False
    #: When this claim built the emails (their Date header, the heading's date): recorded
    #: on the batch (``Batch.send_moments``) so ``digest audit`` can build them again.
    sent_at: datetime | None = None


@dataclass
class SendResult:
    """What became of each recipient of a batch the provider took at least partly.

    Everyone not named in ``rejected``, ``unsent`` or ``ambiguous`` was accepted.
    """

    message_id: str | None = None  # the provider's id for the request, when it gives one
    # email -> reason: the provider refused this address itself (SendGrid 400 naming it,
    # SMTP 5xx); the same request would be refused again.
    rejected: dict[str, str] = field(default_factory=dict)
    # email -> reason: certainly not delivered, for a reason that may pass (a temporary
    # refusal whose retries ran out, a write that failed, a part of the batch the provider
    # could not take): failed, and safe to send again (``--retry-failed``).
    unsent: dict[str, str] = field(default_factory=dict)
    per_recipient_ids: dict[str, str] = field(default_factory=dict)  # email -> message id
    # email -> reason: the connection died while this recipient's message was in flight,
    # so it may have been delivered (SMTP). Record as ambiguous; never resend silently.
    ambiguous: dict[str, str] = field(default_factory=dict)
    # Set when the provider cannot go on (its folder is full, its key refused): the rest of
    # the edition is not tried; its batches stay queued for the next run.
    halt: str | None = None


class ProviderError(Exception):
    """A batch the provider did not (or may not) accept.

    ``permanent``: retrying will not help (bad key, invalid request).
    ``ambiguous``: the request may have reached the provider but its answer was lost;
    the batch must not be resent silently.
    ``halt``: nothing of this batch was sent, and no other batch can be until the
    operator fixes something (a refused API key, an outbox folder that cannot be written):
    the batch goes back to the queue and the edition stops with this one message.
    """

    def __init__(self, message: str, *, permanent: bool = False, ambiguous: bool = False, halt: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.ambiguous = ambiguous
        self.halt = halt


class Provider(Protocol):
    name: str
    max_recipients: int

    def send(self, batch: OutgoingBatch) -> SendResult: ...

    def close(self) -> None: ...


def frame_message(batch: OutgoingBatch, recipient: Recipient, *, config, secret: str | None,
                  extra_headers: Mapping[str, str] | None = None) -> EmailMessage:
    """One reader's MIME message, as every provider that frames its own (the outbox, SMTP)
    builds it: an edition's email is dated by its batch's moment and its Message-ID derived
    from the edition and the reader (:func:`digest.message.delivery_message_id`), so
    ``digest audit`` builds the same bytes again; other emails get a random Message-ID."""
    domain = message_domain(config)
    if batch.edition_id and secret:
        message_id = delivery_message_id(secret, batch.edition_id, recipient.subscriber_id, domain)
    else:
        message_id = make_msgid(domain=domain)
    headers = {"X-Digest-Edition": batch.edition_date.isoformat(), "X-Digest-Batch": str(batch.batch_id)}
    return build_message(batch.body, config=config, to=recipient.email, tokens=recipient.tokens,
                         message_id=message_id, date=batch.sent_at,
                         extra_headers={**headers, **(extra_headers or {})}, transactional=batch.transactional)
