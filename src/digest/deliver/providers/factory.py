"""The provider named by ``DIGEST_PROVIDER``, built from settings at the edge."""

from __future__ import annotations

from ...errors import ConfigError
from ...settings import Settings
from .base import Provider


def make_provider(settings: Settings) -> Provider:
    """``outbox`` (default), ``sendgrid`` or ``smtp``; the network providers are imported
    only when chosen, so the outbox works without their dependencies configured."""
    if settings.provider == "outbox":
        from .outbox import OutboxProvider

        return OutboxProvider(settings)
    if settings.provider == "sendgrid":
        from .sendgrid import SendGridProvider

        return SendGridProvider(settings)
    if settings.provider == "smtp":
        from .smtp import SmtpProvider

        return SmtpProvider(settings)
    raise ConfigError(f"DIGEST_PROVIDER: unknown provider {settings.provider!r}")
