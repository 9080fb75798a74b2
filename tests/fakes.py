"""In-memory fakes of the domain's ports, for unit tests of services.

They satisfy the same Protocols as the SQLAlchemy adapter (mypy checks that at the
bottom of this module), keep rows in plain dicts, and give the unit of work the same
contract: changes made inside `async with uow:` survive only when `commit()` is
reached; otherwise the store is restored from a snapshot taken on entry.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from domain.customers.model import Customer, CustomerFilter, NewCustomer
from domain.pagination import Cursor, Page, PageRequest, SortKey
from domain.ports import UnitOfWork
from domain.products.model import NewProduct, Product, ProductFilter
from domain.tasks.model import NewTask, Task, TaskFilter
from domain.users.model import User

T = TypeVar("T")


class FakeClock:
    """A clock that moves one second per reading, so every write gets a later time."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


@dataclass
class Store:
    """Every table of the fake database; the unit of work snapshots and restores it."""

    products: dict[int, Product] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    # task id -> product ids, in the order they were linked.
    task_products: dict[int, list[int]] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    next_id: int = 1

    def new_id(self) -> int:
        """A fresh primary key, unique across tables (which is harmless and finds mix-ups)."""
        value = self.next_id
        self.next_id += 1
        return value


# ---------------------------------------------------------------- keyset paging


