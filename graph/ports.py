"""What the GraphQL layer needs from the adapters the composition root hands it.

The unit of work of a request offers the domain's repositories, the identity repository
of `auth`, and the audit trail; `persistence.unit_of_work.SqlAlchemyUnitOfWork` implements
it. Nothing in `graph/` except the composition root (`graph/app.py`, `graph/wiring.py`)
knows that class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from auth.ports import IdentityUnitOfWork
from domain.audit import AuditReader
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.tasks.model import TaskFilter

# A row of the compiled read path: column values in the entity's field order.
Row = Sequence[Any]


class RequestUnitOfWork(UnitOfWork, IdentityUnitOfWork, Protocol):
    """One request's unit of work: every repository on one session, closed after the response."""

    @property
    def audit(self) -> AuditReader:
        """The change and access records, read on this unit of work's session."""
        ...

    def read_connection(self) -> AbstractAsyncContextManager[Any]:
        """A connection held exclusively for a long read (the audit chain walk)."""
        ...

    def name_operation(self, name: str | None) -> None:
        """Name the GraphQL operation in the change records the commits write."""
        ...

    async def close(self) -> None:
        """Release the session and its connection."""
        ...


# Builds a fresh unit of work: one per request, or per batch of subscription events.
UnitOfWorkFactory = Callable[[], RequestUnitOfWork]


class CompiledReads(Protocol):
    """The statements of the compiled read path (`graph/compiled/`), on a request's session.

    Rows are plain tuples in the entity's field order (`Product`, `Customer`, `Task`,
    `User` of the domain), so the caller reads columns by index and builds no entity. Filters
    arrive validated and normalised, as the domain services hand them to the repositories.
    """

    async def page(
        self, table: str, criteria: object, page: PageRequest, columns: frozenset[str]
    ) -> Page[Row]:
        """A keyset page of `table`'s rows (products, customers, tasks) matching `criteria`.

        Only the fields in `columns` (and the id) are read; the others are None."""
        ...

    async def count(self, table: str, criteria: object) -> int:
        """How many of `table`'s rows match `criteria`."""
        ...

    async def by_ids(
        self, table: str, ids: Sequence[int], columns: frozenset[str]
    ) -> dict[int, Row]:
        """The rows with these ids, by id; missing ids are left out."""
        ...

    async def tasks_by_customer(
        self,
        customer_ids: Sequence[int],
        criteria: TaskFilter,
        page: PageRequest,
        columns: frozenset[str],
    ) -> dict[int, Page[Row]]:
        """A page of each customer's matching tasks, in one statement."""
        ...

    async def task_counts_by_customer(
        self, customer_ids: Sequence[int], criteria: TaskFilter
    ) -> dict[int, int]:
        """How many matching tasks each customer has, in one statement."""
        ...

    async def products_by_task(
        self, task_ids: Sequence[int], columns: frozenset[str]
    ) -> dict[int, list[Row]]:
        """Each task's product rows ordered by id, in one statement."""
        ...
