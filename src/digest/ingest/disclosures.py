"""Recognise the attribution, author-disclosure and paid-promotion paragraphs of a
briefing (as WordPress publishers write them) and lift them out of the body.

They become fields of the briefing so every email prints them next to the piece, in
a fixed place, whatever the feed's markup did. Patterns are case-insensitive and
tolerant of labels with colons or dashes and of bold/italic wrappers (they look at a
paragraph's text, not its tags). Runs on *sanitised* HTML, whose paragraphs are
normalised to ``<p>...</p>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .drafts import Sponsor
from .sanitize import html_to_text

_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S | re.I)
_LABEL_SEP = r"\s*[:\-\u2013\u2014]\s*"

ATTRIBUTION = re.compile(
    r"^(?:(?:information|info|research|data)\b.{0,60}?\b(?:was|were|is)\s+(?:found|sourced|obtained|gathered)"
    r"\s+(?:via|from|through)\b|sources?" + _LABEL_SEP + r")",
    re.I,
)
DISCLOSURE = re.compile(r"^(?:author(?:'s)?\s+)?disclosures?" + _LABEL_SEP + r"(?P<text>.+)$", re.I | re.S)
DISCLOSURE_SENTENCE = re.compile(
    r"^the\s+author\s+(?:holds|owns|has\s+no|does\s+not\s+(?:hold|own)|is\s+not)\b", re.I
)
PAID = re.compile(
    r"^(?:paid\s+promotion|sponsored(?:\s+content)?|advertisement)" + _LABEL_SEP + r"(?P<text>.+)$", re.I | re.S
)
PAID_DETAILS = re.compile(
    r"^(?P<payer>.+?)\s+(?:has\s+)?paid\s+(?:us\s+|the\s+publisher\s+)?(?P<amount>.+?)"
    r"\s+in\s+(?P<form>.+?)(?:\s+(?:for|to|as)\s+.*)?[.!]?$",
    re.I | re.S,
)
NONE_WORDS = re.compile(r"^(?:none|nothing to disclose|n/?a)[.!]?$", re.I)


@dataclass(frozen=True)
class Disclosures:
    attribution: str | None = None
    author_disclosure: str | None = None
    sponsor: Sponsor | None = None


def parse_sponsor(sentence: str) -> Sponsor:
    """Split "Paid promotion: <payer> paid <amount> in <form> ..." into its parts.

    When the wording does not fit, the sentence is still kept (and shown) as the
    disclosure; only the separate fields stay empty.
    """
    match = PAID.match(sentence)
    details = match.group("text").strip() if match else sentence.strip()
    parts = PAID_DETAILS.match(details)
    if not parts:
        return Sponsor(payer=None, amount=None, form=None, text=sentence.strip())
    return Sponsor(
        payer=parts.group("payer").strip(),
        amount=parts.group("amount").strip(),
        form=parts.group("form").strip().rstrip("."),
        text=sentence.strip(),
    )


def normalise_disclosure(text: str) -> str:
    text = text.strip()
    return "none" if NONE_WORDS.match(text) else text


def extract_disclosures(body_html: str) -> tuple[str, Disclosures]:
    """Return the body without the recognised paragraphs, and what they said."""
    attributions: list[str] = []
    disclosures: list[str] = []
    sponsor: Sponsor | None = None

    def _take(match: re.Match[str]) -> str:
        nonlocal sponsor
        text = html_to_text(match.group(1))
        if ATTRIBUTION.match(text):
            attributions.append(text)
        elif m := DISCLOSURE.match(text):
            disclosures.append(normalise_disclosure(m.group("text")))
        elif DISCLOSURE_SENTENCE.match(text):
            disclosures.append(text)
        elif PAID.match(text):
            if sponsor is None:
                sponsor = parse_sponsor(text)
            else:  # a second paid-promotion paragraph: keep its words with the first
                sponsor = Sponsor(sponsor.payer, sponsor.amount, sponsor.form, f"{sponsor.text} {text}")
        else:
            return match.group(0)
        return ""

    body = _PARAGRAPH.sub(_take, body_html).strip()
    return body, Disclosures(
        attribution=" ".join(attributions) or None,
        author_disclosure=" ".join(disclosures) or None,
        sponsor=sponsor,
    )
