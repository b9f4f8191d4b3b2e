"""``digest preview``: the message a subscriber would get, as a file or a live page."""

from .build import FORMATS, PREVIEW_SECRET_KEY, Preview, PreviewError, PreviewRequest, build_preview

__all__ = ["FORMATS", "PREVIEW_SECRET_KEY", "Preview", "PreviewError", "PreviewRequest", "build_preview"]
