"""Keyset (seek) pagination in SQL: ordering, bounds and per-parent windows. No OFFSET."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, false, func, literal, or_, select

from domain.pagination import Cursor, Page, PageRequest, SortKey

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Atom:
    """One term of the effective ordering: an expression and its direction."""

    expr: ColumnElement[Any]
    descending: bool
    is_null_flag: bool = False


@dataclass(frozen=True, slots=True)
class Sortable:
    """How a module's sortable fields map to columns."""

    columns: Mapping[str, ColumnElement[Any]]
    id_column: ColumnElement[Any]
    nullable: frozenset[str] = frozenset()

    def atoms(self, order: Sequence[SortKey], *, reverse: bool) -> list[Atom]:
        """The ordering as atoms; nullable keys sort their NULLs last, ties go by id."""
        atoms: list[Atom] = []
        for key in order:
            column = self.columns[key.field]
            if key.field in self.nullable:
                flag = case((column.is_(None), 1), else_=0)
                atoms.append(Atom(flag, reverse, is_null_flag=True))
            atoms.append(Atom(column, key.descending != reverse))
        tie_descending = order[-1].descending if order else False
        atoms.append(Atom(self.id_column, tie_descending != reverse))
        return atoms

    def order_by(self, order: Sequence[SortKey], *, reverse: bool) -> list[ColumnElement[Any]]:
        """ORDER BY terms for the ordering, read forwards or backwards."""
        return [
            a.expr.desc() if a.descending else a.expr.asc()
            for a in self.atoms(order, reverse=reverse)
        ]

    def _values(self, order: Sequence[SortKey], cursor: Cursor) -> list[Any]:
        values: list[Any] = []
        for key, value in zip(order, cursor.values, strict=True):
            if key.field in self.nullable:
                values.append(1 if value is None else 0)
            values.append(value)
        values.append(cursor.id)
        return values

    def beyond(
        self, order: Sequence[SortKey], cursor: Cursor, *, backwards: bool
    ) -> ColumnElement[bool]:
        """Rows strictly after `cursor` in the ordering (strictly before when `backwards`)."""
        atoms = self.atoms(order, reverse=backwards)
        values = self._values(order, cursor)
        terms: list[ColumnElement[bool]] = []
        prefix: list[ColumnElement[bool]] = []
        for atom, value in zip(atoms, values, strict=True):
            if value is None:
                # Inside the NULL group every value is NULL: the flag already matched.
                continue
            step = atom.expr < value if atom.descending else atom.expr > value
            terms.append(and_(*prefix, step) if prefix else step)
            prefix.append(atom.expr == value)
        return or_(*terms) if terms else false()

    def bounds(self, page: PageRequest) -> list[ColumnElement[bool]]:
        """WHERE terms for the page's `after` and `before` cursors."""
        conditions = []
        if page.after is not None:
            conditions.append(self.beyond(page.order, page.after, backwards=False))
        if page.before is not None:
            conditions.append(self.beyond(page.order, page.before, backwards=True))
        return conditions


def paged(stmt: Select[Any], sortable: Sortable, page: PageRequest) -> Select[Any]:
    """Apply bounds, ordering and a limit one past the page size (to see if more exist)."""
    return (
        stmt.where(*sortable.bounds(page))
        .order_by(*sortable.order_by(page.order, reverse=page.backward))
        .limit(page.limit + 1)
    )


def to_page(items: list[T], page: PageRequest) -> Page[T]:
    """Trim the extra row, restore display order and set Relay's page flags."""
    has_more = len(items) > page.limit
    items = items[: page.limit]
    if page.backward:
        items.reverse()
        return Page(items, page.before is not None, has_more, page.order)
    return Page(items, has_more, page.after is not None, page.order)


def windowed(
    stmt: Select[Any],
    sortable: Sortable,
    page: PageRequest,
    partition: ColumnElement[Any],
) -> Select[Any]:
    """The first page per parent in one statement, using ROW_NUMBER() over each parent."""
    row_number = (
        func.row_number()
        .over(partition_by=partition, order_by=sortable.order_by(page.order, reverse=page.backward))
        .label("rn")
    )
    ranked = stmt.add_columns(partition.label("parent_key"), row_number)
    inner = ranked.where(*sortable.bounds(page)).subquery()
    return (
        select(*[c for c in inner.c if c.name not in ("rn",)])
        .where(inner.c.rn <= literal(page.limit + 1))
        .order_by(inner.c.parent_key, inner.c.rn)
    )


def group_pages(
    rows: Iterable[Any],
    parents: Sequence[int],
    page: PageRequest,
    build: Callable[[Any], T],
) -> dict[int, Page[T]]:
    """Split windowed rows (parent key last) into one page per parent, empty ones included."""
    grouped: dict[int, list[T]] = {parent: [] for parent in parents}
    for row in rows:
        grouped.setdefault(row[-1], []).append(build(row))
    return {parent: to_page(items, page) for parent, items in grouped.items()}
