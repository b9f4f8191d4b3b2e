"""Exceptions shared across modules.

Each carries enough context (file, key, source, item) for an operator to act on it
without a traceback.
"""


class DigestError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(DigestError):
    """The configuration (TOML file or environment) is missing or wrong."""
