"""The email checklist's reading of a message (its two parts, parsed once) and its checks of
the message as a whole: headers and structure, no placeholder left, a truthful subject, the
unsubscribe link and postal address, the standing disclaimer.

Each check takes an :class:`EmailView` and, optionally, the Selection the body was rendered
from and the publication config (with them the checks are exact; without them they check
what the message itself shows), and yields what fails, in plain words, naming where. A check
stops at a failure the rest of it cannot be judged without.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Iterator

import lxml.html

TOKEN_RE = re.compile(r"%%(?:date:\d{12}|unsubscribe_url|preferences_url|archive_url|email)%%")  # ours, not a feed's own text
#: The link schemes a List-Unsubscribe URL may have: RFC 8058's one-click needs https.
HTTPS = ("https",)


class MissingParts(ValueError):
    """The message lacks a text/plain or a text/html part: no other check can read it."""


def parts(msg: EmailMessage) -> tuple[str, str]:
    """(text part, html part), decoded."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    if text is None or html is None:
        raise MissingParts("the message needs a text/plain and a text/html part")
    return text.get_content(), html.get_content()


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def tree(html: str):
    return lxml.html.document_fromstring(html)


def by_class(root, name: str) -> list:
    return root.xpath(f'.//*[contains(concat(" ", normalize-space(@class), " "), " {name} ")]')


@dataclass
class EmailView:
    """A message as the checks read it: its headers, its two parts, the HTML parsed once."""

    msg: EmailMessage
    text: str
    html: str
    root: object = field(repr=False)
    #: the schemes a List-Unsubscribe URL may have (see :data:`HTTPS`)
    schemes: tuple[str, ...] = HTTPS

    @classmethod
    def of(cls, msg: EmailMessage, *, schemes: tuple[str, ...] = HTTPS) -> "EmailView":
        text, html = parts(msg)
        return cls(msg, text, html, tree(html), schemes)

    _texts: dict = field(default_factory=dict, repr=False)

    @property
    def plain(self) -> str:
        return squash(self.text)

    def text_of(self, element) -> str:
        """An element's text, squashed (kept: the sponsored check asks again for each title)."""
        if element not in self._texts:
            self._texts[element] = squash(element.text_content())
        return self._texts[element]


def unsubscribe_url(msg: EmailMessage, schemes: tuple[str, ...] = HTTPS) -> str | None:
    header = str(msg["List-Unsubscribe"] or "")
    match = re.search(rf"<((?:{'|'.join(schemes)})://[^>]+)>", header)
    return match.group(1) if match else None


def briefings(selection) -> list:
    return [b for s in selection.sections for b in s.briefings] + list(selection.recommended)


# ----------------------------------------------------------------- headers and structure


def structure(view: EmailView, selection=None, config=None, *, transactional: bool = False) -> Iterator[str]:
    """Parts and headers. A ``transactional`` message (a signup's confirmation or welcome:
    sent because of what one reader did, not list mail) has no List-Unsubscribe headers."""
    msg = view.msg
    if msg.get_content_type() != "multipart/alternative":
        yield f"the message is {msg.get_content_type()}, not multipart/alternative"
    kinds = [p.get_content_type() for p in msg.iter_parts()]
    if kinds != ["text/plain", "text/html"]:
        yield f"parts must be text/plain then text/html, got {kinds}"
    if transactional:
        if msg["List-Unsubscribe"] is not None or msg["List-Unsubscribe-Post"] is not None:
            yield "list headers on a transactional message"
    else:
        header = str(msg["List-Unsubscribe"] or "")
        schemes = "|".join(view.schemes)
        if not re.fullmatch(rf"<(?:{schemes})://[^<>\s,]+>(, ?<mailto:[^<>\s]+>)?", header):
            yield f"List-Unsubscribe header is {header!r}: one https URL expected (and optionally a mailto)"
        if str(msg["List-Unsubscribe-Post"]) != "List-Unsubscribe=One-Click":
            yield f"List-Unsubscribe-Post header is {msg['List-Unsubscribe-Post']!r}, not List-Unsubscribe=One-Click"
    for name in ("List-Id", "Message-ID", "Date", "Subject", "From", "To"):
        if not msg[name]:
            yield f"missing {name} header"
    if config is not None and config.publication.list_id not in str(msg["List-Id"]):
        yield f"List-Id header {str(msg['List-Id'])!r} does not name the list {config.publication.list_id!r}"


