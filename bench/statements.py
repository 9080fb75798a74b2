"""Counting SQL statements by what they are for: data, authentication, audit or access log.

Servers count every statement they send and every /graphql request they receive; the
benchmark reads (and resets) both through `GET /__bench/statements` before and after a run.
Dividing by the requests the server received, not those the client saw completed, keeps
requests still in flight when a run stops from inflating the figures.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Final

STATEMENTS_PATH: Final = "/__bench/statements"
IN_FLIGHT_PATH: Final = "/__bench/in-flight"
CATEGORIES: Final = ("data", "auth", "audit", "access_log")

_ACCESS = re.compile(r"\baccess_log\b", re.IGNORECASE)
_AUDIT = re.compile(r"\baudit_(?:log|anchor)\b", re.IGNORECASE)
_AUTH = re.compile(
    r"\b(?:users|roles|role_grants|user_roles|revoked_tokens|refresh_tokens)\b", re.IGNORECASE
)
_READS: Final = frozenset({"SELECT", "VALUES"})
_WRITES: Final = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
# A WITH statement writes when a data-modifying verb appears in it (PostgreSQL's audit
# append is `WITH RECURSIVE ... INSERT INTO audit_log ...`).
_MODIFIES = re.compile(r"\b(?:INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def classify(statement: str) -> str:
    """`category:verb` of a statement, e.g. `data:read`, `audit:write`, `auth:read`."""
    words = statement.lstrip(" \n\t(").split(None, 1)
    first = words[0].upper() if words else ""
    if first == "WITH":
        verb = "write" if _MODIFIES.search(statement) else "read"
    else:
        verb = "read" if first in _READS else "write" if first in _WRITES else "other"
    if _ACCESS.search(statement):
        category = "access_log"
    elif _AUDIT.search(statement):
        category = "audit"
    elif _AUTH.search(statement):
        category = "auth"
    else:
        category = "data"
    return f"{category}:{verb}"


class StatementCounter:
    """Statement counts by `category:verb`, and requests, since the last `take()`."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.requests = 0
        # Requests received and not yet answered; the benchmark waits for 0 before counting.
        self.in_flight = 0

    def record(self, kind: str) -> None:
        """Count one statement of `kind`."""
        self.counts[kind] += 1

    def take(self) -> dict[str, Any]:
        """Requests, statements by kind and requests in flight; counting starts again."""
        taken = {
            "requests": self.requests,
            "statements": dict(self.counts),
            "in_flight": self.in_flight,
        }
        self.counts, self.requests = Counter(), 0
        return taken

    def peek(self) -> dict[str, Any]:
        """How many requests are in flight, without resetting anything."""
        return {"in_flight": self.in_flight}


class RequestCounting:
    """ASGI middleware that counts the requests to one path, adding nothing else."""

    def __init__(self, app: Any, *, counter: StatementCounter, path: str = "/graphql") -> None:
        self.app = app
        self.counter = counter
        self.path = path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        self.counter.requests += 1
        self.counter.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.counter.in_flight -= 1


def by_category(counts: dict[str, int]) -> dict[str, int]:
    """Totals per category (data, auth, audit, access_log), whatever the verb."""
    totals = dict.fromkeys(CATEGORIES, 0)
    for kind, count in counts.items():
        category = kind.partition(":")[0]
        totals[category] = totals.get(category, 0) + count
    return totals
