"""Imports every command module so each registers itself on ``main``."""

from . import db_commands  # noqa: F401
