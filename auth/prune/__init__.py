"""Deleting token rows that expired: the use case behind `python -m auth.prune`."""

from __future__ import annotations

from datetime import UTC, datetime

from auth.ports import IdentityUnitOfWork


async def prune_expired_tokens(uow: IdentityUnitOfWork, *, now: datetime | None = None) -> int:
    """Delete expired refresh tokens and revoked-token rows in one transaction; how many."""
    async with uow:
        removed = await uow.identity.prune_expired(now or datetime.now(UTC))
        await uow.commit()
    return removed
