"""Archiving old audit records: files, manifest, prune, anchor, crash safety, tamper checks.

Records are seeded with old timestamps through `audit.capture.append(now=...)` (change
records) and Core inserts (access records), so the cut-off is fixed and independent of
the clock. On PostgreSQL the run's schema comes from `create_all` (no trigger); the test
that needs the append-only trigger migrates a database of its own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

import audit.archive as archive_module
from audit.archive import ArchiveError, archive, decode, encode, main, sha256, verify_archive
from audit.capture import append
from audit.chain import json_value
from audit.verify import main as verify_main
from audit.verify import verify_database
from config.settings import Settings
from persistence.models import AccessLogModel, AuditAnchorModel, AuditLogModel
from seeds.migrate import upgrade_to_head

audit_t = cast(Table, AuditLogModel.__table__)
access_t = cast(Table, AccessLogModel.__table__)
anchor_t = cast(Table, AuditAnchorModel.__table__)

OCTOBER = datetime(2025, 10, 10, 8, 0, tzinfo=UTC)
NOVEMBER = datetime(2025, 11, 20, 8, 0, tzinfo=UTC)
RECENT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CUT_OFF = datetime(2025, 12, 1, tzinfo=UTC)


def change_entry(n: int) -> dict[str, Any]:
    """A product insert as capture would record it."""
    return {
        "action": "INSERT",
        "entity": "products",
        "entity_id": str(n),
        "old_values": None,
        "new_values": {"sku": f"SKU-{n}", "price": "19.90", "due": "2025-12-24"},
        "changed_fields": ["due", "price", "sku"],
    }


async def add_changes(engine: AsyncEngine, *times: datetime) -> None:
    """One chained change record per time, each in its own transaction like real writers."""
    for when in times:

        def write(conn: Connection, when: datetime = when) -> None:
            n = int(when.timestamp())
            append(
                conn,
                [change_entry(n)],
                actor_id=None,
                actor_label="system:test",
                request_id=f"req-{n}",
                operation_name="Seed",
                now=when,
            )

        async with engine.begin() as conn:
            await conn.run_sync(write)


async def add_accesses(engine: AsyncEngine, *times: datetime) -> None:
    """One access record per time."""
    rows = [
        {
            "occurred_at": when,
            "user_id": None,
            "ip": "10.0.0.1",
            "method": "POST",
            "path": "/graphql",
            "status_code": 200,
            "duration_ms": 1.25,
            "request_id": f"acc-{i}",
            "operation_type": "mutation",
            "operation_name": "Login",
            "error_codes": ["UNAUTHENTICATED"],
            "has_errors": True,
            "details": {"loginEmail": "who@example.com"},
        }
        for i, when in enumerate(times)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(access_t), rows)


def spread(start: datetime, count: int) -> list[datetime]:
    """`count` times an hour apart from `start`."""
    return [start + timedelta(hours=i) for i in range(count)]


async def seed(engine: AsyncEngine) -> None:
    """3 October, 4 November and 2 recent records in each table."""
    times = spread(OCTOBER, 3) + spread(NOVEMBER, 4) + spread(RECENT, 2)
    await add_changes(engine, *times)
    await add_accesses(engine, *times)


async def rows_of(engine: AsyncEngine, table: Table) -> list[dict[str, Any]]:
    """Every row, in id order, as the archive writes it (JSON values)."""
    async with engine.connect() as conn:
        result = await conn.execute(select(table).order_by(table.c.id))
        return [{k: json_value(v) for k, v in row.items()} for row in result.mappings()]


async def anchor(engine: AsyncEngine) -> tuple[int, str] | None:
    """The archive anchor, if any."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(anchor_t).where(anchor_t.c.id == 1))).one_or_none()
    return None if row is None else (row.last_archived_id, row.last_archived_hash)


async def live_chain_ok(engine: AsyncEngine) -> bool:
    """Whether the live chain verifies from the anchor."""
    async with engine.connect() as conn:
        return (await verify_database(conn)).ok


def files_in(out: Path) -> dict[str, bytes]:
    """Every archive file and the manifest, by name."""
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def archived(out: Path, table: str) -> list[dict[str, Any]]:
    """Every archived row of `table` across its month files, in file then id order."""
    rows: list[dict[str, Any]] = []
    for path in sorted(out.glob(f"{table}-*.jsonl.gz")):
        rows.extend(decode(path.read_bytes()))
    return rows


