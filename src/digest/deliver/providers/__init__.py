"""Email providers: one small interface (:mod:`.base`), one module per provider
(:mod:`.sendgrid` with its request body in :mod:`.sendgrid_payload`, :mod:`.smtp`,
:mod:`.outbox`), their shared retry with backoff and a deadline (:mod:`.retry`), and the
one place the configured provider is chosen (:mod:`.factory`).

A provider translates a batch to its API and reports what happened; it never touches the
database. The batch (:mod:`digest.deliver.batch`) is the only code that hands it one.
"""

from .base import OutgoingBatch, Provider, ProviderError, Recipient, SendResult

__all__ = ["OutgoingBatch", "Provider", "ProviderError", "Recipient", "SendResult"]
