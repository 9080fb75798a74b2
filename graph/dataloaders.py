"""Per-request batch loaders. Each returns results in key order, one statement per batch."""

from __future__ import annotations

from asyncio import Future
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from auth.ports import IdentityRepository, Role
from domain.customers.model import Customer
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.products.model import Product
from domain.tasks.model import Task, TaskFilter
from domain.users.model import User
from graph.ports import RequestUnitOfWork

E = TypeVar("E")
K = TypeVar("K", bound=Hashable)
G = TypeVar("G", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

MISSING: Any = object()


class BatchLoader(DataLoader[K, V]):
    """A DataLoader whose cache can be read synchronously.

    A relation field whose rows a list resolver prefetched can then answer without an
    await, which spares graphql-core an awaitable per object.
    """

    def __init__(self) -> None:
        self._futures: dict[Any, Future[V]] = {}
        super().__init__(cache_map=self._futures)

    def peek(self, key: K) -> V:
        """The loaded value of `key`, or MISSING when it is not loaded (yet)."""
        future = self._futures.get(key)
        if future is None or not future.done():
            return MISSING  # type: ignore[no-any-return]
        return future.result()

    def then(self, key: K, to_result: Callable[[V], R]) -> R | Awaitable[R]:
        """`to_result(value)` now if `key` is loaded, else an awaitable of it."""
        value = self.peek(key)
        if value is not MISSING:
            return to_result(value)
        return self.load_then(key, to_result)

    async def load_then(self, key: K, to_result: Callable[[V], R]) -> R:
        """`to_result(value)`, always as an awaitable (graphql-core completes it in a task)."""
        return to_result(await self.load(key))


class _ByIdLoader(BatchLoader[int, E | None], Generic[E]):
    """Entities by primary key; None for keys that do not exist."""

    def __init__(self, fetch: Callable[[Sequence[int]], Awaitable[list[E]]]) -> None:
        super().__init__()
        self._fetch = fetch

    async def batch_load_fn(self, keys: Sequence[int]) -> list[E | None]:
        found = {entity.id: entity for entity in await self._fetch(keys)}  # type: ignore[attr-defined]
        return [found.get(key) for key in keys]


class ProductByIdLoader(_ByIdLoader[Product]):
    """Products by id."""


class CustomerByIdLoader(_ByIdLoader[Customer]):
    """Customers by id."""


class UserByIdLoader(_ByIdLoader[User]):
    """Users by id."""


class TaskByIdLoader(_ByIdLoader[Task]):
    """Tasks by id."""


class _GroupedLoader(BatchLoader[tuple[int, G], V], Generic[G, V]):
    """Keys are (parent id, arguments); one statement per distinct arguments in a batch."""

    def __init__(self, fetch: Callable[[Sequence[int], G], Awaitable[dict[int, V]]]) -> None:
        super().__init__()
        self._fetch = fetch

    async def batch_load_fn(self, keys: Sequence[tuple[int, G]]) -> list[V]:
        parents_by_args: dict[G, list[int]] = defaultdict(list)
        for parent, args in keys:
            parents_by_args[args].append(parent)
        results: dict[tuple[int, G], V] = {}
        for args, parents in parents_by_args.items():
            for parent, value in (await self._fetch(parents, args)).items():
                results[(parent, args)] = value
        return [results[key] for key in keys]


class TasksByCustomerLoader(_GroupedLoader[tuple[TaskFilter, PageRequest], Page[Task]]):
    """A page of each customer's tasks; key: (customer id, (filter, page))."""


class TaskCountByCustomerLoader(_GroupedLoader[TaskFilter, int]):
    """How many matching tasks each customer has; key: (customer id, filter)."""


class TasksByProductLoader(_GroupedLoader[PageRequest, Page[Task]]):
    """A page of the tasks that involve each product; key: (product id, page)."""


class TaskCountByProductLoader(_GroupedLoader[None, int]):
    """How many tasks involve each product; key: (product id, None)."""


class ProductsByTaskLoader(BatchLoader[int, list[Product]]):
    """Each task's products, ordered by id."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__()
        self._uow = uow

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Product]]:
        found = await self._uow.tasks.products_by_task(keys)
        return [found.get(key, []) for key in keys]


class RolesByUserLoader(BatchLoader[int, list[Role]]):
    """Each user's roles, by name."""

    def __init__(self, identity: IdentityRepository) -> None:
        super().__init__()
        self._identity = identity

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Role]]:
        found = await self._identity.roles_of_users(keys)
        return [found.get(key, []) for key in keys]


class Loaders:
    """Every loader of one request; built per request so caches never outlive it."""

    def __init__(self, uow: RequestUnitOfWork) -> None:
        tasks = uow.tasks
        # GraphQL nodes already made for this request's rows, keyed by (id, version).
        self.product_nodes: dict[tuple[int, int], Any] = {}
        self.roles_by_user = RolesByUserLoader(uow.identity)
        self.product_by_id = ProductByIdLoader(uow.products.get_many)
        self.customer_by_id = CustomerByIdLoader(uow.customers.get_many)
        self.user_by_id = UserByIdLoader(uow.users.get_many)
        self.task_by_id = TaskByIdLoader(tasks.get_many)
        self.products_by_task = ProductsByTaskLoader(uow)
        self.tasks_by_customer = TasksByCustomerLoader(
            lambda ids, args: tasks.pages_by_customer(ids, args[0], args[1])
        )
        self.task_count_by_customer = TaskCountByCustomerLoader(tasks.counts_by_customer)
        self.tasks_by_product = TasksByProductLoader(tasks.pages_by_product)
        self.task_count_by_product = TaskCountByProductLoader(
            lambda ids, _args: tasks.counts_by_product(ids)
        )

    def prime(self, loader: DataLoader[int, Any], entities: Sequence[Any]) -> None:
        """Seed a by-id loader with entities already in hand, saving a round trip."""
        for entity in entities:
            loader.prime(entity.id, entity)


# Builds a request's loaders from its unit of work: `Loaders` in the product.
LoaderFactory = Callable[[RequestUnitOfWork], Loaders]
