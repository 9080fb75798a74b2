"""Chain verification: `verifyAuditChain` and `python -m audit.verify [--archive DIR]`.

Walking from the archive anchor (or the empty genesis hash), every record must name its
predecessor's hash and hash to its own. An edited row breaks its own hash; a deleted or
inserted row breaks its successor's link. On PostgreSQL the chain must also reach the head
that the last append recorded (`audit_head`), so deleting the newest records breaks it too.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from audit.archive import chain_start, verify_archive
from audit.chain import ChainReport, ChainWalker
from config.settings import get_settings
from persistence.database import create_engine
from persistence.models import AuditHeadModel, AuditLogModel

BATCH = 1000
audit_t = cast(Table, AuditLogModel.__table__)
head_t = cast(Table, AuditHeadModel.__table__)


async def chain_head(connection: AsyncConnection) -> str | None:
    """Where the last append ended, as PostgreSQL records it; None elsewhere or when unset."""
    if connection.dialect.name != "postgresql":
        return None
    head = await connection.scalar(select(head_t.c.hash).where(head_t.c.id == 1))
    return None if head is None else str(head)


async def verify_database(connection: AsyncConnection) -> ChainReport:
    """Walk the whole live chain in batches; it must pass the recorded head, if any."""
    # The head is read first: records committed later only ever follow it.
    head = await chain_head(connection)
    start = await chain_start(connection)
    walker = ChainWalker(start)
    has_head = head is None or head == start
    after = 0
    while True:
        rows: Sequence[Any] = (
            (
                await connection.execute(
                    select(audit_t).where(audit_t.c.id > after).order_by(audit_t.c.id).limit(BATCH)
                )
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        walker.feed(rows)
        has_head = has_head or any(row["hash"] == head for row in rows)
        after = int(rows[-1]["id"])
    report = walker.report()
    if has_head:
        return report
    # The head names no record: the newest records were deleted.
    return ChainReport(False, report.checked, report.first_broken_id, report.last_hash)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: exit 0 when the chain is intact, 1 when it is broken."""
    parser = argparse.ArgumentParser(prog="python -m audit.verify", description=__doc__)
    parser.add_argument("--database-url", help="defaults to DATABASE_URL")
    parser.add_argument("--archive", help="check an archive directory offline instead")
    args = parser.parse_args(argv)
    if args.archive:
        report = verify_archive(args.archive)
    else:
        report = asyncio.run(_verify_url(args.database_url))
    if report.ok:
        state = "ok"
    elif report.first_broken_id is None:
        state = "BROKEN after the last record (the recorded head names none)"
    else:
        state = f"BROKEN at record {report.first_broken_id}"
    print(f"audit chain {state}; {report.checked} record(s) checked")
    return 0 if report.ok else 1


async def _verify_url(database_url: str | None) -> ChainReport:
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            return await verify_database(connection)
    finally:
        await engine.dispose()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
