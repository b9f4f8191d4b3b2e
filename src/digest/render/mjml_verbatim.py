"""Which text MRML writes as it is in a document's ``<title>``, its preview and the
preview's ``aria-label``: :class:`~.mjml_parts.MjmlParts` puts a body's title and preview
into HTML compiled once with markers in their place only when MRML would have written them
unchanged (otherwise that body's head is compiled with its own text)."""

from __future__ import annotations

from mjml import mjml2html

#: Characters MRML writes as they are in <title>, the aria-label and the preview (checked
#: once each: the aria-label escapes some, as Rust's Debug does: "\u{fe0f}", "\n").
_VERBATIM: dict[str, bool] = {}
_VERBATIM_CHARS: set[str] = set()  # those of _VERBATIM written as they are


def written_verbatim(text: str) -> bool:
    """Whether MRML writes ``text`` as it is in a document's title and preview (no markup,
    and every character checked once per process by :func:`_char_verbatim`)."""
    if "<" in text:
        return False
    if _VERBATIM_CHARS.issuperset(text):  # the usual case: every character known (one C loop)
        return True
    for char in set(text).difference(_VERBATIM_CHARS):
        known = _VERBATIM.get(char)
        if known is None:
            known = _VERBATIM[char] = _char_verbatim(char)
            if known:
                _VERBATIM_CHARS.add(char)
        if not known:
            return False
    return True


def _char_verbatim(char: str) -> bool:
    """Whether MRML writes ``char`` as it is, first in the title and preview and later."""
    text = f"{char}a{char}"
    try:
        html = mjml2html(f"<mjml><mj-head><mj-title>{text}</mj-title><mj-preview>{text}</mj-preview></mj-head>"
                         "<mj-body></mj-body></mjml>", fonts={}, disable_comments=False)
    except Exception:
        return False
    return f"<title>{text}</title>" in html and f'aria-label="{text}"' in html and f'hidden;">{text}</div>' in html
