"""Rendering: a Selection becomes one email body (HTML, text, subject, preheader) with
per-recipient values left as tokens. See :mod:`digest.render.renderer`."""

from .errors import RenderError
from .renderer import Renderer

__all__ = ["Renderer", "RenderError"]
