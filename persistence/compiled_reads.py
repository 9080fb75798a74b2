"""The statements of the compiled read path (`graph/compiled/`): built once per shape, bound per
request, answered as plain tuples.

A statement's *shape* is everything that changes its SQL text: the table, which filter
criteria are set (and how many statuses or priorities), the ordering, the direction and which
cursor values are NULL. Each shape is built once from the same Core pieces the repositories
use (`persistence.keyset.Sortable`), with named bind parameters in place of the values, and
kept; a request only binds its values, so SQLAlchemy's compiled cache answers without any
construct being built. Rows come back in the entity's field order (`Product(*row)` would
make the entity), so the caller maps columns by index and never builds an entity.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import fields
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    bindparam,
    exists,
    func,
    null,
    select,
    union_all,
)

from domain.customers.model import Customer, CustomerFilter
from domain.pagination import Cursor, Page, PageRequest
from domain.products.model import Product, ProductFilter
from domain.tasks.model import Task, TaskFilter
from domain.users.model import User
from persistence.gate import GatedAdapter
from persistence.keyset import Sortable, group_pages, to_page
from persistence.repositories import (
    SqlAlchemyCustomerRepository,
    SqlAlchemyProductRepository,
    SqlAlchemyTaskRepository,
    SqlAlchemyUserRepository,
    customers_t,
    links_t,
    products_t,
    tasks_t,
    users_t,
)

Row = Sequence[Any]
Params = dict[str, Any]
# Criteria as (shape, values): the shape names the terms present, the values bind them.
Terms = tuple[tuple[Hashable, ...], Params]

_MAX_SHAPES: Final = 512
_ESCAPE: Final = "/"


def _columns(entity: type[Any], table: Any) -> list[ColumnElement[Any]]:
    return [table.c[f.name] for f in fields(entity)]


_TABLES: Final[dict[str, tuple[Any, list[ColumnElement[Any]], Sortable]]] = {
    "products": (products_t, _columns(Product, products_t), SqlAlchemyProductRepository.sortable),
    "customers": (
        customers_t,
        _columns(Customer, customers_t),
        SqlAlchemyCustomerRepository.sortable,
    ),
    "tasks": (tasks_t, _columns(Task, tasks_t), SqlAlchemyTaskRepository.sortable),
    "users": (users_t, _columns(User, users_t), SqlAlchemyUserRepository.sortable),
}


def _selected(table: str, names: frozenset[str]) -> list[ColumnElement[Any]]:
    """The entity's columns in field order, NULL for those the plan does not read (so the
    positions stay the entity's, and unread values cost no conversion)."""
    return [
        column if column.name in names or column.name == "id" else null().label(column.name)
        for column in _TABLES[table][1]
    ]


def _pattern(term: str) -> str:
    """The LIKE pattern of `icontains(term, autoescape=True)`: % and _ match themselves."""
    escaped = term.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%")
    return "%" + escaped.replace("_", _ESCAPE + "_") + "%"


def _contains(column: ColumnElement[Any]) -> ColumnElement[bool]:
    # What `column.icontains(term, autoescape=True)` renders, with the pattern bound.
    return func.lower(column).like(func.lower(bindparam("search")), escape=_ESCAPE)


def _terms(table: str, criteria: object) -> Terms:
    """The shape and values of a filter (already validated and normalised by the caller)."""
    shape: list[Hashable] = []
    values: Params = {}

    def add(name: str, value: Any) -> None:
        shape.append(name)
        values[name] = value

    if isinstance(criteria, ProductFilter):
        if criteria.search:
            add("search", _pattern(criteria.search))
        if criteria.sku is not None:
            add("sku", criteria.sku.strip().upper())
        for name in ("is_active", "min_price", "max_price"):
            if (value := getattr(criteria, name)) is not None:
                add(name, value)
    elif isinstance(criteria, CustomerFilter):
        if criteria.search:
            add("search", _pattern(criteria.search))
        if criteria.email is not None:
            add("email", criteria.email)
        if criteria.company is not None:
            add("company", criteria.company.strip().lower())
    elif isinstance(criteria, TaskFilter):
        if criteria.search:
            add("search", _pattern(criteria.search))
        for name, listed in (("status", criteria.statuses), ("priority", criteria.priorities)):
            if listed is not None:
                shape.append((name, len(listed)))
                values.update({f"{name}_{i}": value for i, value in enumerate(listed)})
        for name in ("customer_id", "assignee_id", "product_id", "due_before", "due_after"):
            if (value := getattr(criteria, name)) is not None:
                add(name, value)
    elif criteria is not None:  # pragma: no cover - the port takes only these filters
        raise TypeError(f"no terms for {type(criteria).__name__} on {table}")
    return tuple(shape), values


