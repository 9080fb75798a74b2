"""Appending change records to the hash chain: one statement per write transaction.

Python serialises each record and its canonical JSON; the database reads the chain head,
chains the hashes with a recursive CTE and inserts the records, all in that statement (per
`CHUNK` records). Writers are serialised so the chain never forks: on PostgreSQL the
statement upserts the one-row `audit_head`, whose row lock waits for the previous writer and
then sees its committed head (a plain read would see the statement's older snapshot);
SQLite already holds its single write lock once the transaction has written, so its
statement reads the head from `audit_log`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import JSON, Connection, Dialect, Table, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from audit.chain import canonical
from persistence.models import AuditLogModel

# Records per append statement: a mutation writes a handful, the seeder tens of thousands.
# The batch is one JSON parameter, so this bounds the statement's size, not its binds.
CHUNK: Final = 5000
SQLITE_SHA256: Final = "audit_sha256"  # called by SQLITE_APPEND
# PostgreSQL: the append statement announces the newest id on this channel, delivered when
# (and only if) the transaction commits; subscribers (`realtime`) listen to it.
APPENDED_CHANNEL: Final = "audit_log_appended"

audit_t = cast(Table, AuditLogModel.__table__)


# Without a head, both statements start the chain at the newest record's hash, else at the
# archive anchor's `last_archived_hash` (the archive prunes old rows), else at genesis ("").
# The batch is one JSON array parameter, so there are no per-row binds: `body` is each
# record's canonical JSON, made in Python (`audit.chain.canonical`), the rest are columns.

# SQLite: the transaction holds the write lock, so reading the head in a subquery is safe.
# It indexes the materialized batch for the recursive join (an automatic index), so each
# step is a lookup rather than a scan of the batch.
SQLITE_APPEND: Final = """
INSERT INTO audit_log (occurred_at, action, entity, entity_id, actor_id, actor_label,
    old_values, new_values, changed_fields, request_id, operation_name, prev_hash, hash)
WITH RECURSIVE
    batch(n, doc) AS MATERIALIZED (SELECT key + 1, value FROM json_each(:batch)),
    chain(n, prev_hash, hash) AS (
        SELECT 0, NULL, coalesce(
            (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1),
            (SELECT last_archived_hash FROM audit_anchor WHERE id = 1),
            '')
        UNION ALL
        SELECT b.n, c.hash, audit_sha256(c.hash || (b.doc ->> 'body'))
        FROM chain AS c JOIN batch AS b ON b.n = c.n + 1
    )
SELECT :occurred_at, b.doc ->> 'action', b.doc ->> 'entity', b.doc ->> 'entity_id',
    :actor_id, :actor_label, b.doc ->> 'old_values', b.doc ->> 'new_values',
    b.doc ->> 'changed_fields', :request_id, :operation_name, c.prev_hash, c.hash
FROM chain AS c JOIN batch AS b ON b.n = c.n
ORDER BY c.n
RETURNING id
"""

# PostgreSQL: upserting the head row is the lock. Under READ COMMITTED a statement's
# snapshot predates any wait, but ON CONFLICT DO UPDATE waits for the row's previous writer
# and then works on its newest committed version, so `h.hash` is the real head even where
# subqueries still see an older one. A row cannot change twice in one statement, so the
# upsert stores the new head (the batch chained from `h.hash`) and keeps the old one as
# `previous_hash`, which it returns to start the records' chain; both hash the same batch
# from the same start, so they agree. The insert branch takes effect only while the row is
# missing (a new database, or one built with `create_all`); a writer that loses that race
# waits on the new row's key and then updates it like any other.
# The batch is a jsonb parameter, read in place with `-> n` at each step: a recursive step
# joined to a row set (or a CTE holding the batch, which spills to disk past work_mem)
# would rescan it at every step, quadratic in the batch.
# The hash at the end of the batch chained from `{start}`: the new chain head.
_TIP: Final = """(
            WITH RECURSIVE tip(n, hash) AS (
                SELECT 0, {start}::text
                UNION ALL
                SELECT t.n + 1, encode(sha256(convert_to(
                    t.hash || (CAST(:batch AS jsonb) -> t.n ->> 'body'), 'UTF8')), 'hex')
                FROM tip AS t WHERE t.n < jsonb_array_length(CAST(:batch AS jsonb))
            )
            SELECT tip.hash FROM tip ORDER BY tip.n DESC LIMIT 1
        )"""
POSTGRES_APPEND: Final = """
WITH RECURSIVE
    head(previous_hash) AS (
        INSERT INTO audit_head AS h (id, previous_hash, hash)
        SELECT 1, s.hash, {tip_from_s}
        FROM (
            SELECT coalesce(
                (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1),
                (SELECT last_archived_hash FROM audit_anchor WHERE id = 1),
                '') AS hash
        ) AS s
        ON CONFLICT (id) DO UPDATE SET previous_hash = h.hash, hash = {tip_from_h}
        RETURNING h.previous_hash
    ),
    chain(n, prev_hash, hash) AS (
        SELECT 0, NULL::text, previous_hash::text FROM head
        UNION ALL
        SELECT c.n + 1, c.hash, encode(sha256(convert_to(
            c.hash || (CAST(:batch AS jsonb) -> c.n ->> 'body'), 'UTF8')), 'hex')
        FROM chain AS c WHERE c.n < jsonb_array_length(CAST(:batch AS jsonb))
    ),
    record(n, doc, prev_hash, hash) AS (
        SELECT c.n, CAST(:batch AS jsonb) -> (c.n - 1), c.prev_hash, c.hash
        FROM chain AS c WHERE c.n > 0
    ),
    appended(id) AS (
INSERT INTO audit_log (occurred_at, action, entity, entity_id, actor_id, actor_label,
    old_values, new_values, changed_fields, request_id, operation_name, prev_hash, hash)
SELECT :occurred_at, r.doc ->> 'action', r.doc ->> 'entity', r.doc ->> 'entity_id',
    :actor_id, :actor_label, CAST(r.doc ->> 'old_values' AS json),
    CAST(r.doc ->> 'new_values' AS json), CAST(r.doc ->> 'changed_fields' AS json),
    :request_id, :operation_name, r.prev_hash, r.hash
FROM record AS r
ORDER BY r.n
RETURNING id
    )
