"""How a paid-promotion disclosure reads in an email: the sentence next to a sponsored
piece and the one line next to a sponsored headline.

Securities Act 17(b) asks that who paid, how much and in what form stand next to paid
promotion; these are the words the templates print (the ``sponsor_lines`` and
``sponsor_short`` filters), kept apart from the rendering machinery because they are a
compliance rule, not a layout.
"""

from __future__ import annotations

from .content import SponsorDisclosure


def sponsor_lines(sponsor: SponsorDisclosure | None) -> list[str]:
    """The paid-promotion disclosure as printed next to a sponsored piece.

    The publisher's full sentence when there is one; the payer, amount and form are added
    as a line of their own unless that sentence already names them, so the three facts
    17(b) asks for are always in the email itself.
    """
    if sponsor is None:
        return []
    lines = [sponsor.text.strip()] if sponsor.text and sponsor.text.strip() else []
    said = lines[0].lower() if lines else ""
    facts = [
        (label, value.strip())
        for label, value in (("Paid by", sponsor.payer), ("Amount", sponsor.amount), ("Form", sponsor.form))
        if value and value.strip() and value.strip().lower() not in said
    ]
    if facts:
        lines.append("; ".join(f"{label}: {value}" for label, value in facts) + ".")
    if not lines:
        lines.append("Paid promotion: the payer has not been disclosed.")
    return lines


def sponsor_short(sponsor: SponsorDisclosure | None) -> str:
    """The paid-promotion disclosure of a headline, on one line:
    ``Sponsored by Voltline Battery Metals (USD 4,500, cash)``.

    A sponsored piece that is only a headline (beyond ``max_per_topic``, or moved out by
    the size budget) is still paid promotion: who paid, how much and in what form stand
    next to it (Securities Act 17(b)). Without all three facts, the publisher's sentence.
    """
    if sponsor is None:
        return ""
    payer, amount, form = ((v or "").strip() for v in (sponsor.payer, sponsor.amount, sponsor.form))
    text = (sponsor.text or "").strip()
    if payer and amount and form:
        return f"Sponsored by {payer} ({amount}, {form})"
    if text:
        return f"Sponsored: {text}"
    facts = ", ".join(v for v in (amount, form) if v)
    short = f"Sponsored by {payer}" if payer else "Sponsored (payer not disclosed)"
    return f"{short} ({facts})" if facts else short