def _where(table: str, shape: tuple[Hashable, ...]) -> list[ColumnElement[bool]]:
    """The WHERE terms of a filter shape, as the repositories' `_where` writes them."""
    c = _TABLES[table][0].c
    searched = {
        "products": ("name", "sku", "description"),
        "customers": ("name", "email", "company"),
        "tasks": ("title", "description"),
    }
    where: list[ColumnElement[bool]] = []
    for term in shape:
        if term == "search":
            first, *rest = (_contains(c[name]) for name in searched[table])
            for other in rest:
                first = first | other
            where.append(first)
        elif isinstance(term, tuple):
            name, count = term
            column = c[name]
            where.append(
                column.in_([bindparam(f"{name}_{i}", type_=column.type) for i in range(count)])
            )
        elif term == "min_price":
            where.append(c.price >= bindparam(term, type_=c.price.type))
        elif term == "max_price":
            where.append(c.price <= bindparam(term, type_=c.price.type))
        elif term == "company":
            where.append(func.lower(c.company) == bindparam(term))
        elif term == "product_id":
            where.append(
                exists().where(
                    (links_t.c.task_id == c.id) & (links_t.c.product_id == bindparam(term))
                )
            )
        elif term == "due_before":
            where.append(c.due_date < bindparam(term, type_=c.due_date.type))
        elif term == "due_after":
            where.append(c.due_date > bindparam(term, type_=c.due_date.type))
        else:
            assert isinstance(term, str)
            where.append(c[term] == bindparam(term, type_=c[term].type))
    return where


def _cursor_shape(cursor: Cursor | None) -> tuple[bool, ...] | None:
    return None if cursor is None else tuple(value is None for value in cursor.values)


def _symbolic(cursor: Cursor | None, prefix: str) -> Cursor | None:
    """A cursor whose values are bind parameters (NULLs stay NULL: they change the SQL)."""
    if cursor is None:
        return None
    values: tuple[object, ...] = tuple(
        None if value is None else bindparam(f"{prefix}_{i}")
        for i, value in enumerate(cursor.values)
    )
    return Cursor(values=values, id=bindparam(f"{prefix}_id"))  # type: ignore[arg-type]


def _cursor_values(cursor: Cursor | None, prefix: str, params: Params) -> None:
    if cursor is None:
        return
    for i, value in enumerate(cursor.values):
        if value is not None:
            params[f"{prefix}_{i}"] = value
    params[f"{prefix}_id"] = cursor.id


def _page_shape(page: PageRequest) -> tuple[Hashable, ...]:
    return (page.order, page.backward, _cursor_shape(page.after), _cursor_shape(page.before))


def _bounded(sortable: Sortable, page: PageRequest) -> tuple[list[ColumnElement[bool]], Any]:
    """The keyset bounds and ORDER BY of `page`, with its cursor values as parameters."""
    symbolic = PageRequest(
        limit=page.limit,
        backward=page.backward,
        after=_symbolic(page.after, "after"),
        before=_symbolic(page.before, "before"),
        order=page.order,
    )
    return sortable.bounds(symbolic), sortable.order_by(page.order, reverse=page.backward)


def _page_params(values: Params, page: PageRequest) -> Params:
    params = dict(values)
    _cursor_values(page.after, "after", params)
    _cursor_values(page.before, "before", params)
    params["limit"] = page.limit + 1
    return params


def _ids(column: ColumnElement[Any], name: str = "ids") -> ColumnElement[bool]:
    return column.in_(bindparam(name, expanding=True))


class _Shapes:
    """Built statements by shape, least recently used dropped first."""

    def __init__(self, max_size: int = _MAX_SHAPES) -> None:
        self._built: OrderedDict[Hashable, Any] = OrderedDict()
        self._max_size = max_size

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        stmt = self._built.get(key)
        if stmt is None:
            stmt = self._built[key] = build()
            if len(self._built) > self._max_size:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        return stmt


# Statements are plain Core constructs, the same for every session and dialect: shared.
_SHAPES: Final = _Shapes()


def _page_statement(
    table: str, shape: tuple[Hashable, ...], page: PageRequest, names: frozenset[str]
) -> Select[Any]:
    sortable = _TABLES[table][2]
    bounds, order_by = _bounded(sortable, page)
    return (
        select(*_selected(table, names))
        .where(*_where(table, shape), *bounds)
        .order_by(*order_by)
        .limit(bindparam("limit", type_=Integer))
    )


def _tasks_by_customer_statement(
    shape: tuple[Hashable, ...], page: PageRequest, names: frozenset[str]
) -> Select[Any]:
    """The first page per customer in one statement: ROW_NUMBER() over each customer, as
    `persistence.keyset.windowed` builds it, with the page size bound."""
    sortable = _TABLES["tasks"][2]
    bounds, order_by = _bounded(sortable, page)
    partition = tasks_t.c.customer_id
    row_number = func.row_number().over(partition_by=partition, order_by=order_by).label("rn")
    inner = (
        select(*_selected("tasks", names), partition.label("parent_key"), row_number)
        .where(_ids(partition), *_where("tasks", shape), *bounds)
        .subquery()
    )
    return (
        select(*[c for c in inner.c if c.name != "rn"])
        .where(inner.c.rn <= bindparam("limit", type_=Integer))
        .order_by(inner.c.parent_key, inner.c.rn)
    )


