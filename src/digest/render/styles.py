"""The email's styles table (``templates/email/styles.j2``), read once per renderer.

Its ``[elements]`` lines become ``css``, whose values the templates write into each element's
``style`` attribute; its ``[briefing-body]`` lines become the CSS rules premailer inlines
into a briefing's own HTML (:func:`digest.render.inline.inline_body_html`). Written into
the elements rather than inlined per body: premailer over a whole body cost ~14 ms, and
every body has the same elements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

from jinja2 import Environment
from markupsafe import Markup

from .errors import RenderError

STYLES_TEMPLATE = "styles.j2"
BODY_CLASS = "briefing-body"
_SECTION = re.compile(r"^\[([a-z-]+)\]$")
_ENTRY = re.compile(r"^([^=]+?)\s*=\s*(.+)$")
_UNSAFE = re.compile(r"[\"<>&{}]")


@dataclass(frozen=True)
class Styles:
    elements: SimpleNamespace  # name -> declarations, for style="{{ css.name }}" (already safe)
    body_css: str  # rules for a briefing's own HTML, under .briefing-body


def parse_styles(text: str, where: str = STYLES_TEMPLATE) -> Styles:
    """``[section]`` headers and ``name = declarations`` lines; anything else is an error
    naming its line."""
    sections: dict[str, dict[str, str]] = {"elements": {}, BODY_CLASS: {}}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if (header := _SECTION.match(line)) is not None:
            current = sections.get(header.group(1))
            if current is None:
                raise RenderError(f"{where}:{number}: unknown section [{header.group(1)}] "
                                  f"(expected [elements] or [{BODY_CLASS}])")
        elif (entry := _ENTRY.match(line)) is not None and current is not None:
            if _UNSAFE.search(entry.group(2)):
                raise RenderError(f"{where}:{number}: a style cannot hold \" < > & or braces: {line!r}")
            current[entry.group(1)] = entry.group(2).rstrip("; ")
        else:
            raise RenderError(f"{where}:{number}: expected 'name = declarations' under a [section]: {line!r}")
    body_css = "\n".join(
        f"{', '.join(f'.{BODY_CLASS} {s.strip()}' for s in selectors.split(','))} {{ {declarations} }}"
        for selectors, declarations in sections[BODY_CLASS].items()
    )
    # Markup: checked above, so written into style="..." as is (no escaping per use).
    return Styles(SimpleNamespace(**{name: Markup(value) for name, value in sections["elements"].items()}), body_css)


def load_styles(env: Environment, branding) -> Styles:
    try:
        text = env.get_template(STYLES_TEMPLATE).render(branding=branding)
    except Exception as exc:  # noqa: BLE001 - a template error, named with its file
        raise RenderError(f"{STYLES_TEMPLATE}: {exc}") from exc
    return parse_styles(text)
