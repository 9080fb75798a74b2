"""Optimistic concurrency: a stale expected version refuses the update."""

from __future__ import annotations

from domain.errors import Conflict


def check_version(entity: str, stored: int, expected: int | None) -> None:
    """Raise `Conflict` when the caller's `expected` version is not the stored one."""
    if expected is not None and expected != stored:
        raise Conflict(
            f"{entity} was changed by someone else (version {stored}, expected {expected}).",
            fields={"expectedVersion": f"is stale; current version is {stored}"},
            details={"currentVersion": stored},
        )
