"""The ``digest`` command. Thin: parses, builds settings, calls the modules, prints.

Each group of commands lives in its own module and registers itself on :data:`main` when
imported. A command's module is imported only when that command runs (click's documented
lazy-subcommand pattern): ``digest report`` need not load the render and send stack, and
every command starts in a fraction of the time.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from ..errors import DigestError
from .common import pass_state, State  # noqa: F401  (re-exported for command modules)


#: Command name -> the module (in this package) that defines it.
COMMAND_MODULES = {
    "approve": "review_commands",
    "audit": "audit_commands",
    "cancel": "review_commands",
    "db": "db_commands",
    "demo": "demo_commands",
    "draft": "review_commands",
    "hold": "review_commands",
    "ingest": "ingest_commands",
    "preview": "preview_commands",
    "redraft": "review_commands",
    "report": "report_commands",
    "resume": "resume_commands",
    "send": "send_commands",
    "status": "worker_commands",
    "subscribers": "subscriber_commands",
    "web": "web_commands",
    "worker": "worker_commands",
}


class _DigestGroup(click.Group):
    """Loads a command's module when the command is asked for, and turns our own errors
    into one clear line on stderr and exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, name: str):
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(f"{__name__}.{COMMAND_MODULES[name]}")  # registers itself on main
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="digest")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Build and send daily per-subscriber email digests of briefings and videos."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose < 2:  # APScheduler logs every job run at INFO: only with -vv
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    ctx.obj = State()
