"""`python -m auth.prune`: delete expired refresh tokens and revoked-token rows.

A composition root: it builds the engine and the unit of work the use case runs on.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from audit.capture import audited_session_factory
from auth.prune import prune_expired_tokens
from config.settings import get_settings
from persistence.database import create_engine
from persistence.unit_of_work import SqlAlchemyUnitOfWork


async def prune(database_url: str | None = None) -> int:
    """Delete token rows that expired; returns how many went."""
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = create_engine(settings)
    try:
        uow = SqlAlchemyUnitOfWork(audited_session_factory(engine))
        try:
            return await prune_expired_tokens(uow)
        finally:
            await uow.close()
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m auth.prune", description=__doc__)
    parser.add_argument("--database-url", help="defaults to DATABASE_URL")
    args = parser.parse_args(argv)
    removed = asyncio.run(prune(args.database_url))
    print(f"pruned {removed} expired token row(s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