SELECT id FROM appended
UNION ALL
SELECT NULL FROM (
    SELECT pg_notify('{channel}', max(id)::text) FROM appended HAVING count(*) > 0
) AS announced
""".format(  # noqa: S608 - constant SQL fragments, nothing from input
    tip_from_s=_TIP.format(start="s.hash"),
    tip_from_h=_TIP.format(start="h.hash"),
    channel=APPENDED_CHANNEL,
)


def _statement(source: str) -> TextClause:
    columns = audit_t.c
    return text(source).bindparams(
        # JSON text on SQLite; on PostgreSQL a jsonb parameter, parsed once.
        bindparam("batch", type_=JSON().with_variant(JSONB(), "postgresql")),
        bindparam("occurred_at", type_=columns.occurred_at.type),
        bindparam("actor_id", type_=columns.actor_id.type),
        bindparam("actor_label", type_=columns.actor_label.type),
        bindparam("request_id", type_=columns.request_id.type),
        bindparam("operation_name", type_=columns.operation_name.type),
    )


APPEND_STATEMENTS: Final = {
    "sqlite": _statement(SQLITE_APPEND),
    "postgresql": _statement(POSTGRES_APPEND),
}


def _json_text(dialect: Dialect) -> Callable[[Any], str]:
    """The JSON columns' own serialiser, so values are stored as an ORM insert stores them."""
    process = audit_t.c.new_values.type.dialect_impl(dialect).bind_processor(dialect)
    return cast(Callable[[Any], str], process or json.dumps)


def append(
    connection: Connection,
    entries: Sequence[Mapping[str, Any]],
    *,
    actor_id: int | None,
    actor_label: str | None,
    request_id: str | None,
    operation_name: str | None,
    now: datetime | None = None,
) -> int:
    """Write `entries` as chained records, one statement per `CHUNK`; returns how many."""
    return len(
        append_returning_ids(
            connection,
            entries,
            actor_id=actor_id,
            actor_label=actor_label,
            request_id=request_id,
            operation_name=operation_name,
            now=now,
        )
    )


def append_returning_ids(
    connection: Connection,
    entries: Sequence[Mapping[str, Any]],
    *,
    actor_id: int | None,
    actor_label: str | None,
    request_id: str | None,
    operation_name: str | None,
    now: datetime | None = None,
) -> list[int]:
    """`append`, returning the new records' ids (what a commit notifies subscribers of)."""
    if not entries:
        return []
    statement = APPEND_STATEMENTS[connection.dialect.name]
    as_json = _json_text(connection.dialect)
    shared = {
        "occurred_at": (now or datetime.now(UTC)).astimezone(UTC),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "request_id": request_id,
        "operation_name": operation_name,
    }
    written: list[int] = []
    for start in range(0, len(entries), CHUNK):
        batch = [
            {
                # What the record's hash covers; the database only chains it.
                "body": canonical({**entry, **shared}),
                "action": entry["action"],
                "entity": entry["entity"],
                "entity_id": entry["entity_id"],
                "old_values": as_json(entry["old_values"]),
                "new_values": as_json(entry["new_values"]),
                "changed_fields": as_json(entry["changed_fields"]),
            }
            for entry in entries[start : start + CHUNK]
        ]
        parameters = {"batch": batch, **shared}
        # PostgreSQL's statement adds one NULL row: its announcement.
        ids = connection.execute(statement, parameters).scalars().all()
        written += [record_id for record_id in ids if record_id is not None]
    return written


def _sha256_hex(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def add_sqlite_sha256(dbapi_connection: Any, _record: Any) -> None:
    """Give a new SQLite connection the hash function the append statement calls."""
    # SQLite has no sha256(); the append statement calls this one. Only the SQLite drivers
    # (pysqlite, aiosqlite) can take Python functions, so the others are left alone.
    create_function = getattr(dbapi_connection, "create_function", None)
    if create_function is not None:
        create_function(SQLITE_SHA256, 1, _sha256_hex, deterministic=True)
