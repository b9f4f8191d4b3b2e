"""The ``digest`` command. Thin: parses, builds settings, calls the modules, prints.

Each group of commands lives in its own module and registers itself on :data:`main`.
"""

from __future__ import annotations

import logging
import sys

import click

from ..errors import DigestError
from .common import pass_state, State  # noqa: F401  (re-exported for command modules)


class _DigestGroup(click.Group):
    """Turns our own errors into one clear line on stderr and exit status 2."""

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


def _register() -> None:
    from . import commands  # noqa: F401  (imports register the commands)


_register()
