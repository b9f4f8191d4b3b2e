"""The web process: one-click unsubscribe, preferences, provider events, archive, health."""

from .app import create_app

__all__ = ["create_app"]
