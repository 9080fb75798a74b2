"""The access-log writer on a real database: group commit, failures, backpressure, drain.

INSERTs are counted with a `before_cursor_execute` listener. Concurrent callers are
started with `asyncio.gather`, so every record is queued before the writer's task runs
and their batches are predictable. Failures are real: a row that breaks NOT NULL, text
no UTF-8 column takes, a number no INTEGER column takes, a table the database does not
have, a pool whose only connection is taken.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from config.logging import configure_logging
from config.settings import Settings
from domain.cleaning import MAX_DEPTH, MAX_TEXT, TRUNCATED
from graph.access_log import redact
from graph.app import create_app
from persistence.access_log import AccessLogWriter
from persistence.database import create_engine
from persistence.models import AccessLogModel, Base
from tests.conftest import ON_POSTGRES, StatementCounter

access_t = cast(Table, AccessLogModel.__table__)
PATIENCE = 10.0  # seconds; a waiter that takes longer is hanging


def record(request_id: str, **changes: Any) -> dict[str, Any]:
    """An access record as the middleware builds it."""
    return {
        "occurred_at": datetime.now(UTC),
        "user_id": None,
        "ip": "127.0.0.1",
        "method": "POST",
        "path": "/graphql",
        "status_code": 200,
        "duration_ms": 1.5,
        "request_id": request_id,
        "operation_type": "query",
        "operation_name": "Q",
        "error_codes": [],
        "has_errors": False,
        "details": None,
    } | changes


async def written(engine: AsyncEngine) -> list[str]:
    """The request ids in access_log, in insertion order."""
    async with engine.connect() as conn:
        result = await conn.execute(select(access_t.c.request_id).order_by(access_t.c.id))
        return list(result.scalars())


async def stored(engine: AsyncEngine, request_id: str) -> dict[str, Any]:
    """The one stored access record of `request_id`."""
    async with engine.connect() as conn:
        query = select(access_t).where(access_t.c.request_id == request_id)
        return dict((await conn.execute(query)).mappings().one())


async def write_all(writer: AccessLogWriter, *request_ids: str) -> list[bool]:
    """Write one record per id concurrently; fails the test instead of hanging."""
    writes = (writer.write(record(n)) for n in request_ids)
    return list(await asyncio.wait_for(asyncio.gather(*writes), PATIENCE))


def is_access_insert(statement: str) -> bool:
    """Whether a statement inserts into access_log."""
    return statement.lstrip().upper().startswith("INSERT INTO ACCESS_LOG")


def inserts(counter: StatementCounter) -> list[str]:
    """The access-log INSERTs among the counted statements."""
    return [s for s in counter.statements if is_access_insert(s)]


@pytest.fixture
def count_on() -> Iterator[Callable[[AsyncEngine], StatementCounter]]:
    """Attach a counting statement listener to any engine; detached after the test."""
    attached: list[tuple[AsyncEngine, StatementCounter]] = []

    def attach(engine: AsyncEngine) -> StatementCounter:
        counter = StatementCounter(counting=True)
        event.listen(engine.sync_engine, "before_cursor_execute", counter)
        attached.append((engine, counter))
        return counter

    yield attach
    for engine, counter in attached:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)


class AccessLogEvents(logging.Handler):
    """Collects the structlog event dicts that audit.access logs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[dict[str, Any]]:
        """The event dicts logged at `level`."""
        return [cast(dict[str, Any], r.msg) for r in self.records if r.levelno == level]


def exception_of(event: dict[str, Any]) -> type[BaseException] | None:
    """The class of the exception an event carries, whichever format the app set up when the
    logger was first used: the exception itself under `exc_info` (console), or its formatted
    traceback under `exception` (JSON, whose last exception line names the class)."""
    if "exc_info" in event:
        return type(event["exc_info"])
    text = event.get("exception")
    if text is None:
        return None
    last = text.rsplit("Traceback (most recent call last):", 1)[-1]
    line = next(line for line in last.splitlines() if line and not line[0].isspace())
    module, _, name = line.split(":", 1)[0].rpartition(".")
    found: type[BaseException] = getattr(importlib.import_module(module), name)
    return found


