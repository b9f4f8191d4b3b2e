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

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> "Runtime":
        engine = db.make_engine(settings.database_url, pool_size=pool_size(settings))
        runtime = cls(settings, engine, db.make_session_factory(engine))
        if migrate:
            db.ensure_schema(engine)
            with db.session_scope(runtime.sessions) as session:
                sync_topics(session, settings.config)
        return runtime

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
