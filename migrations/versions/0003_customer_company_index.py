"""Index customers by lower(company), which is what the company filter compares.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 22:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace the plain company index with one on lower(company)."""
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_company"))
    op.create_index("ix_customers_lower_company", "customers", [sa.text("lower(company)")])


def downgrade() -> None:
    """Restore the plain company index."""
    op.drop_index("ix_customers_lower_company", table_name="customers")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_company"), ["company"], unique=False)