@pytest.fixture
def access_logs(settings: Settings) -> Iterator[AccessLogEvents]:
    """What audit.access logs at warning level and above (create_app owns the root logger;
    set up as it would, so that a run of this file alone sees the same)."""
    configure_logging(settings)
    handler = AccessLogEvents()
    logger = logging.getLogger("audit.access")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


OneConnection = Callable[[float], Awaitable[AsyncEngine]]


@pytest.fixture
async def one_connection(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[OneConnection]:
    """Engines on the run's database (a file on SQLite) with a pool of one connection.

    `engine` is requested so that the PostgreSQL tables exist and are emptied afterwards.
    """
    url = database_url if ON_POSTGRES else f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    made: list[AsyncEngine] = []

    async def make(pool_timeout: float) -> AsyncEngine:
        tight = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=pool_timeout)
        made.append(tight)
        if not ON_POSTGRES:
            async with tight.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
        return tight

    yield make
    for tight in made:
        await tight.dispose()


@pytest.fixture
async def without_table(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine whose database has no access_log table (PostgreSQL: an empty search path)."""
    if ON_POSTGRES:
        options = {"server_settings": {"search_path": "no_such_schema"}}
        broken = create_async_engine(database_url, connect_args=options)
    else:
        broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    yield broken
    await broken.dispose()


# ------------------------------------------------------------------------ batching


async def test_given_one_record_when_written_then_one_single_row_insert_at_once(
    engine: AsyncEngine, statements: StatementCounter
) -> None:
    writer = AccessLogWriter(engine)
    statements.counting = True

    assert await asyncio.wait_for(writer.write(record("alone")), PATIENCE) is True

    assert len(inserts(statements)) == 1
    assert await written(engine) == ["alone"]
    await writer.drain()


async def test_given_concurrent_requests_when_written_then_fewer_inserts_than_rows(
    engine: AsyncEngine, statements: StatementCounter
) -> None:
    writer = AccessLogWriter(engine)
    ids = [f"r{n}" for n in range(50)]
    statements.counting = True

    outcomes = await write_all(writer, *ids)

    assert outcomes == [True] * 50
    assert sorted(await written(engine)) == sorted(ids)
    assert 1 <= len(inserts(statements)) < 50, inserts(statements)
    await writer.drain()


async def test_given_a_batch_when_written_then_one_prebuilt_insert_carries_every_row(
    engine: AsyncEngine,
) -> None:
    # Given three records queued together
    writer = AccessLogWriter(engine)
    seen: list[tuple[str, int, bool]] = []

    def on_statement(*args: Any) -> None:
        _conn, _cursor, statement, parameters, _context, executemany = args
        if is_access_insert(statement):
            seen.append((statement, len(parameters) if executemany else 1, executemany))

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    try:
        # When they are written
        assert await write_all(writer, "m1", "m2", "m3") == [True] * 3
        assert await asyncio.wait_for(writer.write(record("m4")), PATIENCE) is True
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_statement)

    # Then the batch is one executemany of the single-row statement (built once, so no
    # batch builds or compiles SQL), and a lone record runs that same statement text
    (batch_sql, batch_rows, is_many), (lone_sql, lone_rows, lone_many) = seen
    assert (batch_rows, is_many, lone_rows, lone_many) == (3, True, 1, False)
    assert batch_sql == lone_sql
    assert await written(engine) == ["m1", "m2", "m3", "m4"]
    await writer.drain()


async def test_given_a_lone_record_on_postgresql_when_written_then_no_transaction_around_it(
    engine: AsyncEngine,
) -> None:
    # Given a writer, and a count of the transactions the engine commits
    writer = AccessLogWriter(engine)
    commits: list[str] = []

    def on_commit(_conn: Any) -> None:
        commits.append("commit")

    event.listen(engine.sync_engine, "commit", on_commit)
    try:
        # When a lone record is written, then a batch of three
        assert await asyncio.wait_for(writer.write(record("lone")), PATIENCE) is True
        lone_commits = len(commits)
        assert await write_all(writer, "b1", "b2", "b3") == [True] * 3
    finally:
        event.remove(engine.sync_engine, "commit", on_commit)

    # Then on PostgreSQL the lone INSERT ran on its own (one round trip, no BEGIN/COMMIT),
    # while SQLite commits it; a batch is one transaction everywhere
    assert lone_commits == (0 if ON_POSTGRES else 1)
    assert len(commits) - lone_commits == 1
    assert await written(engine) == ["lone", "b1", "b2", "b3"]
    await writer.drain()


async def test_given_more_records_than_a_batch_when_written_then_batches_are_capped(
    engine: AsyncEngine, statements: StatementCounter
) -> None:
    writer = AccessLogWriter(engine, max_batch=10)
    statements.counting = True

    outcomes = await write_all(writer, *(f"r{n}" for n in range(25)))

    assert outcomes == [True] * 25
    assert len(inserts(statements)) == 3  # 10 + 10 + 5
    assert len(await written(engine)) == 25
    await writer.drain()


async def test_given_an_insert_running_when_records_arrive_then_they_share_the_next_one(
    engine: AsyncEngine, statements: StatementCounter
) -> None:
    writer = AccessLogWriter(engine)
    insert_began = asyncio.Event()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if is_access_insert(statement):
            insert_began.set()

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    statements.counting = True
    try:
        first = asyncio.create_task(writer.write(record("first")))
        await asyncio.wait_for(insert_began.wait(), PATIENCE)  # "first" is being written alone

        later = await write_all(writer, *(f"later{n}" for n in range(20)))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_statement)

    assert await first is True
    assert later == [True] * 20
    assert len(await written(engine)) == 21
    assert len(inserts(statements)) == 2, inserts(statements)
    await writer.drain()


# ------------------------------------------------------------------------ failures


async def test_given_a_bad_row_in_a_batch_when_written_then_the_rest_land_and_it_reduced(
    engine: AsyncEngine, statements: StatementCounter, access_logs: AccessLogEvents
) -> None:
    writer = AccessLogWriter(engine)
    writes = [writer.write(record("good1")), writer.write(record("bad", status_code=None))]
    writes.append(writer.write(record("good2")))
    statements.counting = True

    outcomes = await asyncio.wait_for(asyncio.gather(*writes), PATIENCE)

    assert outcomes == [True, True, True]
    assert await written(engine) == ["good1", "bad", "good2"]
    # The batch of three was refused, each row was tried on its own, the bad one reduced.
    assert len(inserts(statements)) == 1 + 3 + 1
    bad = await stored(engine, "bad")
    assert (bad["status_code"], bad["operation_name"]) == (0, None)
    assert bad["details"] == {"recordFault": "IntegrityError"}
    errors = access_logs.at(logging.ERROR)
    assert [(e["event"], e["request_ids"]) for e in errors] == [
        ("access record stored without its details", ["bad"])
    ]
    assert issubclass(exception_of(errors[0]) or type(None), sa_exc.IntegrityError)
    assert [e["records"] for e in access_logs.at(logging.WARNING)] == [3]

    assert await asyncio.wait_for(writer.write(record("next")), PATIENCE) is True
    assert await written(engine) == ["good1", "bad", "good2", "next"]
    await writer.drain()


POISONED = {
    "operation_name": "\ud800",
    "ip": "10.0.0.1\x00",
    "path": "/graphql\x00\udfff",
    "method": "POST" * 10,
    "error_codes": ["BAD\x00", "\ud800"],
    "details": {
        "variables": {"name": "x\ud800y", "\udcff": "nul\x00", "ratio": float("nan")},
        "userAgent": "agent\x00" + "a" * 1000,
        "operations": ["\ud800", None],
    },
}


async def test_given_poisoned_text_in_a_batch_when_written_then_all_land_it_cleaned(
    engine: AsyncEngine, statements: StatementCounter, access_logs: AccessLogEvents
) -> None:
    # Given a record whose text no UTF-8 column takes, queued among good ones.
    writer = AccessLogWriter(engine)
    writes = [writer.write(record(f"good{n}")) for n in range(5)]
    writes.insert(2, writer.write(record("poisoned", **POISONED)))
    statements.counting = True

    # When they are written together.
    outcomes = await asyncio.wait_for(asyncio.gather(*writes), PATIENCE)

    # Then every record lands, the poisoned one cleaned before it was queued: one INSERT.
    assert outcomes == [True] * 6
    assert sorted(await written(engine)) == sorted(["poisoned"] + [f"good{n}" for n in range(5)])
    assert len(inserts(statements)) == 1
    poisoned = await stored(engine, "poisoned")
    assert poisoned["operation_name"] == "\\ud800"
    assert (poisoned["ip"], poisoned["path"]) == ("10.0.0.1\\x00", "/graphql\\x00\\udfff")
    assert poisoned["method"] == "POST" + TRUNCATED  # cut to its 16 characters
    assert poisoned["error_codes"] == ["BAD\\x00", "\\ud800"]
    details = poisoned["details"]
    assert details["variables"] == {"name": "x\\ud800y", "\\udcff": "nul\\x00", "ratio": "nan"}
    assert details["userAgent"].startswith("agent\\x00aaa")
    assert details["userAgent"].endswith(TRUNCATED)
    assert len(details["userAgent"]) == MAX_TEXT
    assert details["operations"] == ["\\ud800", None]
    assert access_logs.at(logging.ERROR) == []
    await writer.drain()


@pytest.mark.parametrize("batch_size", [1, 4], ids=["alone", "in-a-batch"])
async def test_given_a_number_no_column_takes_when_written_then_the_rest_land_and_it_reduced(
    engine: AsyncEngine, access_logs: AccessLogEvents, batch_size: int
) -> None:
    # Given a user id past every INTEGER column (SQLite: 64 bits, PostgreSQL: 32), which
    # the drivers refuse with errors of their own, not SQLAlchemy's DataError.
    writer = AccessLogWriter(engine)
    good = [f"good{n}" for n in range(batch_size - 1)]
    writes = [writer.write(record(request_id)) for request_id in good]
    writes.append(writer.write(record("huge", user_id=2**70, **POISONED)))

    # When it is written, alone or with others.
    outcomes = await asyncio.wait_for(asyncio.gather(*writes), PATIENCE)

    # Then the good records land as they are, and the refused one as much as surely fits.
    assert outcomes == [True] * batch_size
    assert await written(engine) == [*good, "huge"]
    assert [(await stored(engine, request_id))["operation_name"] for request_id in good] == [
        "Q"
    ] * len(good)
    huge = await stored(engine, "huge")
    assert (huge["user_id"], huge["status_code"], huge["operation_name"]) == (None, 200, None)
    assert (huge["ip"], huge["path"]) == ("10.0.0.1\\x00", "/graphql\\x00\\udfff")
    assert huge["error_codes"] == []
    assert huge["details"]["recordFault"] in {"DBAPIError", "DataError", "OverflowError"}
    errors = access_logs.at(logging.ERROR)
    assert [(e["event"], e["request_ids"]) for e in errors] == [
        ("access record stored without its details", ["huge"])
    ]
    await writer.drain()


async def test_given_a_missing_table_when_a_batch_fails_then_logged_once_and_not_retried(
    without_table: AsyncEngine,
    count_on: Callable[[AsyncEngine], StatementCounter],
    access_logs: AccessLogEvents,
) -> None:
    writer = AccessLogWriter(without_table)
    counter = count_on(without_table)

    outcomes = await write_all(writer, "a", "b", "c")

    assert outcomes == [False] * 3
    # Every row would fail the same way: no retry row by row.
    assert len(inserts(counter)) == 1
    errors = access_logs.at(logging.ERROR)
    assert [(e["event"], e["request_ids"]) for e in errors] == [
        ("access record not written", ["a", "b", "c"])
    ]
    assert issubclass(exception_of(errors[0]) or type(None), sa_exc.DBAPIError)
    assert access_logs.at(logging.WARNING) == []
    await writer.drain()


async def test_given_an_exhausted_pool_when_writing_then_lost_without_traceback_and_recovers(
    one_connection: OneConnection,
    count_on: Callable[[AsyncEngine], StatementCounter],
    access_logs: AccessLogEvents,
) -> None:
    tight = await one_connection(0.3)
    writer = AccessLogWriter(tight)
    counter = count_on(tight)

    async with tight.connect():  # the pool's only connection
        outcomes = await write_all(writer, "a", "b")

    assert outcomes == [False, False]
    assert inserts(counter) == []
    errors = access_logs.at(logging.ERROR)
    assert [(e["event"], e["request_ids"]) for e in errors] == [
        ("access record not written: no database connection in time", ["a", "b"])
    ]
    assert exception_of(errors[0]) is None
    assert await write_all(writer, "after") == [True]
    assert await written(tight) == ["after"]
    await writer.drain()


# ----------------------------------------------------------------- memory and lifecycle


async def test_given_a_full_queue_when_another_record_comes_then_its_caller_waits_to_queue(
    one_connection: OneConnection,
) -> None:
    tight = await one_connection(PATIENCE)
    writer = AccessLogWriter(tight, max_queued=2)
    held = await tight.connect()
    first = asyncio.create_task(writer.write(record("first")))
    await asyncio.sleep(0.05)  # the writer took "first" and waits for the connection
    queued = [asyncio.create_task(writer.write(record(n))) for n in ("second", "third")]
    blocked = asyncio.create_task(writer.write(record("fourth")))
    await asyncio.sleep(0.05)

    # The fourth caller is still waiting to queue, so cancelling it loses its record; a
    # queue without a bound would already hold it and write it anyway.
    blocked.cancel()
    await held.close()
    outcomes = await asyncio.wait_for(asyncio.gather(first, *queued), PATIENCE)

    assert outcomes == [True] * 3
    assert blocked.cancelled()
    assert sorted(await written(tight)) == ["first", "second", "third"]
    await writer.drain()


async def test_given_queued_records_when_drained_then_all_are_written_first(
    engine: AsyncEngine, statements: StatementCounter
) -> None:
    writer = AccessLogWriter(engine, max_batch=10)
    statements.counting = True
    pending = [asyncio.create_task(writer.write(record(f"r{n}"))) for n in range(30)]
    await asyncio.sleep(0)  # every caller has queued its record; none is written yet

    await asyncio.wait_for(writer.drain(), PATIENCE)

    assert all(task.done() for task in pending)
    assert [task.result() for task in pending] == [True] * 30
    assert len(await written(engine)) == 30
    assert len(inserts(statements)) == 3
    # The writer stays usable after a drain.
    assert await asyncio.wait_for(writer.write(record("late")), PATIENCE) is True
    await writer.drain()


def test_given_one_writer_when_used_under_two_event_loops_then_each_loop_writes(
    tmp_path: Path,
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'loops.db'}")
    # A queue of one makes callers wait to queue, which needs the queue bound to their loop.
    writer = AccessLogWriter(engine, max_queued=1)

    async def write_in_a_new_loop(*request_ids: str) -> list[bool]:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        try:
            return await write_all(writer, *request_ids)
        finally:
            await engine.dispose()  # pooled connections belong to this loop too

    assert asyncio.run(write_in_a_new_loop("a1", "a2", "a3")) == [True] * 3
    assert asyncio.run(write_in_a_new_loop("b1", "b2", "b3")) == [True] * 3

    async def read() -> list[str]:
        try:
            return await written(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(read()) == ["a1", "a2", "a3", "b1", "b2", "b3"]


async def test_given_queued_records_when_the_app_shuts_down_then_they_are_written_first(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> None:
    # An engine of its own: the lifespan disposes it, which would empty in-memory SQLite.
    if not ON_POSTGRES:
        url = f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}"
        settings = settings.model_copy(update={"database_url": url})
    own = create_engine(settings)
    if not ON_POSTGRES:
        async with own.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    app = create_app(settings, engine=own)
    try:
        async with app.router.lifespan_context(app):
            writer: AccessLogWriter = app.state.access_writer
            pending = [asyncio.create_task(writer.write(record(f"r{n}"))) for n in range(30)]
            await asyncio.sleep(0)  # queued, not yet written

        assert [task.result() for task in pending if task.done()] == [True] * 30
        assert len(await written(own)) == 30
    finally:
        await own.dispose()


def test_given_variables_nested_thousands_deep_when_redacted_then_cut_without_recursing() -> None:
    # orjson accepts 1,024 levels; a recursive walk of them overflowed the stack, and the
    # console log then spent minutes rendering the deep value in the traceback.
    deep: list[object] = []
    for _ in range(5_000):
        deep = [deep]

    redacted = redact({"v": deep, "password": "secret"})

    assert redacted["password"] == "[REDACTED]"
    level = redacted["v"]
    for _ in range(MAX_DEPTH - 1):
        level = level[0]
    assert level == [TRUNCATED]