def _products_by_task_statement(names: frozenset[str]) -> Any:
    """Links as bare (task id, product id) pairs and each product's row once, as
    `SqlAlchemyTaskRepository.products_by_task` reads them."""
    links = (
        select(links_t.c.task_id, links_t.c.product_id).where(_ids(links_t.c.task_id)).cte("links")
    )
    columns = _selected("products", names)
    product_rows = select(null().cast(Integer).label("task_id"), *columns).where(
        products_t.c.id.in_(select(links.c.product_id))
    )
    link_rows = select(
        links.c.task_id,
        links.c.product_id,
        *(null().cast(column.type) for column in _TABLES["products"][1][1:]),
    )
    return union_all(product_rows, link_rows)


class SqlAlchemyCompiledReads(GatedAdapter):
    """`graph.ports.CompiledReads` on a request's session, through its gate."""

    async def _fetch(self, stmt: Any, params: Params) -> Sequence[Any]:
        async def fetch() -> Sequence[Any]:
            return (await self._session.execute(stmt, params)).all()

        return await self._gate.run(fetch)

    async def page(
        self, table: str, criteria: object, page: PageRequest, columns: frozenset[str]
    ) -> Page[Row]:
        """A keyset page of `table`'s rows matching `criteria`."""
        shape, values = _terms(table, criteria)
        stmt = _SHAPES.get(
            ("page", table, shape, _page_shape(page), columns),
            lambda: _page_statement(table, shape, page, columns),
        )
        rows = await self._fetch(stmt, _page_params(values, page))
        return to_page(list(rows), page)

    async def count(self, table: str, criteria: object) -> int:
        """How many of `table`'s rows match `criteria`."""
        shape, values = _terms(table, criteria)
        t = _TABLES[table][0]
        stmt = _SHAPES.get(
            ("count", table, shape),
            lambda: select(func.count()).select_from(t).where(*_where(table, shape)),
        )
        rows = await self._fetch(stmt, values)
        return int(rows[0][0])

    async def by_ids(
        self, table: str, ids: Sequence[int], columns: frozenset[str]
    ) -> dict[int, Row]:
        """The rows of `table` with these ids, by id; missing ids are left out."""
        if not ids:
            return {}
        t = _TABLES[table][0]
        stmt = _SHAPES.get(
            ("ids", table, columns),
            lambda: select(*_selected(table, columns)).where(_ids(t.c.id)),
        )
        rows = await self._fetch(stmt, {"ids": sorted(set(ids))})
        return {row[0]: row for row in rows}

    async def tasks_by_customer(
        self,
        customer_ids: Sequence[int],
        criteria: TaskFilter,
        page: PageRequest,
        columns: frozenset[str],
    ) -> dict[int, Page[Row]]:
        """A page of each customer's matching tasks, in one windowed statement."""
        shape, values = _terms("tasks", criteria)
        stmt = _SHAPES.get(
            ("tasks_by_customer", shape, _page_shape(page), columns),
            lambda: _tasks_by_customer_statement(shape, page, columns),
        )
        params = _page_params(values, page)
        params["ids"] = sorted(set(customer_ids))
        rows = await self._fetch(stmt, params)
        return group_pages(rows, customer_ids, page, _without_parent)

    async def task_counts_by_customer(
        self, customer_ids: Sequence[int], criteria: TaskFilter
    ) -> dict[int, int]:
        """How many matching tasks each customer has, in one grouped statement."""
        shape, values = _terms("tasks", criteria)
        stmt = _SHAPES.get(
            ("counts_by_customer", shape),
            lambda: (
                select(tasks_t.c.customer_id, func.count())
                .where(_ids(tasks_t.c.customer_id), *_where("tasks", shape))
                .group_by(tasks_t.c.customer_id)
            ),
        )
        rows = await self._fetch(stmt, {**values, "ids": sorted(set(customer_ids))})
        counts = {row[0]: int(row[1]) for row in rows}
        return {cid: counts.get(cid, 0) for cid in customer_ids}

    async def products_by_task(
        self, task_ids: Sequence[int], columns: frozenset[str]
    ) -> dict[int, list[Row]]:
        """Each task's product rows ordered by id, reading each product once."""
        if not task_ids:
            return {}
        stmt = _SHAPES.get(
            ("products_by_task", columns), lambda: _products_by_task_statement(columns)
        )
        rows = await self._fetch(stmt, {"ids": sorted(set(task_ids))})
        products = {row[1]: row[1:] for row in rows if row[0] is None}
        result: dict[int, list[Row]] = {tid: [] for tid in task_ids}
        for row in rows:
            if row[0] is not None:
                result.setdefault(row[0], []).append(products[row[1]])
        for found in result.values():
            found.sort(key=_first)
        return result


def _without_parent(row: Row) -> Row:
    return row[:-1]


def _first(row: Row) -> Any:
    return row[0]


__all__ = ["SqlAlchemyCompiledReads"]
