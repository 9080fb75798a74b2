"""Archiving: `python -m audit.archive --before <ISO timestamp> --out DIR [--dry-run]`.

Old records move to gzip JSON Lines files, one per table and month, listed with their
SHA-256 in `manifest.json`, then are deleted. A table is archived as a prefix in id order
(every row before the first one at or after the cut-off), so the chain stays whole: the
delete's transaction moves the anchor to the last archived record. The newest row always
stays, because SQLite reuses the highest rowid of an emptied table. Files are fsynced and
read back before the manifest names them, and deletes come last; a rerun rebuilds each
month from its file's rows plus the database's, deterministically (gzip mtime 0), so a
crash at any point leaves neither duplicates nor gaps.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast

import structlog
from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.chain import GENESIS, ChainReport, ChainWalker, json_value
from config.settings import Settings, get_settings
from persistence.database import create_engine
from persistence.models import AccessLogModel, AuditAnchorModel, AuditLogModel

log = structlog.get_logger("audit.archive")

Row = dict[str, Any]
MANIFEST: Final = "manifest.json"
BATCH: Final = 1000
UNREADABLE: Final = (OSError, EOFError, ValueError, KeyError, zlib.error)
audit_t = cast(Table, AuditLogModel.__table__)
access_t = cast(Table, AccessLogModel.__table__)
anchor_t = cast(Table, AuditAnchorModel.__table__)
TABLES: Final = (audit_t, access_t)


class ArchiveError(Exception):
    """Archiving cannot go on safely; no rows of the affected table were deleted."""


@dataclass(slots=True)
class TablePlan:
    """The rows of one table a run archives: ids per month, and the chain's new anchor."""

    table: Table
    months: dict[str, list[int]] = field(default_factory=dict)
    anchor: tuple[int, str] | None = None


async def chain_start(connection: AsyncConnection) -> str:
    """The hash the live chain must continue from: the archive anchor, or genesis."""
    anchor = await connection.scalar(
        select(anchor_t.c.last_archived_hash).where(anchor_t.c.id == 1)
    )
    return str(anchor) if anchor else GENESIS


def file_name(table: Table, month: str) -> str:
    """The archive file of a table's month."""
    return f"{table.name}-{month}.jsonl.gz"


def encode(rows: Sequence[Row]) -> bytes:
    """Rows as gzip JSON Lines, byte for byte the same for the same rows."""
    lines = (json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for r in rows)
    return gzip.compress("".join(f"{line}\n" for line in lines).encode(), mtime=0)


def decode(data: bytes) -> list[Row]:
    """The rows of an archive file, in id order."""
    rows = [json.loads(line) for line in gzip.decompress(data).split(b"\n") if line]
    return sorted(rows, key=lambda row: int(row["id"]))


