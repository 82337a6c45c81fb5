"""The connection to the database: SQLite (WAL, foreign keys) by default, PostgreSQL by URL.

`Database.connect` retries an unreachable server with backoff until `connect_timeout`
passes, logging each attempt, so a relay started before its database comes up waits for it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

from pushrelay.config import StoreSettings
from pushrelay.errors import StoreUnavailable

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "pushrelay_read_only"
# Any constant shared by every node: serialises concurrent `migrate` runs on PostgreSQL.
PG_MIGRATION_LOCK = 0x70757368


class Database:
    """An async SQLAlchemy engine plus what pushrelay needs around it: pragmas, migrations, pings."""

    def __init__(self, settings: StoreSettings, connect_args: dict[str, Any] | None = None) -> None:
        self.settings = settings
        url = sa.make_url(settings.url)
        self.dialect_name = url.get_backend_name()
        self.engine: AsyncEngine
        if self.dialect_name == "sqlite":
            self.engine = _sqlite_engine(url)
        else:
            self.engine = create_async_engine(
                url,
                pool_size=settings.pool_size,
                max_overflow=settings.pool_size,
                pool_pre_ping=True,
                connect_args=connect_args or {},
            )
        self.reader = self.engine.execution_options(**{READ_ONLY: True})
        """For queries that only read: on SQLite they skip the write lock (see `_sqlite_engine`)."""

    async def connect(self, clock: Any = time.monotonic) -> None:
        """Wait until the database answers, retrying with backoff; StoreUnavailable after the timeout."""
        deadline = clock() + self.settings.connect_timeout
        delay, attempt = 0.25, 1
        while True:
            try:
                await self.ping()
                return
            except Exception as exc:  # any driver error means "not reachable yet"
                if clock() + delay > deadline:
                    log.error("store.unreachable", attempt=attempt, error=type(exc).__name__, giving_up=True)
                    raise StoreUnavailable(f"cannot reach the store: {type(exc).__name__}: {exc}") from exc
                log.warning("store.unreachable", attempt=attempt, error=type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay, attempt = min(delay * 2, 5.0), attempt + 1

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic), one node at a time."""
        async with self.engine.begin() as conn:
            if self.dialect_name == "postgresql":
                await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
            await conn.run_sync(_upgrade)

    async def is_up_to_date(self) -> bool:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        async with self.engine.connect() as conn:
            current = await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
        return current == set(ScriptDirectory.from_config(_alembic_config()).get_heads())

    async def dispose(self) -> None:
        await self.engine.dispose()


def _alembic_config(connection: Connection | None = None) -> Config:
    # Alembic is imported only when migrating: it costs ~10 MB of resident memory.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection), "heads")


def _sqlite_engine(url: sa.URL) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # SQLite has one writer at a time. Transactions start with BEGIN IMMEDIATE, so concurrent
    # writers queue on busy_timeout instead of failing with "database is locked" when a read
    # lock cannot be upgraded; reads through `Database.reader` use a plain BEGIN and, in WAL
    # mode, never wait for a writer.
    engine = create_async_engine(url, pool_size=8, max_overflow=0)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" event below issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
