"""The status state machine, and that signed tokens stay out of the access log."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from digest.models import Subscriber
from digest.suppression import can_resubscribe, resubscribe, suppress
from digest.web.security import TokenRedactingFilter, redact_path

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def subscriber(status: str = "active") -> Subscriber:
    return Subscriber(email="s@example.com", status=status)


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_suppress_moves_an_active_subscriber(status):
    s = subscriber()
    assert suppress(s, status, now=NOW) is True
    assert (s.status, s.status_changed_at) == (status, NOW)


@pytest.mark.parametrize(
    "current, requested, expected",
    [
        ("unsubscribed", "unsubscribed", "unsubscribed"),
        ("unsubscribed", "complained", "complained"),
        ("bounced", "unsubscribed", "bounced"),
        ("complained", "bounced", "complained"),
    ],
)
def test_suppress_never_weakens(current, requested, expected):
    s = subscriber(current)
    suppress(s, requested, now=NOW)
    assert s.status == expected


def test_suppress_rejects_unknown_statuses():
    with pytest.raises(ValueError):
        suppress(subscriber(), "active")


def test_resubscribe_from_unsubscribed_or_complained_never_bounced():
    for status in ("unsubscribed", "complained"):
        s = subscriber(status)
        assert can_resubscribe(s) and resubscribe(s, now=NOW) is True
        assert s.status == "active"
    assert not can_resubscribe(subscriber("bounced"))
    with pytest.raises(ValueError):
        resubscribe(subscriber("bounced"))


def test_redact_path_hides_tokens_only():
    assert redact_path("/unsubscribe/WzFd.abc-_") == "/unsubscribe/<token>"
    assert redact_path("/preferences/WzFd.abc?x=1") == "/preferences/<token>?x=1"
    assert redact_path("/archive/WzEsMl0.sig") == "/archive/<token>"
    assert redact_path("/healthz") == "/healthz"


def test_access_log_filter_rewrites_the_path_argument():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "POST", "/unsubscribe/WzFd.secret", "1.1", 200), None)
    assert TokenRedactingFilter().filter(record)
    assert "secret" not in record.getMessage()
    assert "/unsubscribe/<token>" in record.getMessage()