def _compare(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _position(row: Any, order: Sequence[SortKey]) -> tuple[tuple[object, ...], int]:
    return tuple(getattr(row, key.field) for key in order), row.id


def _compare_positions(
    order: Sequence[SortKey],
    left: tuple[tuple[object, ...], int],
    right: tuple[tuple[object, ...], int],
) -> int:
    """Order like the SQL adapter: NULLs last, ties by id in the last key's direction."""
    for key, a, b in zip(order, left[0], right[0], strict=True):
        if a is None or b is None:
            if a is None and b is None:
                continue
            return 1 if a is None else -1
        result = _compare(a, b)
        if result:
            return -result if key.descending else result
    tie_descending = order[-1].descending if order else False
    result = _compare(left[1], right[1])
    return -result if tie_descending else result


def keyset_page(rows: Iterable[T], page: PageRequest) -> Page[T]:
    """Sort, cut at the cursors and trim to the page size, with Relay's page flags."""
    order = page.order

    def position(row: T) -> tuple[tuple[object, ...], int]:
        return _position(row, order)

    def of_cursor(cursor: Cursor) -> tuple[tuple[object, ...], int]:
        return cursor.values, cursor.id

    def compare(a: T, b: T) -> int:
        return _compare_positions(order, position(a), position(b))

    ordered: list[T] = sorted(rows, key=functools.cmp_to_key(compare))
    if page.after is not None:
        after = of_cursor(page.after)
        ordered = [r for r in ordered if _compare_positions(order, position(r), after) > 0]
    if page.before is not None:
        before = of_cursor(page.before)
        ordered = [r for r in ordered if _compare_positions(order, position(r), before) < 0]
    if page.backward:
        items = ordered[max(len(ordered) - page.limit, 0) :]
        return Page(items, page.before is not None, len(ordered) > page.limit, order)
    items = ordered[: page.limit]
    return Page(items, len(ordered) > page.limit, page.after is not None, order)


def _contains(value: str | None, term: str) -> bool:
    return value is not None and term.lower() in value.lower()


# ---------------------------------------------------------------- repositories


class FakeProductRepository:
    """Products in a dict."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def get_for_update(self, product_id: int, /) -> Product | None:
        """The fakes run one transaction at a time: nothing to lock."""
        return await self.get(product_id)

    async def get(self, product_id: int, /) -> Product | None:
        """A copy of one product, or None."""
        found = self._store.products.get(product_id)
        return None if found is None else replace(found)

    async def get_many(self, product_ids: Sequence[int], /) -> list[Product]:
        """Copies of the products that exist among `product_ids`."""
        wanted = set(product_ids)
        return [replace(p) for pid, p in self._store.products.items() if pid in wanted]

    def _matching(self, criteria: ProductFilter) -> list[Product]:
        found = []
        for p in self._store.products.values():
            if criteria.search and not any(
                _contains(text, criteria.search) for text in (p.name, p.sku, p.description)
            ):
                continue
            if criteria.sku is not None and p.sku != criteria.sku.strip().upper():
                continue
            if criteria.is_active is not None and p.is_active != criteria.is_active:
                continue
            if criteria.min_price is not None and p.price < criteria.min_price:
                continue
            if criteria.max_price is not None and p.price > criteria.max_price:
                continue
            found.append(replace(p))
        return found

    async def find_page(self, criteria: ProductFilter, page: PageRequest) -> Page[Product]:
        """A keyset page of matching products."""
        return keyset_page(self._matching(criteria), page)

    async def count(self, criteria: ProductFilter) -> int:
        """How many products match."""
        return len(self._matching(criteria))

    async def sku_taken(self, sku: str, *, exclude_id: int | None = None) -> bool:
        """Whether another product uses `sku`."""
        return any(p.sku == sku and p.id != exclude_id for p in self._store.products.values())

    async def existing_ids(self, product_ids: Sequence[int]) -> set[int]:
        """Which of `product_ids` exist."""
        return {pid for pid in product_ids if pid in self._store.products}

    async def add(self, product: NewProduct) -> Product:
        """Insert at version 1."""
        now = self._clock()
        created = Product(
            id=self._store.new_id(),
            sku=product.sku,
            name=product.name,
            description=product.description,
            price=product.price,
            stock=product.stock,
            is_active=product.is_active,
            version=1,
            created_at=now,
            updated_at=now,
        )
        self._store.products[created.id] = created
        return replace(created)

    async def update(self, product_id: int, /, values: Mapping[str, object]) -> Product:
        """Apply values, bump the version and touch updated_at."""
        stored = self._store.products[product_id]
        changed = replace(stored, **values, version=stored.version + 1, updated_at=self._clock())  # type: ignore[arg-type]
        self._store.products[product_id] = changed
        return replace(changed)

    async def delete(self, product_id: int, /) -> None:
        """Remove the product; like the RESTRICT foreign key, refuse while tasks use it."""
        if await self.count_task_links(product_id):
            raise AssertionError("the database would refuse: tasks still use this product")
        self._store.products.pop(product_id, None)

    async def count_task_links(self, product_id: int, /) -> int:
        """How many tasks involve the product."""
        return sum(product_id in pids for pids in self._store.task_products.values())


class FakeCustomerRepository:
    """Customers in a dict."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def get_for_update(self, customer_id: int, /) -> Customer | None:
        """The fakes run one transaction at a time: nothing to lock."""
        return await self.get(customer_id)

    async def get(self, customer_id: int, /) -> Customer | None:
        """A copy of one customer, or None."""
        found = self._store.customers.get(customer_id)
        return None if found is None else replace(found)

    async def get_many(self, customer_ids: Sequence[int], /) -> list[Customer]:
        """Copies of the customers that exist among `customer_ids`."""
        wanted = set(customer_ids)
        return [replace(c) for cid, c in self._store.customers.items() if cid in wanted]

    def _matching(self, criteria: CustomerFilter) -> list[Customer]:
        found = []
        for c in self._store.customers.values():
            if criteria.search and not any(
                _contains(text, criteria.search) for text in (c.name, c.email, c.company)
            ):
                continue
            if criteria.email is not None and c.email != criteria.email:
                continue
            if criteria.company is not None and (
                c.company is None or c.company.lower() != criteria.company.strip().lower()
            ):
                continue
            found.append(replace(c))
        return found

    async def find_page(self, criteria: CustomerFilter, page: PageRequest) -> Page[Customer]:
        """A keyset page of matching customers."""
        return keyset_page(self._matching(criteria), page)

    async def count(self, criteria: CustomerFilter) -> int:
        """How many customers match."""
        return len(self._matching(criteria))

    async def email_taken(self, email: str, *, exclude_id: int | None = None) -> bool:
        """Whether another customer uses `email`."""
        return any(c.email == email and c.id != exclude_id for c in self._store.customers.values())

    async def add(self, customer: NewCustomer) -> Customer:
        """Insert at version 1."""
        now = self._clock()
        created = Customer(
            id=self._store.new_id(),
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            company=customer.company,
            version=1,
            created_at=now,
            updated_at=now,
        )
        self._store.customers[created.id] = created
        return replace(created)

    async def update(self, customer_id: int, /, values: Mapping[str, object]) -> Customer:
        """Apply values, bump the version and touch updated_at."""
        stored = self._store.customers[customer_id]
        changed = replace(stored, **values, version=stored.version + 1, updated_at=self._clock())  # type: ignore[arg-type]
        self._store.customers[customer_id] = changed
        return replace(changed)

    async def delete(self, customer_id: int, /) -> None:
        """Remove the customer; like the RESTRICT foreign key, refuse while tasks refer to it."""
        if await self.count_tasks(customer_id):
            raise AssertionError("the database would refuse: tasks still refer to this customer")
        self._store.customers.pop(customer_id, None)

    async def count_tasks(self, customer_id: int, /) -> int:
        """How many tasks belong to the customer."""
        return sum(t.customer_id == customer_id for t in self._store.tasks.values())


class FakeTaskRepository:
    """Tasks and their product links in dicts."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def get_for_update(self, task_id: int, /) -> Task | None:
        """The fakes run one transaction at a time: nothing to lock."""
        return await self.get(task_id)

    async def get(self, task_id: int, /) -> Task | None:
        """A copy of one task, or None."""
        found = self._store.tasks.get(task_id)
        return None if found is None else replace(found)

    async def get_many(self, task_ids: Sequence[int], /) -> list[Task]:
        """Copies of the tasks that exist among `task_ids`."""
        wanted = set(task_ids)
        return [replace(t) for tid, t in self._store.tasks.items() if tid in wanted]

    def _matches(self, t: Task, criteria: TaskFilter) -> bool:
        checks = (
            not criteria.search
            or _contains(t.title, criteria.search)
            or _contains(t.description, criteria.search),
            criteria.statuses is None or t.status in criteria.statuses,
            criteria.priorities is None or t.priority in criteria.priorities,
            criteria.customer_id is None or t.customer_id == criteria.customer_id,
            criteria.assignee_id is None or t.assignee_id == criteria.assignee_id,
            criteria.product_id is None
            or criteria.product_id in self._store.task_products.get(t.id, []),
            criteria.due_before is None
            or (t.due_date is not None and t.due_date < criteria.due_before),
            criteria.due_after is None
            or (t.due_date is not None and t.due_date > criteria.due_after),
        )
        return all(checks)

    def _matching(self, criteria: TaskFilter) -> list[Task]:
        return [replace(t) for t in self._store.tasks.values() if self._matches(t, criteria)]

    async def find_page(self, criteria: TaskFilter, page: PageRequest) -> Page[Task]:
        """A keyset page of matching tasks."""
        return keyset_page(self._matching(criteria), page)

    async def count(self, criteria: TaskFilter) -> int:
        """How many tasks match."""
        return len(self._matching(criteria))

    async def pages_by_customer(
        self, customer_ids: Sequence[int], criteria: TaskFilter, page: PageRequest
    ) -> dict[int, Page[Task]]:
        """A page of each customer's matching tasks."""
        return {
            cid: keyset_page([t for t in self._matching(criteria) if t.customer_id == cid], page)
            for cid in customer_ids
        }

    async def counts_by_customer(
        self, customer_ids: Sequence[int], criteria: TaskFilter
    ) -> dict[int, int]:
        """How many matching tasks each customer has."""
        matching = self._matching(criteria)
        return {cid: sum(t.customer_id == cid for t in matching) for cid in customer_ids}

    async def pages_by_product(
        self, product_ids: Sequence[int], page: PageRequest
    ) -> dict[int, Page[Task]]:
        """A page of the tasks that involve each product."""
        links = self._store.task_products
        return {
            pid: keyset_page(
                [replace(t) for t in self._store.tasks.values() if pid in links.get(t.id, [])],
                page,
            )
            for pid in product_ids
        }

    async def counts_by_product(self, product_ids: Sequence[int]) -> dict[int, int]:
        """How many tasks involve each product."""
        links = self._store.task_products.values()
        return {pid: sum(pid in pids for pids in links) for pid in product_ids}

    async def products_by_task(self, task_ids: Sequence[int]) -> dict[int, list[Product]]:
        """Each task's products, ordered by id."""
        products = self._store.products
        return {
            tid: [
                replace(products[pid])
                for pid in sorted(self._store.task_products.get(tid, []))
                if pid in products
            ]
            for tid in task_ids
        }

    def _check_refs(
        self, customer_id: int | None, assignee_id: int | None, product_ids: Iterable[int]
    ) -> None:
        # Stand-in for the foreign keys: a service that skipped its checks must fail loudly.
        if customer_id is not None and customer_id not in self._store.customers:
            raise AssertionError(f"foreign key: no customer {customer_id}")
        if assignee_id is not None and assignee_id not in self._store.users:
            raise AssertionError(f"foreign key: no user {assignee_id}")
        for pid in product_ids:
            if pid not in self._store.products:
                raise AssertionError(f"foreign key: no product {pid}")

    async def add(self, task: NewTask) -> Task:
        """Insert at version 1 with its product links."""
        self._check_refs(task.customer_id, task.assignee_id, task.product_ids)
        now = self._clock()
        created = Task(
            id=self._store.new_id(),
            title=task.title,
            description=task.description,
            status=task.status,
            priority=task.priority,
            due_date=task.due_date,
            customer_id=task.customer_id,
            assignee_id=task.assignee_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        self._store.tasks[created.id] = created
        self._store.task_products[created.id] = list(task.product_ids)
        return replace(created)

    async def update(
        self, task_id: int, values: Mapping[str, object], product_ids: Sequence[int] | None
    ) -> Task:
        """Apply values and replace the links; the version moves when anything changed."""
        stored = self._store.tasks[task_id]
        merged = replace(stored, **values)  # type: ignore[arg-type]
        self._check_refs(merged.customer_id, merged.assignee_id, product_ids or ())
        current = self._store.task_products.get(task_id, [])
        links_changed = product_ids is not None and set(product_ids) != set(current)
        if product_ids is not None:
            self._store.task_products[task_id] = list(product_ids)
        if not values and not links_changed:
            return replace(stored)
        changed = replace(merged, version=stored.version + 1, updated_at=self._clock())
        self._store.tasks[task_id] = changed
        return replace(changed)

    async def delete(self, task_id: int, /) -> None:
        """Remove the task and its links."""
        self._store.tasks.pop(task_id, None)
        self._store.task_products.pop(task_id, None)

    def product_ids_of(self, task_id: int) -> list[int]:
        """Test helper: the ids of the products a stored task involves."""
        return list(self._store.task_products.get(task_id, []))


class FakeUserRepository:
    """Users in a dict; tests seed them with `seed`, as auth would create them."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def seed(self, *, email: str, is_active: bool = True, full_name: str | None = None) -> User:
        """Test helper: store a user directly."""
        now = self._clock()
        user = User(
            id=self._store.new_id(),
            email=email,
            full_name=full_name,
            is_active=is_active,
            is_superuser=False,
            created_at=now,
            updated_at=now,
        )
        self._store.users[user.id] = user
        return replace(user)

    async def get(self, user_id: int, /) -> User | None:
        """A copy of one user, or None."""
        found = self._store.users.get(user_id)
        return None if found is None else replace(found)

    async def get_many(self, user_ids: Sequence[int], /) -> list[User]:
        """Copies of the users that exist among `user_ids`."""
        wanted = set(user_ids)
        return [replace(u) for uid, u in self._store.users.items() if uid in wanted]

    async def find_page(self, page: PageRequest) -> Page[User]:
        """A keyset page of users by id."""
        return keyset_page([replace(u) for u in self._store.users.values()], page)

    async def count(self) -> int:
        """How many users exist."""
        return len(self._store.users)


# ---------------------------------------------------------------- unit of work


class FakeUnitOfWork:
    """A unit of work over a `Store`: snapshot on entry, restore unless committed.

    `commits` and `rollbacks` count what happened, so a test can assert that a
    refused command committed nothing.
    """

    def __init__(
        self, store: Store | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store or Store()
        self.clock = clock or FakeClock()
        self.products = FakeProductRepository(self.store, self.clock)
        self.customers = FakeCustomerRepository(self.store, self.clock)
        self.tasks = FakeTaskRepository(self.store, self.clock)
        self.users = FakeUserRepository(self.store, self.clock)
        self.commits = 0
        self.rollbacks = 0
        self._snapshot: Store | None = None
        self._committed = False

    @property
    def committed(self) -> bool:
        """Whether any transaction of this unit of work was committed."""
        return self.commits > 0

    async def __aenter__(self) -> Self:
        self._snapshot = copy.deepcopy(self.store)
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            await self.rollback()
        self._snapshot = None

    async def commit(self) -> None:
        """Keep the changes made since entry."""
        if self._snapshot is None:
            raise AssertionError("commit() outside `async with uow:`")
        self._snapshot = copy.deepcopy(self.store)
        self._committed = True
        self.commits += 1

    async def rollback(self) -> None:
        """Restore the store as it was at the last entry or commit."""
        self.rollbacks += 1
        if self._snapshot is None:
            return
        # Restore in place: the repositories hold a reference to this very store.
        restored = copy.deepcopy(self._snapshot)
        for name in ("products", "customers", "tasks", "task_products", "users"):
            table = getattr(self.store, name)
            table.clear()
            table.update(getattr(restored, name))
        self.store.next_id = restored.next_id


def _conforms(uow: FakeUnitOfWork) -> UnitOfWork:
    """Never called: mypy proves here that the fakes satisfy the ports."""
    return uow
