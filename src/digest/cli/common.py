"""Shared CLI plumbing: lazily built settings and runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click

from ..runtime import Runtime
from ..settings import Settings, load_settings


@dataclass
class State:
    demo: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _runtime: Runtime | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(demo=self.demo)
        return self._settings

    @property
    def runtime(self) -> Runtime:
        """For one-shot commands: the database checked now; when it is away, one line
        (:class:`~digest.db.DatabaseUnavailable`) and exit status 2."""
        if self._runtime is None:
            self._runtime = Runtime.open(self.settings)
        return self._runtime

    def today(self) -> date:
        """Today in the publication's zone: the edition a command means without ``--date``."""
        return datetime.now(ZoneInfo(self.settings.config.schedule.default_timezone)).date()

    def waiting_runtime(self) -> Runtime:
        """For the long-running processes (worker, web): not connected yet; they wait for
        the database themselves (:mod:`digest.database_wait`) instead of exiting."""
        if self._runtime is None:
            self._runtime = Runtime.open(self.settings, migrate=False)
        return self._runtime


pass_state = click.make_pass_decorator(State)