def sha256(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def _jsonable(row: Any) -> Row:
    # Through JSON and back, so a database row compares equal to the same row from a file.
    return cast(Row, json.loads(json.dumps({k: json_value(v) for k, v in dict(row).items()})))


async def plan_table(conn: AsyncConnection, table: Table, before: datetime) -> TablePlan:
    """The id-ordered prefix of rows older than `before`, grouped by month (UTC)."""
    plan = TablePlan(table)
    newest = await conn.scalar(select(func.max(table.c.id)))
    walker = ChainWalker(await chain_start(conn)) if table is audit_t else None
    columns = list(table.c) if walker else [table.c.id, table.c.occurred_at]
    after, last, done = 0, None, newest is None
    while not done:
        stmt = select(*columns).where(table.c.id > after, table.c.id < newest)
        rows = (await conn.execute(stmt.order_by(table.c.id).limit(BATCH))).mappings().all()
        done = len(rows) < BATCH
        for row in rows:
            if row["occurred_at"] >= before:
                done = True
                break
            plan.months.setdefault(f"{row['occurred_at']:%Y-%m}", []).append(row["id"])
            if walker is not None:
                walker.feed([cast(Row, row)])
            last = row
        after = rows[-1]["id"] if rows else after
    if walker is not None and last is not None:
        if (broken := walker.report().first_broken_id) is not None:
            raise ArchiveError(f"the audit chain is broken at record {broken}; not archiving")
        plan.anchor = (int(last["id"]), str(last["hash"]))
    return plan


async def _load(conn: AsyncConnection, table: Table, ids: Sequence[int]) -> list[Row]:
    rows: list[Row] = []
    for start in range(0, len(ids), BATCH):
        result = await conn.execute(select(table).where(table.c.id.in_(ids[start : start + BATCH])))
        rows.extend(_jsonable(row) for row in result.mappings())
    return sorted(rows, key=lambda row: int(row["id"]))


def _stored(path: Path, entry: Row | None) -> tuple[bytes, list[Row]]:
    if not path.exists():
        if entry is not None:
            raise ArchiveError(f"{path.name} is listed in the manifest but missing")
        return b"", []
    try:
        return (data := path.read_bytes()), decode(data)
    except UNREADABLE as error:
        raise ArchiveError(f"{path.name} is unreadable ({error}); not overwriting it") from None


async def _file_only_rows(
    conn: AsyncConnection, table: Table, path: Path, entry: Row | None
) -> list[Row]:
    """The rows an existing month file holds that the database no longer does.

    The file is trusted when the manifest names it, or when its rows outside the database
    are exactly the manifest's version (a crash after writing the file, before the
    manifest); anything else is refused rather than overwritten.
    """
    data, rows = _stored(path, entry)
    in_db = {row["id"]: row for row in await _load(conn, table, [r["id"] for r in rows])}
    if any(in_db[row["id"]] != row for row in rows if row["id"] in in_db):
        raise ArchiveError(f"{path.name} differs from the database; not overwriting it")
    only = [row for row in rows if row["id"] not in in_db]
    expected = None if entry is None else entry["sha256"]
    if sha256(data) == expected or sha256(encode(only)) == expected or (entry, only) == (None, []):
        return only
    raise ArchiveError(f"{path.name} does not match the manifest; not overwriting it")


def write_durably(path: Path, data: bytes, rows: int | None = None) -> None:
    """Replace `path` with `data` atomically (temp file, fsync, rename, fsync the directory),
    then read it back: same checksum and, for an archive file, the same number of rows."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    stored = path.read_bytes()
    if sha256(stored) != sha256(data) or (rows is not None and len(decode(stored)) != rows):
        raise ArchiveError(f"{path.name} did not read back as written")


def _entry(table: Table, month: str, data: bytes, rows: Sequence[Row]) -> Row:
    first, last = rows[0], rows[-1]
    entry = {"table": table.name, "month": month, "sha256": sha256(data), "rows": len(rows)}
    entry |= {"first_id": first["id"], "last_id": last["id"]}
    if table is audit_t:
        # The chain's edges: what the file's first record follows, and where its last ends.
        entry |= {"first_prev_hash": first["prev_hash"], "last_hash": last["hash"]}
    return entry


def read_manifest(out: Path) -> Row:
    """The archive's manifest, or an empty one for a new directory (created here)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    return cast(Row, json.loads(path.read_text())) if path.exists() else {"files": {}}


def _write_manifest(out: Path, manifest: Row) -> None:
    chain = [e for e in manifest["files"].values() if e["table"] == audit_t.name]
    if chain:
        first = min(chain, key=lambda e: int(e["first_id"]))
        last = max(chain, key=lambda e: int(e["last_id"]))
        manifest["chain"] = {
            "first_id": first["first_id"],
            "first_prev_hash": first["first_prev_hash"],
            "last_id": last["last_id"],
            "last_hash": last["last_hash"],
        }
    write_durably(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())


async def write_files(conn: AsyncConnection, out: Path, plans: Sequence[TablePlan]) -> None:
    """Write, fsync and check every month file, then the manifest naming them."""
    manifest = read_manifest(out)
    for plan in plans:
        for month, ids in sorted(plan.months.items()):
            name = file_name(plan.table, month)
            kept = await _file_only_rows(conn, plan.table, out / name, manifest["files"].get(name))
            rows = sorted(kept + await _load(conn, plan.table, ids), key=lambda r: int(r["id"]))
            write_durably(out / name, data := encode(rows), len(rows))
            manifest["files"][name] = _entry(plan.table, month, data, rows)
    _write_manifest(out, manifest)


async def delete_archived(engine: AsyncEngine, plan: TablePlan) -> int:
    """Delete a table's archived rows and move the anchor, in one transaction."""
    table, deleted = plan.table, 0
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The append-only trigger lets this transaction, and only it, delete.
            await conn.execute(text("SET LOCAL audit.archive = 'on'"))
        # By id, never by time: exactly the rows that are in the verified files.
        ids = sorted(i for month_ids in plan.months.values() for i in month_ids)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            deleted += (await conn.execute(delete(table).where(table.c.id.in_(chunk)))).rowcount
        if plan.anchor is not None:
            values = {
                "last_archived_id": plan.anchor[0],
                "last_archived_hash": plan.anchor[1],
                "archived_at": datetime.now(UTC),
            }
            moved = await conn.execute(update(anchor_t).where(anchor_t.c.id == 1).values(values))
            if moved.rowcount == 0:
                await conn.execute(insert(anchor_t).values(id=1, **values))
    return deleted


async def archive(
    engine: AsyncEngine, out: Path, *, before: datetime, dry_run: bool = False
) -> list[str]:
    """Archive, then prune, both tables' rows older than `before`; returns a summary."""
    before = before if before.tzinfo else before.replace(tzinfo=UTC)
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for planning and writing; it blocks no writer.
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        plans = [await plan_table(conn, table, before) for table in TABLES]
        lines = [
            f"{plan.table.name}: {len(ids)} row(s), ids {ids[0]}-{ids[-1]} -> "
            + file_name(plan.table, month)
            for plan in plans
            for month, ids in sorted(plan.months.items())
        ] or ["nothing to archive"]
        if dry_run:
            return [f"dry run, nothing changed; would archive {line}" for line in lines]
        await write_files(conn, out, plans)
    for plan in plans:
        if plan.months:
            deleted = await delete_archived(engine, plan)
            lines.append(f"{plan.table.name}: deleted {deleted} archived row(s)")
    return lines


def _check_files(root: Path, manifest: Row, problems: list[str]) -> list[Row]:
    records: list[Row] = []
    for name, entry in sorted(manifest["files"].items()):
        try:
            rows = decode(data := (root / name).read_bytes())
        except UNREADABLE as error:
            problems.append(f"{name}: unreadable ({error!r})")
            continue
        if sha256(data) != entry["sha256"]:
            problems.append(f"{name}: checksum differs from the manifest")
        ids = [rows[0]["id"], rows[-1]["id"]] if rows else []
        if len(rows) != entry["rows"] or ids != [entry["first_id"], entry["last_id"]]:
            problems.append(f"{name}: row count or id range differs from the manifest")
        records.extend(rows if entry["table"] == audit_t.name else [])
    return records


def verify_archive(directory: str | Path) -> ChainReport:
    """Offline check: every file matches the manifest and the change records chain whole."""
    root, problems = Path(directory), list[str]()
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        records = _check_files(root, manifest, problems)
        chain = manifest.get("chain") or {"first_prev_hash": GENESIS, "last_hash": GENESIS}
        walker = ChainWalker(chain["first_prev_hash"])
        walker.feed(sorted(records, key=lambda r: int(r["id"])))
        report = walker.report()
        if report.last_hash != chain["last_hash"]:
            problems.append("the change records do not end at the manifest's last hash")
    except (*UNREADABLE, TypeError, AttributeError) as error:
        problems.append(f"{MANIFEST} is missing or malformed ({error!r})")
        report = ChainReport(ok=False, checked=0)
    for problem in problems:
        log.error("archive check failed", problem=problem)
    return ChainReport(
        ok=report.ok and not problems,
        checked=report.checked,
        first_broken_id=report.first_broken_id,
        last_hash=report.last_hash,
    )


def main(argv: Sequence[str] | None = None, *, settings: Settings | None = None) -> int:
    """Command line: exit 0 when done, 1 when archiving was refused."""
    parser = argparse.ArgumentParser(prog="python -m audit.archive", description=__doc__)
    parser.add_argument("--before", help="ISO 8601 cut-off; default AUDIT_RETENTION_DAYS ago")
    parser.add_argument("--out", required=True, help="the archive directory")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--database-url", help="defaults to DATABASE_URL")
    args = parser.parse_args(argv)
    # A batch job: the per-request statement and idle-transaction guards do not apply.
    overrides: Row = {"database_statement_timeout_ms": 0}
    overrides |= {"database_idle_in_transaction_timeout_ms": 0}
    overrides |= {"database_url": args.database_url} if args.database_url else {}
    settings = (settings or get_settings()).model_copy(update=overrides)
    try:
        before = datetime.fromisoformat(args.before) if args.before else None
    except ValueError:
        parser.error(f"--before {args.before!r} is not an ISO 8601 timestamp")
    before = before or datetime.now(UTC) - timedelta(days=settings.audit_retention_days)

    async def run() -> list[str]:
        engine = create_engine(settings)
        try:
            return await archive(engine, Path(args.out), before=before, dry_run=args.dry_run)
        finally:
            await engine.dispose()

    try:
        lines = asyncio.run(run())
    except ArchiveError as error:
        print(f"python -m audit.archive: error: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