def no_tokens_left(view: EmailView, selection=None, config=None) -> Iterator[str]:
    for name, value in view.msg.items():
        if TOKEN_RE.search(str(value)):
            yield f"unreplaced token in the {name} header: {value!r}"
    for where, part in (("text part", view.text), ("HTML", view.html)):
        left = sorted(set(TOKEN_RE.findall(part)))
        if left:
            yield f"unreplaced tokens in the {where}: {left}"


def _is_recommended(element) -> bool:
    return any("recommended" in (a.get("class") or "").split() for a in element.iterancestors())


def subject_truthful(view: EmailView, selection=None, config=None) -> Iterator[str]:
    subject = str(view.msg["Subject"])
    cards = by_class(view.root, "card-title")
    if config is not None and not subject.startswith(config.publication.name):
        yield f"the subject {subject!r} does not start with the publication's name"
    match = re.search(r"(\d+) briefings? on ", subject)
    if match:
        shown = len([c for c in cards if not _is_recommended(c)])
        if int(match.group(1)) != shown:
            yield f"subject says {match.group(1)} briefings, the email shows {shown}"
    if selection is not None:
        day = selection.edition_date
        if not (str(day.year) in subject and str(day.day) in subject):
            yield f"subject has no edition date: {subject}"


# ----------------------------------------------------------------- content


def unsubscribe_and_address(view: EmailView, selection=None, config=None, *, url: str | None = None) -> Iterator[str]:
    """A visible unsubscribe link and the publisher's postal address and contact, in both
    parts. The link is the List-Unsubscribe URL, or ``url`` for a message without one."""
    url = url or unsubscribe_url(view.msg, view.schemes)
    if url is None:
        yield f"List-Unsubscribe has no https URL: {str(view.msg['List-Unsubscribe'] or '')!r}"
        return
    links = [a for a in view.root.iter("a") if a.get("href") == url]
    if not links:
        yield "no link to the List-Unsubscribe URL in the HTML"
    elif not any("unsubscribe" in (a.text_content() or "").lower() for a in links):
        yield "the unsubscribe link has no visible label"
    for a in links:
        if any("display:none" in (el.get("style") or "").replace(" ", "") for el in [a, *a.iterancestors()]):
            yield "the unsubscribe link is hidden"
            break
    if url not in view.text:
        yield "the text part lacks the unsubscribe URL"
    addresses = by_class(view.root, "postal-address")
    if not addresses:
        yield "no postal address block in the HTML"
        return
    shown = squash(addresses[0].text_content())
    if config is not None:
        pub = config.publication
        if squash(pub.postal_address) not in shown:
            yield "the postal address is not in the HTML"
        if squash(pub.postal_address) not in view.plain:
            yield "the postal address is not in the text part"
        if pub.contact not in shown or pub.contact not in view.text:
            yield "the contact is missing"
    elif not re.search(r"\d", shown):
        yield f"no postal address: {shown!r}"


def standing_disclaimer(view: EmailView, selection=None, config=None) -> Iterator[str]:
    """The "not a recommendation to buy or sell" disclaimer, in the footer, after every item."""
    root = view.root
    blocks = by_class(root, "disclaimer")
    if not blocks:
        yield "no disclaimer in the HTML"
        return
    shown = squash(blocks[-1].text_content())
    if config is not None:
        if squash(config.disclaimer.text) not in shown:
            yield "the configured disclaimer is not printed in full in the HTML"
        if squash(config.disclaimer.text) not in view.plain:
            yield "the disclaimer is not in the text part"
    elif not re.search(r"recommendation to buy or sell", shown, re.I):
        yield f"the disclaimer does not say it is not a recommendation to buy or sell: {shown!r}"
    order = {el: i for i, el in enumerate(root.iter())}
    if any(order[card] >= order[blocks[-1]] for card in by_class(root, "card")):
        yield "an item comes after the footer disclaimer"
    if not any("footer" in (a.get("class") or "") for a in blocks[-1].iterancestors()):
        yield "disclaimer not in the footer"