async def test_given_old_records_when_archiving_then_month_files_hold_them_and_db_is_pruned(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    before_changes = await rows_of(engine, audit_t)
    before_accesses = await rows_of(engine, access_t)

    lines = await archive(engine, tmp_path, before=CUT_OFF)

    assert sorted(files_in(tmp_path)) == [
        "access_log-2025-10.jsonl.gz",
        "access_log-2025-11.jsonl.gz",
        "audit_log-2025-10.jsonl.gz",
        "audit_log-2025-11.jsonl.gz",
        "manifest.json",
    ]
    assert "audit_log: deleted 7 archived row(s)" in lines
    assert "access_log: deleted 7 archived row(s)" in lines
    # Every column, in id order, exactly as the database held it.
    assert archived(tmp_path, "audit_log") == before_changes[:7]
    assert archived(tmp_path, "access_log") == before_accesses[:7]
    first = decode((tmp_path / "audit_log-2025-10.jsonl.gz").read_bytes())[0]
    assert set(first) == set(audit_t.c.keys())
    assert first["occurred_at"] == "2025-10-10T08:00:00+00:00"
    assert first["new_values"]["price"] == "19.90"
    assert decode((tmp_path / "access_log-2025-11.jsonl.gz").read_bytes())[0]["details"] == {
        "loginEmail": "who@example.com"
    }
    assert await rows_of(engine, audit_t) == before_changes[7:]
    assert await rows_of(engine, access_t) == before_accesses[7:]
    assert await anchor(engine) == (before_changes[6]["id"], before_changes[6]["hash"])
    assert await live_chain_ok(engine)
    assert verify_archive(tmp_path).ok


async def test_given_an_archive_when_reading_the_manifest_then_it_lists_checksums_counts_edges(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    changes = await rows_of(engine, audit_t)

    await archive(engine, tmp_path, before=CUT_OFF)

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    october = manifest["files"]["audit_log-2025-10.jsonl.gz"]
    data = (tmp_path / "audit_log-2025-10.jsonl.gz").read_bytes()
    assert october == {
        "table": "audit_log",
        "month": "2025-10",
        "sha256": sha256(data),
        "rows": 3,
        "first_id": changes[0]["id"],
        "last_id": changes[2]["id"],
        "first_prev_hash": "",
        "last_hash": changes[2]["hash"],
    }
    access = manifest["files"]["access_log-2025-11.jsonl.gz"]
    assert (access["rows"], "last_hash" in access) == (4, False)
    assert manifest["chain"] == {
        "first_id": changes[0]["id"],
        "first_prev_hash": "",
        "last_id": changes[6]["id"],
        "last_hash": changes[6]["hash"],
    }
    # Deterministic gzip: no timestamp in the header, so rewrites are byte-identical.
    assert data[4:8] == b"\x00\x00\x00\x00"
    assert encode(decode(data)) == data


async def test_given_an_archived_database_when_writing_again_then_the_chain_continues(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    await archive(engine, tmp_path, before=CUT_OFF)

    await add_changes(engine, RECENT + timedelta(days=1))

    assert await live_chain_ok(engine)
    async with engine.connect() as conn:
        report = await verify_database(conn)
    assert report.checked == 3


async def test_given_dry_run_when_archiving_then_it_reports_and_changes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    before = (await rows_of(engine, audit_t), await rows_of(engine, access_t))
    out = tmp_path / "archive"

    lines = await archive(engine, out, before=CUT_OFF, dry_run=True)

    assert not out.exists()
    assert (await rows_of(engine, audit_t), await rows_of(engine, access_t)) == before
    assert await anchor(engine) is None
    assert len(lines) == 4
    assert all(line.startswith("dry run, nothing changed; would archive") for line in lines)
    assert any("3 row(s)" in line and "audit_log-2025-10.jsonl.gz" in line for line in lines)


async def test_given_nothing_old_when_archiving_then_nothing_is_written_or_deleted(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await add_changes(engine, *spread(RECENT, 2))

    lines = await archive(engine, tmp_path, before=CUT_OFF)

    assert lines == ["nothing to archive"]
    assert json.loads((tmp_path / "manifest.json").read_text())["files"] == {}
    assert len(await rows_of(engine, audit_t)) == 2


async def test_given_every_record_is_old_when_archiving_then_the_newest_row_stays(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    changes = await rows_of(engine, audit_t)

    await archive(engine, tmp_path, before=datetime(2100, 1, 1, tzinfo=UTC))

    # SQLite would hand an emptied table's ids out again; the newest row keeps them unique.
    assert await rows_of(engine, audit_t) == changes[-1:]
    assert len(await rows_of(engine, access_t)) == 1
    assert await live_chain_ok(engine)
    assert verify_archive(tmp_path).ok


async def test_given_a_crash_before_the_delete_when_rerun_then_no_duplicates_and_no_gaps(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(engine)
    everything = await rows_of(engine, audit_t)
    real_delete = archive_module.delete_archived
    calls = 0

    async def crash_once(*args: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("power cut")
        return await real_delete(*args)

    monkeypatch.setattr(archive_module, "delete_archived", crash_once)
    with pytest.raises(RuntimeError, match="power cut"):
        await archive(engine, tmp_path, before=CUT_OFF)
    written = files_in(tmp_path)
    assert await rows_of(engine, audit_t) == everything, "nothing deleted before the crash"

    await archive(engine, tmp_path, before=CUT_OFF)

    assert files_in(tmp_path) == written, "the rerun rewrote identical bytes"
    ids = [row["id"] for row in archived(tmp_path, "audit_log")]
    live = [row["id"] for row in await rows_of(engine, audit_t)]
    assert len(ids) == len(set(ids)) == 7
    assert sorted(ids + live) == [row["id"] for row in everything]
    assert len(archived(tmp_path, "access_log")) == 7
    assert len(await rows_of(engine, access_t)) == 2
    assert await live_chain_ok(engine)
    assert verify_archive(tmp_path).ok


async def test_given_a_crash_before_the_manifest_when_rerun_then_the_archive_is_whole(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The newest row is never archived, so the third October record waits for the next run.
    await add_changes(engine, *spread(OCTOBER, 3))
    await archive(engine, tmp_path, before=CUT_OFF)
    await add_changes(engine, OCTOBER + timedelta(days=1), RECENT)

    def crash(*_args: Any) -> None:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(archive_module, "_write_manifest", crash)
        with pytest.raises(RuntimeError):
            await archive(engine, tmp_path, before=CUT_OFF)
    await archive(engine, tmp_path, before=CUT_OFF)

    ids = [row["id"] for row in archived(tmp_path, "audit_log")]
    assert len(ids) == len(set(ids)) == 4
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["files"]["audit_log-2025-10.jsonl.gz"]["rows"] == 4
    assert await live_chain_ok(engine)
    assert verify_archive(tmp_path).ok


async def test_given_two_runs_in_one_month_when_archiving_then_the_month_file_grows(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    everything = await rows_of(engine, audit_t)

    await archive(engine, tmp_path, before=NOVEMBER + timedelta(hours=2))
    await archive(engine, tmp_path, before=CUT_OFF)

    assert archived(tmp_path, "audit_log") == everything[:7]
    assert len(archived(tmp_path, "access_log")) == 7
    assert await anchor(engine) == (everything[6]["id"], everything[6]["hash"])
    assert verify_archive(tmp_path).ok


async def test_given_an_archive_file_with_one_flipped_byte_when_verifying_then_it_fails(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    await archive(engine, tmp_path, before=CUT_OFF)
    path = tmp_path / "access_log-2025-10.jsonl.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    report = verify_archive(tmp_path)

    assert not report.ok


async def test_given_an_edited_archived_record_when_verifying_then_the_record_is_named(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    await archive(engine, tmp_path, before=CUT_OFF)
    path = tmp_path / "audit_log-2025-11.jsonl.gz"
    rows = decode(path.read_bytes())
    rows[1]["new_values"]["price"] = "0.01"
    path.write_bytes(encode(rows))
    # Even a forger who also fixes the manifest's checksum cannot hide the edit.
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][path.name]["sha256"] = sha256(path.read_bytes())
    manifest_path.write_text(json.dumps(manifest))

    report = verify_archive(tmp_path)
    code = await asyncio.to_thread(verify_main, ["--archive", str(tmp_path)])

    assert (report.ok, report.first_broken_id) == (False, rows[1]["id"])
    assert code == 1


async def test_given_a_removed_archive_file_when_verifying_then_it_fails(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    await archive(engine, tmp_path, before=CUT_OFF)
    (tmp_path / "audit_log-2025-11.jsonl.gz").unlink()

    assert not verify_archive(tmp_path).ok
    assert not verify_archive(tmp_path / "nowhere").ok


async def test_given_an_intact_archive_when_verifying_from_the_command_line_then_exit_0(
    engine: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(engine)
    await archive(engine, tmp_path, before=CUT_OFF)

    code = await asyncio.to_thread(verify_main, ["--archive", str(tmp_path)])

    assert code == 0
    assert "audit chain ok; 7 record(s) checked" in capsys.readouterr().out


async def test_given_a_tampered_month_file_when_archiving_again_then_it_is_not_overwritten(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    await archive(engine, tmp_path, before=NOVEMBER + timedelta(hours=2))
    path = tmp_path / "audit_log-2025-11.jsonl.gz"
    rows = decode(path.read_bytes())
    rows[0]["actor_label"] = "someone else"
    path.write_bytes(encode(rows))
    live = await rows_of(engine, audit_t)

    with pytest.raises(ArchiveError, match="does not match the manifest"):
        await archive(engine, tmp_path, before=CUT_OFF)

    assert decode(path.read_bytes()) == rows
    assert await rows_of(engine, audit_t) == live


async def test_given_a_broken_live_chain_when_archiving_then_it_refuses_and_deletes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await seed(engine)
    async with engine.begin() as conn:
        second = (await conn.execute(select(audit_t.c.id).order_by(audit_t.c.id))).all()[1][0]
        await conn.execute(
            update(audit_t).where(audit_t.c.id == second).values(actor_label="forged")
        )
    before = await rows_of(engine, audit_t)

    with pytest.raises(ArchiveError, match=f"broken at record {second}"):
        await archive(engine, tmp_path, before=CUT_OFF)

    assert await rows_of(engine, audit_t) == before
    assert list(files_in(tmp_path)) == []


# ------------------------------------------------------- the command on a migrated database


@pytest.fixture
async def migrated_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database built by `alembic upgrade head`: a SQLite file, or a new PostgreSQL one."""
    if not database_url.startswith("postgresql"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
        return
    name = f"arch_{uuid.uuid4().hex[:12]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
    finally:
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def migrated(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database, holding the usual old and recent records."""
    engine = create_async_engine(migrated_url, poolclass=NullPool)
    await seed(engine)
    yield engine
    await engine.dispose()


async def test_given_the_command_when_run_then_it_archives_and_a_dry_run_changed_nothing(
    migrated: AsyncEngine,
    migrated_url: str,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "archive"
    args = ["--before", "2025-12-01T00:00:00+00:00", "--out", str(out)]
    args += ["--database-url", migrated_url]
    everything = await rows_of(migrated, audit_t)

    dry = await asyncio.to_thread(main, [*args, "--dry-run"], settings=settings)
    assert (dry, out.exists(), await rows_of(migrated, audit_t)) == (0, False, everything)

    code = await asyncio.to_thread(main, args, settings=settings)

    printed = capsys.readouterr().out
    assert code == 0
    assert "audit_log: deleted 7 archived row(s)" in printed
    assert await rows_of(migrated, audit_t) == everything[7:]
    assert archived(out, "audit_log") == everything[:7]
    assert await live_chain_ok(migrated)
    assert verify_archive(out).ok


@pytest.mark.parametrize(
    ("days", "expected"),
    [(36_500, ["nothing to archive"]), (1, ["audit_log-2025-10", "audit_log-2026-01"])],
    ids=["a-century", "a-day"],
)
async def test_given_no_cut_off_when_running_the_command_then_the_retention_setting_decides(
    migrated: AsyncEngine,
    migrated_url: str,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    days: int,
    expected: list[str],
) -> None:
    kept = settings.model_copy(update={"audit_retention_days": days})
    args = ["--out", str(tmp_path), "--database-url", migrated_url, "--dry-run"]

    code = await asyncio.to_thread(main, args, settings=kept)

    printed = capsys.readouterr().out
    assert code == 0
    assert all(part in printed for part in expected), printed


def test_given_a_malformed_cut_off_when_running_the_command_then_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--before", "last tuesday", "--out", str(tmp_path)])

    assert exit_info.value.code == 2
    assert "not an ISO 8601 timestamp" in capsys.readouterr().err


@pytest.mark.postgres_only
@pytest.mark.parametrize("table", [audit_t, access_t], ids=lambda t: t.name)
async def test_given_a_migrated_postgres_when_deleting_audit_rows_directly_then_refused(
    migrated: AsyncEngine, table: Table
) -> None:
    for statement in (table.delete(), table.update().values(request_id="forged")):
        with pytest.raises(DBAPIError, match="append-only"):
            async with migrated.begin() as conn:
                await conn.execute(statement)

    async with migrated.begin() as conn:
        await conn.execute(text("SET LOCAL audit.archive = 'on'"))
        oldest = (await conn.execute(select(func.min(table.c.id)))).scalar_one()
        deleted = await conn.execute(table.delete().where(table.c.id == oldest))
    assert deleted.rowcount == 1, "the archive's switch lets its own transaction delete"
    with pytest.raises(DBAPIError, match="append-only"):
        async with migrated.begin() as conn:
            await conn.execute(table.delete())
    async with migrated.connect() as conn:
        remaining = (await conn.execute(select(table.c.id))).all()
    assert len(remaining) == 8, "SET LOCAL ended with its transaction"
