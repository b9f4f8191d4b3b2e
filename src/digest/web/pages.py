"""The small HTML pages a subscriber sees, rendered from ``templates/`` with Jinja2.

Autoescaping is on for every template (names and addresses are user data) and undefined
variables are errors, so a page never shows a half-filled sentence.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from ..settings import PublicationConfig


class Pages:
    """Renders a named template with the publication's branding around it."""

    def __init__(self, config: PublicationConfig):
        self._env = Environment(
            loader=PackageLoader("digest.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._brand = {
            "publication": config.publication,
            "branding": config.branding,
        }

    def render(self, name: str, status_code: int = 200, **context) -> HTMLResponse:
        html = self._env.get_template(name).render(**self._brand, **context)
        return HTMLResponse(html, status_code=status_code)

    def message(self, title: str, text: str, status_code: int) -> HTMLResponse:
        """A page with a heading and one paragraph: errors and simple confirmations."""
        return self.render("message.html", status_code, title=title, text=text)
