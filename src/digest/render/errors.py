"""The one error the rendering pipeline raises on purpose."""

from ..errors import DigestError


class RenderError(DigestError):
    """A template could not be rendered or compiled; the message names the template."""
