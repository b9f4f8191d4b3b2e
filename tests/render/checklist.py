"""The email checklist (EMAIL-CHECKLIST.md: headers and structure, content, rendering)
as assertions on a built message, for the tests.

Every ``check_*`` takes the :class:`email.message.EmailMessage` a subscriber would get
(tokens filled by ``digest.message.build_message``) and, optionally, the Selection it was
rendered from and the publication config; with them the checks are exact, without them
they check what the message itself shows. Each runs the check of the same name in
``digest.review`` (what the review page shows editors) and raises AssertionError with
what it found. The browser rules (no horizontal scrolling, video columns stacking) are in
test_browser.py: they need Chromium. This module imports nothing relative, so other
tests can load it by file path.
"""

from __future__ import annotations

from email.message import EmailMessage

from digest.review import checklist_email, checklist_items, checklist_rendering
from digest.review.checklist_email import TOKEN_RE, EmailView, MissingParts, by_class, squash, tree  # noqa: F401
from digest.review.checklist_rendering import (ACTIVE_TAGS, BAD_SCHEMES, DEFAULT_MAX_HTML_BYTES,  # noqa: F401
                                               URL_ATTRIBUTES)


def parts(msg: EmailMessage) -> tuple[str, str]:
    """(text part, html part), decoded."""
    try:
        return checklist_email.parts(msg)
    except MissingParts as exc:
        raise AssertionError(str(exc)) from None


def unsubscribe_url(msg: EmailMessage) -> str:
    url = checklist_email.unsubscribe_url(msg)
    assert url, f"List-Unsubscribe has no https URL: {str(msg['List-Unsubscribe'] or '')!r}"
    return url


def _passes(check, msg: EmailMessage, selection, config, **options) -> None:
    try:
        view = EmailView.of(msg)
    except MissingParts as exc:
        raise AssertionError(str(exc)) from None
    problems = list(check(view, selection, config, **options))
    assert not problems, "; ".join(problems)


def check_structure(msg: EmailMessage, selection=None, config=None, *, transactional: bool = False) -> None:
    """Parts and headers. A ``transactional`` message (a signup's confirmation or welcome:
    sent because of what one reader did, not list mail) has no List-Unsubscribe headers."""
    _passes(checklist_email.structure, msg, selection, config, transactional=transactional)


def check_no_tokens_left(msg: EmailMessage, selection=None, config=None) -> None:
    _passes(checklist_email.no_tokens_left, msg, selection, config)


def check_subject_truthful(msg: EmailMessage, selection=None, config=None) -> None:
    _passes(checklist_email.subject_truthful, msg, selection, config)


def check_unsubscribe_and_address(msg: EmailMessage, selection=None, config=None, *, url: str | None = None) -> None:
    """A visible unsubscribe link and the publisher's postal address and contact, in both
    parts. The link is the List-Unsubscribe URL, or ``url`` for a message without one."""
    _passes(checklist_email.unsubscribe_and_address, msg, selection, config, url=url)


def check_disclosures_next_to_items(msg: EmailMessage, selection=None, config=None) -> None:
    """Each card carries its source attribution and author disclosure (and a sponsored one
    its label and paid-promotion disclosure) inside the card itself."""
    _passes(checklist_items.disclosures_next_to_items, msg, selection, config)


def check_sponsored_labelled_wherever_shown(msg: EmailMessage, selection=None, config=None) -> None:
    """A sponsored piece is labelled paid, with its payer, amount and form next to it,
    wherever it went (card, recommended, related headline, any list of titles), in the
    HTML and in the text part (Securities Act 17(b))."""
    _passes(checklist_items.sponsored_labelled_wherever_shown, msg, selection, config)


def check_standing_disclaimer(msg: EmailMessage, selection=None, config=None) -> None:
    """The "not a recommendation to buy or sell" disclaimer, in the footer, after every item."""
    _passes(checklist_email.standing_disclaimer, msg, selection, config)


def check_sanitised(msg: EmailMessage, selection=None, config=None) -> None:
    """No active content and no remote CSS anywhere in the HTML."""
    _passes(checklist_rendering.sanitised, msg, selection, config)


def check_size_budget(msg: EmailMessage, selection=None, config=None) -> None:
    _passes(checklist_rendering.size_budget, msg, selection, config)


def check_document(msg: EmailMessage, selection=None, config=None) -> None:
    """Doctype, lang, hidden preheader first, presentation tables, alt text, dark mode, MSO."""
    _passes(checklist_rendering.document, msg, selection, config)
