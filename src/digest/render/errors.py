"""The one error the rendering pipeline raises on purpose."""

from ..errors import DigestError


class RenderError(DigestError):
    """A template could not be rendered or compiled; the message names the template."""


class DisclosureMissing(RenderError):
    """Strict mode: a briefing lacks its source attribution or author disclosure. Never
    left out to save the body (see :mod:`digest.render.isolation`): it blocks."""
