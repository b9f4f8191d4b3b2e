"""``digest worker`` (the Procfile's worker dyno) and ``digest status``."""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta, timezone

import click

from . import main
from .common import State, pass_state

_namespace = click.option(
    "--queue-namespace", "namespace", envvar="DIGEST_QUEUE_NAMESPACE", default="digest", show_default=True,
    help="Prefix of the Redis keys (queue and scheduler lock); env DIGEST_QUEUE_NAMESPACE.",
)


@main.command("worker")
@_namespace
@click.option("--lock-ttl", type=click.FloatRange(min=3), default=45.0, show_default=True,
              help="Seconds the scheduler lock lasts unless renewed (takeover delay after a crash).")
@click.option("--threads", type=click.IntRange(min=1, max=32), default=2, show_default=True,
              help="Batches this process sends at once from the Redis queue.")
@pass_state
def worker(state: State, namespace: str, lock_ttl: float, threads: int) -> None:
    """Run the scheduler: ingestion and a delivery tick every minute (stop with SIGTERM)."""
    from ..schedule.worker import Worker

    logging.getLogger("digest").setLevel(min(logging.INFO, logging.getLogger("digest").getEffectiveLevel()))
    code = Worker(state.waiting_runtime(), namespace=namespace, lock_ttl=timedelta(seconds=lock_ttl),
                  consumer_threads=threads).run()
    sys.exit(code)


@main.command("status")
@_namespace
@pass_state
def status(state: State, namespace: str) -> None:
    """Recent editions, batch states, next scheduled runs and the scheduler lock holder."""
    from ..schedule.lock import make_lock
    from ..schedule.status import collect_status, format_status

    runtime = state.runtime
    from ..review.status import review_lines

    lock = make_lock(runtime, "digest-status", namespace=namespace)
    now = datetime.now(timezone.utc)
    click.echo(format_status(collect_status(runtime, lock, now)))
    for line in review_lines(runtime, now):
        click.echo(line)
