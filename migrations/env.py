"""Alembic environment: runs migrations on the async engine, online or as offline SQL."""

from __future__ import annotations

import asyncio
import warnings
from logging.config import fileConfig
from pathlib import Path
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.types import TypeDecorator

from config.settings import get_settings
from persistence.models import Base

config = context.config
target_metadata = Base.metadata

# SQLite cannot reflect the lower(company) expression index, so autogenerate cannot compare
# it there (PostgreSQL does); migration 0003 creates it on both. Say so once, not per run.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based")
warnings.filterwarnings("ignore", message="autogenerate skipping metadata-specified expression")

# Tests and the seeding command set this attribute to keep their own logging setup.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """The URL set on the Alembic config, or else the application's DATABASE_URL."""
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our TypeDecorators as their plain SQLAlchemy type.

    Migrations must keep working after application code moves, so they may not
    import `persistence.types`; the stored column is exactly the decorator's impl.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        if type(impl).__module__.startswith("sqlalchemy."):
            return f"sa.{impl!r}"
    return False


def _configure(**kwargs: Any) -> None:
    is_sqlite = make_url(database_url()).get_backend_name() == "sqlite"
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=is_sqlite,
        # Alembic compiles a TypeDecorator to its impl before comparing, so the default
        # comparison already sees UTCDateTime as timestamptz and PriorityType as smallint.
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Write the migration SQL to the output instead of running it."""
    _configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the pending migrations on one connection, in one transaction."""
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Open an async engine for this run only and migrate through it."""
    url = make_url(database_url())
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # The app creates the SQLite file's folder too; a first `upgrade` must not fail on it.
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # NullPool: a migration is a one-off; no connection should outlive it. Unlike the app's
    # engine this one leaves SQLite's foreign keys off, as batch mode's table copies need.
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Migrate a live database."""
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
