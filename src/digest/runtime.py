"""What every command needs once settings are known: the engine, sessions and topics.

Built at the edge (the CLI, the web app, the worker) and passed inwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from . import db
from .models import Topic
from .settings import PublicationConfig, Settings


#: Connections a process holds besides its sending threads' (planning's reads, the ledger
#: writer, the send feeder, the web app's requests).
OTHER_CONNECTIONS = 4


def pool_size(settings: Settings) -> int:
    """Connections kept open per process: one per sending thread and a few more. A thread
    beyond the pool's size gets an overflow connection, which is closed when returned: with
    SQLAlchemy's default of 5, eight sending threads opened a new database connection (and
    PostgreSQL a new backend) for about every third batch."""
    return settings.send_concurrency + OTHER_CONNECTIONS


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    #: The schema was checked and the topics synced: the database answered at least once.
    ready: bool = False

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> "Runtime":
        """``migrate``: check the schema and sync the topics now (:meth:`prepare`), so a
        database that is away raises :class:`~digest.db.DatabaseUnavailable` here. The
        worker and web processes open without it and wait for the database themselves
        (:mod:`digest.database_wait`)."""
        engine = db.make_engine(settings.database_url, pool_size=pool_size(settings))
        runtime = cls(settings, engine, db.make_session_factory(engine))
        if migrate:
            try:
                runtime.prepare()
            except BaseException:
                engine.dispose()
                raise
        return runtime

    def prepare(self) -> None:
        """Check the database answers (:class:`~digest.db.DatabaseUnavailable` if not),
        upgrade a SQLite file or refuse an outdated server schema, then sync the topics."""
        db.check_reachable(self.engine)
        db.ensure_schema(self.engine)
        with db.session_scope(self.sessions) as session:
            sync_topics(session, self.settings.config)
        self.ready = True

    def session(self):
        """Context manager: a session committed on success, rolled back on error."""
        return db.session_scope(self.sessions)

    def close(self) -> None:
        self.engine.dispose()


def sync_topics(session: Session, config: PublicationConfig) -> dict[str, Topic]:
    """Make the topics table match the config (titles updated; none deleted, since
    subscribers and items may still point at a topic an editor retired)."""
    existing = {t.slug: t for t in session.scalars(select(Topic))}
    for topic in config.topics:
        row = existing.get(topic.slug)
        if row is None:
            row = Topic(slug=topic.slug, title=topic.title)
            session.add(row)
            existing[topic.slug] = row
        elif row.title != topic.title:
            row.title = topic.title
    session.flush()
    return existing
