"""Trusted documents: the GraphQL operations a production server may run.

`python -m graph.persisted add` registers them; with GRAPHQL_TRUSTED_DOCUMENTS=required the
server runs nothing else (docs/PERSISTED_QUERIES.md). Keyed by the SHA-256 of the exact text.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the trusted documents table."""
    op.create_table(
        "trusted_documents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("operation_name", sa.String(length=256), nullable=True),
        sa.Column("source", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_trusted_documents")),
    )


def downgrade() -> None:
    """Drop the trusted documents table."""
    op.drop_table("trusted_documents")
