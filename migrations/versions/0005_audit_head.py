"""Audit chain head: one row that PostgreSQL writers lock in turn.

`audit.append.append` upserts `audit_head` (id=1) in the same statement that chains and
inserts a transaction's records, so auditing costs one statement per write transaction:
the upsert's row lock serialises writers and shows each the head the previous one
committed. This revision creates the table and, on PostgreSQL, sets the head to where the
chain ends now (the newest record's hash, else the archive anchor's, else genesis), so the
chain continues unbroken. SQLite reads the head from `audit_log` and leaves the table
empty. Stop writers of the previous release before upgrading: they append without moving
the head, and the next new writer would then fork the chain.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The advisory lock the previous release's writers took around reading the head; holding it
# lets a writer still in flight commit before the head is read.
PREVIOUS_CHAIN_LOCK = 7_310_431_559
BACKFILL = """
INSERT INTO audit_head (id, hash, previous_hash)
SELECT 1, start.hash, start.hash
FROM (
    SELECT coalesce(
        (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1),
        (SELECT last_archived_hash FROM audit_anchor WHERE id = 1),
        '') AS hash
) AS start
"""


def upgrade() -> None:
    """Create the head table and, on PostgreSQL, set the head to the chain's end."""
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT pg_advisory_xact_lock({PREVIOUS_CHAIN_LOCK})")
        op.execute(BACKFILL)


def downgrade() -> None:
    """Drop the head table; the previous release reads the head from `audit_log`."""
    op.drop_table("audit_head")
