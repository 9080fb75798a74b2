"""SQLAlchemy repositories. Reads use Core selects straight into domain entities;
writes go through the ORM so that version checks and session hooks see every change.
Repositories never commit: the unit of work does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, exists, func, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from domain.customers.model import Customer, CustomerFilter, NewCustomer
from domain.pagination import Page, PageRequest
from domain.products.model import NewProduct, Product, ProductFilter
from domain.tasks.model import NewTask, Task, TaskFilter
from domain.users.model import User
from persistence.gate import GatedAdapter, SessionGate
from persistence.keyset import Sortable, group_pages, paged, to_page, windowed
from persistence.models import (
    Base,
    CustomerModel,
    ProductModel,
    TaskModel,
    TaskProductModel,
    UserModel,
)
from persistence.types import utcnow

E = TypeVar("E")
M = TypeVar("M", bound=Base)

products_t = ProductModel.__table__
customers_t = CustomerModel.__table__
tasks_t = TaskModel.__table__
links_t = TaskProductModel.__table__
users_t = UserModel.__table__


def _columns(entity: type[Any], table: Any) -> list[ColumnElement[Any]]:
    """The table's columns in the entity's field order, so rows unpack positionally."""
    return [table.c[f.name] for f in fields(entity)]


def _by_id(entity: Any) -> int:
    return int(entity.id)


def _contains(column: ColumnElement[Any], term: str) -> ColumnElement[bool]:
    # Escaped, so % and _ in a search term match themselves.
    return column.icontains(term, autoescape=True)


class _Repository(GatedAdapter, Generic[E, M]):
    """Shared plumbing: one session, serialised, and entity mapping."""

    entity: type[E]
    model: type[M]
    table: Any

    def __init__(self, session: AsyncSession, gate: SessionGate) -> None:
        # One session must not run two statements at once; loaders would otherwise race.
        super().__init__(session, gate)
        self._columns = _columns(self.entity, self.table)
        # The session's identity map holds objects weakly, so a loaded row would be
        # dropped as soon as it is mapped to an entity, and `_update` would re-read it
        # just before writing: the UPDATE would then check the re-read version and
        # silently overwrite a change committed since the service read the row. Keeping
        # each loaded object alive for the session makes the UPDATE check the version
        # that was read (and raise StaleDataError, mapped to Conflict, when it moved).
        self._loaded: dict[int, M] = {}

    def _from_model(self, obj: M) -> E:
        return self.entity(*[getattr(obj, f.name) for f in fields(self.entity)])  # type: ignore[arg-type]

    async def _scalar(self, stmt: Select[Any]) -> Any:
        async def fetch() -> Any:
            return (await self._session.execute(stmt)).scalar_one()

        return await self._gate.run(fetch)

    async def _load(self, pk: int, *, for_update: bool = False) -> M | None:
        async with self._gate:
            if for_update:
                # Waits for a concurrent writer of the row, then reads what it committed.
                obj = await self._session.get(
                    self.model, pk, with_for_update=True, populate_existing=True
                )
            else:
                obj = await self._session.get(self.model, pk)
        if obj is not None:
            self._loaded[pk] = obj
        return obj

    async def get(self, pk: int) -> E | None:
        """One entity by primary key (from the identity map when already loaded)."""
        obj = await self._load(pk)
        return None if obj is None else self._from_model(obj)

    async def get_for_update(self, pk: int) -> E | None:
        """One entity, its row locked until the transaction ends.

        Writers of one row then take turns instead of failing the version check: without
        `expectedVersion` the last writer wins, as documented. On SQLite the write gate
        already serialises write transactions, and `FOR UPDATE` is not rendered.
        """
        obj = await self._load(pk, for_update=True)
        return None if obj is None else self._from_model(obj)

    async def get_many(self, pks: Sequence[int]) -> list[E]:
        """The entities that exist among `pks`, in no particular order."""
        if not pks:
            return []
        rows = await self._rows(select(*self._columns).where(self.table.c.id.in_(set(pks))))
        return [self.entity(*row) for row in rows]

    async def _page(self, stmt: Select[Any], sortable: Sortable, page: PageRequest) -> Page[E]:
        rows = await self._rows(paged(stmt, sortable, page))
        return to_page([self.entity(*row) for row in rows], page)

    async def _add(self, values: Mapping[str, Any]) -> E:
        obj = self.model(**values)
        async with self._gate:
            self._session.add(obj)
            await self._session.flush()
        return self._from_model(obj)

    async def _update(self, pk: int, values: Mapping[str, object]) -> M:
        async with self._gate:
            obj = await self._session.get(self.model, pk)
            if obj is None:  # pragma: no cover - services check existence first
                raise LookupError(pk)
            for name, value in values.items():
                setattr(obj, name, value)
            obj.updated_at = utcnow()  # type: ignore[attr-defined]
            await self._session.flush()
        return obj

    async def update(self, pk: int, values: Mapping[str, object]) -> E:
        """Apply changed values; the ORM bumps `version` and checks it in the UPDATE."""
        return self._from_model(await self._update(pk, values))

    async def delete(self, pk: int) -> None:
        """Delete one row through the ORM."""
        async with self._gate:
            obj = await self._session.get(self.model, pk)
            if obj is not None:
                await self._session.delete(obj)
                await self._session.flush()


class SqlAlchemyProductRepository(_Repository[Product, ProductModel]):
    """Products on SQLAlchemy."""

    entity = Product
    model = ProductModel
    table = products_t
    sortable = Sortable(
        columns={
            "name": products_t.c.name,
            "sku": products_t.c.sku,
            "price": products_t.c.price,
            "created_at": products_t.c.created_at,
        },
        id_column=products_t.c.id,
    )

    @staticmethod
    def _where(criteria: ProductFilter) -> list[ColumnElement[bool]]:
        c = products_t.c
        where: list[ColumnElement[bool]] = []
        if criteria.search:
            term = criteria.search
            where.append(
                _contains(c.name, term) | _contains(c.sku, term) | _contains(c.description, term)
            )
        if criteria.sku is not None:
            where.append(c.sku == criteria.sku.strip().upper())
        if criteria.is_active is not None:
            where.append(c.is_active == criteria.is_active)
        if criteria.min_price is not None:
            where.append(c.price >= criteria.min_price)
        if criteria.max_price is not None:
            where.append(c.price <= criteria.max_price)
        return where

    async def find_page(self, criteria: ProductFilter, page: PageRequest) -> Page[Product]:
        """A keyset page of matching products."""
        stmt = select(*self._columns).where(*self._where(criteria))
        return await self._page(stmt, self.sortable, page)

    async def count(self, criteria: ProductFilter) -> int:
        """How many products match."""
        return int(
            await self._scalar(
                select(func.count()).select_from(products_t).where(*self._where(criteria))
            )
        )

    async def sku_taken(self, sku: str, *, exclude_id: int | None = None) -> bool:
        """Whether another product already uses `sku`."""
        cond = products_t.c.sku == sku
        if exclude_id is not None:
            cond = cond & (products_t.c.id != exclude_id)
        return bool(await self._scalar(select(exists().where(cond))))

    async def existing_ids(self, product_ids: Sequence[int]) -> set[int]:
        """Which of `product_ids` exist."""
        if not product_ids:
            return set()
        rows = await self._rows(
            select(products_t.c.id).where(products_t.c.id.in_(set(product_ids)))
        )
        return {row[0] for row in rows}

    async def add(self, product: NewProduct) -> Product:
        """Insert a product at version 1."""
        return await self._add(
            {
                "sku": product.sku,
                "name": product.name,
                "description": product.description,
                "price": product.price,
                "stock": product.stock,
                "is_active": product.is_active,
            }
        )

    async def count_task_links(self, product_id: int) -> int:
        """How many tasks involve the product."""
        stmt = select(func.count()).select_from(links_t).where(links_t.c.product_id == product_id)
        return int(await self._scalar(stmt))


class SqlAlchemyCustomerRepository(_Repository[Customer, CustomerModel]):
    """Customers on SQLAlchemy."""

    entity = Customer
    model = CustomerModel
    table = customers_t
    sortable = Sortable(
        columns={
            "name": customers_t.c.name,
            "email": customers_t.c.email,
            "created_at": customers_t.c.created_at,
        },
        id_column=customers_t.c.id,
    )

    @staticmethod
    def _where(criteria: CustomerFilter) -> list[ColumnElement[bool]]:
        c = customers_t.c
        where: list[ColumnElement[bool]] = []
        if criteria.search:
            term = criteria.search
            where.append(
                _contains(c.name, term) | _contains(c.email, term) | _contains(c.company, term)
            )
        if criteria.email is not None:
            where.append(c.email == criteria.email)
        if criteria.company is not None:
            where.append(func.lower(c.company) == criteria.company.strip().lower())
        return where

    async def find_page(self, criteria: CustomerFilter, page: PageRequest) -> Page[Customer]:
        """A keyset page of matching customers."""
        stmt = select(*self._columns).where(*self._where(criteria))
        return await self._page(stmt, self.sortable, page)

    async def count(self, criteria: CustomerFilter) -> int:
        """How many customers match."""
        stmt = select(func.count()).select_from(customers_t).where(*self._where(criteria))
        return int(await self._scalar(stmt))

    async def email_taken(self, email: str, *, exclude_id: int | None = None) -> bool:
        """Whether another customer already uses `email`."""
        cond = customers_t.c.email == email
        if exclude_id is not None:
            cond = cond & (customers_t.c.id != exclude_id)
        return bool(await self._scalar(select(exists().where(cond))))

    async def add(self, customer: NewCustomer) -> Customer:
        """Insert a customer at version 1."""
        return await self._add(
            {
                "name": customer.name,
                "email": customer.email,
                "phone": customer.phone,
                "company": customer.company,
            }
        )

    async def count_tasks(self, customer_id: int) -> int:
        """How many tasks belong to the customer."""
        stmt = select(func.count()).select_from(tasks_t).where(tasks_t.c.customer_id == customer_id)
        return int(await self._scalar(stmt))


class SqlAlchemyTaskRepository(_Repository[Task, TaskModel]):
    """Tasks and their product links on SQLAlchemy."""

    entity = Task
    model = TaskModel
    table = tasks_t
    sortable = Sortable(
        columns={
            "title": tasks_t.c.title,
            "due_date": tasks_t.c.due_date,
            "priority": tasks_t.c.priority,
            "created_at": tasks_t.c.created_at,
        },
        id_column=tasks_t.c.id,
        nullable=frozenset({"due_date"}),
    )

    @staticmethod
    def _where(criteria: TaskFilter) -> list[ColumnElement[bool]]:
        c = tasks_t.c
        where: list[ColumnElement[bool]] = []
        if criteria.search:
            where.append(
                _contains(c.title, criteria.search) | _contains(c.description, criteria.search)
            )
        if criteria.statuses is not None:
            where.append(c.status.in_(criteria.statuses))
        if criteria.priorities is not None:
            where.append(c.priority.in_(criteria.priorities))
        if criteria.customer_id is not None:
            where.append(c.customer_id == criteria.customer_id)
        if criteria.assignee_id is not None:
            where.append(c.assignee_id == criteria.assignee_id)
        if criteria.product_id is not None:
            where.append(
                exists().where(
                    (links_t.c.task_id == c.id) & (links_t.c.product_id == criteria.product_id)
                )
            )
        if criteria.due_before is not None:
            where.append(c.due_date < criteria.due_before)
        if criteria.due_after is not None:
            where.append(c.due_date > criteria.due_after)
        return where

    async def find_page(self, criteria: TaskFilter, page: PageRequest) -> Page[Task]:
        """A keyset page of matching tasks."""
        stmt = select(*self._columns).where(*self._where(criteria))
        return await self._page(stmt, self.sortable, page)

    async def count(self, criteria: TaskFilter) -> int:
        """How many tasks match."""
        stmt = select(func.count()).select_from(tasks_t).where(*self._where(criteria))
        return int(await self._scalar(stmt))

    def _build(self, row: Any) -> Task:
        return Task(*row[:-1])

    async def pages_by_customer(
        self, customer_ids: Sequence[int], criteria: TaskFilter, page: PageRequest
    ) -> dict[int, Page[Task]]:
        """The first page of each customer's tasks, in one windowed statement."""
        stmt = select(*self._columns).where(
            tasks_t.c.customer_id.in_(set(customer_ids)), *self._where(criteria)
        )
        rows = await self._rows(windowed(stmt, self.sortable, page, tasks_t.c.customer_id))
        return group_pages(rows, customer_ids, page, self._build)

    async def counts_by_customer(
        self, customer_ids: Sequence[int], criteria: TaskFilter
    ) -> dict[int, int]:
        """How many matching tasks each customer has, in one grouped statement."""
        stmt = (
            select(tasks_t.c.customer_id, func.count())
            .where(tasks_t.c.customer_id.in_(set(customer_ids)), *self._where(criteria))
            .group_by(tasks_t.c.customer_id)
        )
        counts = {row[0]: int(row[1]) for row in await self._rows(stmt)}
        return {cid: counts.get(cid, 0) for cid in customer_ids}

    async def pages_by_product(
        self, product_ids: Sequence[int], page: PageRequest
    ) -> dict[int, Page[Task]]:
        """The first page of tasks involving each product, in one windowed statement."""
        stmt = (
            select(*self._columns)
            .join(links_t, links_t.c.task_id == tasks_t.c.id)
            .where(links_t.c.product_id.in_(set(product_ids)))
        )
        rows = await self._rows(windowed(stmt, self.sortable, page, links_t.c.product_id))
        return group_pages(rows, product_ids, page, self._build)

    async def counts_by_product(self, product_ids: Sequence[int]) -> dict[int, int]:
        """How many tasks involve each product, in one grouped statement."""
        stmt = (
            select(links_t.c.product_id, func.count())
            .where(links_t.c.product_id.in_(set(product_ids)))
            .group_by(links_t.c.product_id)
        )
        counts = {row[0]: int(row[1]) for row in await self._rows(stmt)}
        return {pid: counts.get(pid, 0) for pid in product_ids}

    async def products_by_task(self, task_ids: Sequence[int]) -> dict[int, list[Product]]:
        """Each task's products ordered by id, in one statement that reads each product once.

        Tasks share products (a page of 500 tasks may name 300 products 1,500 times), so the
        statement returns the links as bare (task id, product id) pairs and each product's
        row only once: far fewer values to fetch, convert and map.
        """
        links = (
            select(links_t.c.task_id, links_t.c.product_id)
            .where(links_t.c.task_id.in_(set(task_ids)))
            .cte("links")
        )
        columns = _columns(Product, products_t)
        product_rows = select(null().cast(Integer).label("task_id"), *columns).where(
            products_t.c.id.in_(select(links.c.product_id))
        )
        link_rows = select(
            links.c.task_id,
            links.c.product_id,
            *(null().cast(column.type) for column in columns[1:]),
        )
        rows = await self._rows(union_all(product_rows, link_rows))
        products = {row[1]: Product(*row[1:]) for row in rows if row[0] is None}
        result: dict[int, list[Product]] = {tid: [] for tid in task_ids}
        for row in rows:
            if row[0] is not None:
                result.setdefault(row[0], []).append(products[row[1]])
        for found in result.values():
            found.sort(key=_by_id)
        return result

    async def add(self, task: NewTask) -> Task:
        """Insert a task at version 1 with its product links."""
        created = await self._add(
            {
                "title": task.title,
                "description": task.description,
                "status": task.status,
                "priority": task.priority,
                "due_date": task.due_date,
                "customer_id": task.customer_id,
                "assignee_id": task.assignee_id,
            }
        )
        if task.product_ids:
            await self._link(created.id, task.product_ids)
        return created

    async def _link(self, task_id: int, product_ids: Sequence[int]) -> None:
        async with self._gate:
            self._session.add_all(
                TaskProductModel(task_id=task_id, product_id=pid) for pid in product_ids
            )
            await self._session.flush()

    async def _linked(self, task_id: int) -> list[TaskProductModel]:
        async with self._gate:
            result = await self._session.scalars(
                select(TaskProductModel).where(TaskProductModel.task_id == task_id)
            )
            return list(result)

    async def _unlink(self, links: Sequence[TaskProductModel]) -> None:
        async with self._gate:
            for link in links:
                await self._session.delete(link)
            await self._session.flush()

    async def update(
        self,
        pk: int,
        values: Mapping[str, object],
        product_ids: Sequence[int] | None = None,
    ) -> Task:
        """Apply changes; a given product set replaces the stored one, writing only the diff."""
        links_changed = False
        if product_ids is not None:
            current = await self._linked(pk)
            wanted = set(product_ids)
            stale = [link for link in current if link.product_id not in wanted]
            have = {link.product_id for link in current}
            added = [pid for pid in product_ids if pid not in have]
            if stale:
                await self._unlink(stale)
            if added:
                await self._link(pk, added)
            links_changed = bool(stale or added)
        if not values and not links_changed:
            task = await self.get(pk)
            assert task is not None
            return task
        # Touching updated_at bumps the version even when only the links changed.
        return self._from_model(await self._update(pk, values))

    async def delete(self, pk: int) -> None:
        """Delete the task's links, then the task, each through the ORM."""
        links = await self._linked(pk)
        if links:
            await self._unlink(links)
        await super().delete(pk)


class SqlAlchemyUserRepository(_Repository[User, UserModel]):
    """Users on SQLAlchemy."""

    entity = User
    model = UserModel
    table = users_t
    sortable = Sortable(columns={}, id_column=users_t.c.id)

    async def find_page(self, page: PageRequest) -> Page[User]:
        """A keyset page of users by id."""
        return await self._page(select(*self._columns), self.sortable, page)

    async def count(self) -> int:
        """How many users exist."""
        return int(await self._scalar(select(func.count()).select_from(users_t)))


__all__ = [
    "SqlAlchemyCustomerRepository",
    "SqlAlchemyProductRepository",
    "SqlAlchemyTaskRepository",
    "SqlAlchemyUserRepository",
]
