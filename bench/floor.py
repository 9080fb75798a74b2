"""The floor: a bare Starlette app answering the benchmark's operations with hand-written SQL.

It issues the same number of data statements as the product (Q1: 1; Q2 and Q3: 3, the
tasks page per customer through ROW_NUMBER(); M1: one UPDATE ... RETURNING in one
transaction), builds the same JSON with plain dicts and serializes it with orjson. No
GraphQL, no ORM, no auth: what is left is the cost of HTTP, the driver and the database.

Its database access is in bench/floor_drivers.py: the product's own drivers, used raw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import operations as ops
from bench.floor_drivers import FloorDatabase, Row, open_database
from bench.statements import IN_FLIGHT_PATH, STATEMENTS_PATH, StatementCounter

TASKS_PAGE = """
SELECT id, title, status, customer_id FROM (
  SELECT id, title, status, customer_id,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY id) AS rn
  FROM tasks WHERE customer_id IN ({ids})
) AS ranked WHERE rn <= {per} ORDER BY customer_id, rn
"""
PRODUCTS_OF_TASKS = """
SELECT tp.task_id, p.id, p.name, p.price FROM task_products AS tp
JOIN products AS p ON p.id = tp.product_id
WHERE tp.task_id IN ({ids}) ORDER BY tp.task_id, p.id
"""


class Floor:
    """The operations, each as few statements as the product runs, answered with dicts."""

    def __init__(self, db: FloorDatabase, counter: StatementCounter) -> None:
        self.db = db
        self.counter = counter
        # Only parameter markers are formatted into the SQL; every value is a parameter.
        one = db.placeholders(1)
        first, second, third = db.placeholders(3).split(",")
        self.flat_sql = f"SELECT id, sku, name, price FROM products ORDER BY id LIMIT {one}"  # noqa: S608
        self.page_sql = f"SELECT id, name, email FROM customers ORDER BY id LIMIT {one}"  # noqa: S608
        self.customer_sql = f"SELECT id, name, email FROM customers WHERE id = {one}"  # noqa: S608
        self.update_sql = (
            f"UPDATE tasks SET status = {first}, updated_at = {second},"  # noqa: S608
            f" version = version + 1 WHERE id = {third} RETURNING id, status, version"
        )

    async def _read(self, sql: str, params: Sequence[Any]) -> list[Row]:
        self.counter.record("data:read")
        return await self.db.rows(sql, params)

    async def flat(self) -> dict[str, Any]:
        """Q1."""
        rows = await self._read(self.flat_sql, [ops.FLAT_PAGE_SIZE])
        price = self.db.price
        edges = [
            {
                "node": {
                    "id": ops.global_id("Product", pk),
                    "sku": sku,
                    "name": name,
                    "price": price(value),
                }
            }
            for pk, sku, name, value in rows
        ]
        return {"products": {"edges": edges}}

    async def nested(self, page_size: int) -> dict[str, Any]:
        """Q2."""
        customers = await self._read(self.page_sql, [page_size])
        nodes = await self._with_tasks(customers)
        return {"customers": {"edges": [{"node": node} for node in nodes]}}

    async def customer(self, global_id: str) -> dict[str, Any]:
        """Q3."""
        type_name, pk = ops.decode_global_id(global_id)
        found = []
        if type_name == "Customer":
            found = await self._read(self.customer_sql, [pk])
        nodes = await self._with_tasks(found)
        return {"node": nodes[0] if nodes else None}

    async def _with_tasks(self, customers: Sequence[Row]) -> list[dict[str, Any]]:
        if not customers:
            return []
        ids = [row[0] for row in customers]
        tasks = await self._read(
            TASKS_PAGE.format(ids=self.db.placeholders(len(ids)), per=ops.TASKS_PER_CUSTOMER_PAGE),
            ids,
        )
        task_ids = [row[0] for row in tasks]
        products: dict[int, list[dict[str, Any]]] = {pk: [] for pk in task_ids}
        if task_ids:
            price = self.db.price
            for task_id, pk, name, value in await self._read(
                PRODUCTS_OF_TASKS.format(ids=self.db.placeholders(len(task_ids))), task_ids
            ):
                products[task_id].append(
                    {"id": ops.global_id("Product", pk), "name": name, "price": price(value)}
                )
        edges: dict[int, list[dict[str, Any]]] = {pk: [] for pk in ids}
        for pk, title, status, customer_id in tasks:
            edges[customer_id].append(
                {
                    "node": {
                        "id": ops.global_id("Task", pk),
                        "title": title,
                        "status": status,
                        "products": products[pk],
                    }
                }
            )
        return [
            {
                "id": ops.global_id("Customer", pk),
                "name": name,
                "email": email,
                "tasks": {"edges": edges[pk]},
            }
            for pk, name, email in customers
        ]

    async def update_status(self, global_id: str, status: str) -> dict[str, Any]:
        """M1: one UPDATE ... RETURNING in its own transaction."""
        _type_name, pk = ops.decode_global_id(global_id)
        self.counter.record("data:write")
        rows = await self.db.write_returning(self.update_sql, [status, self.db.now(), pk])
        pk, stored, version = rows[0]
        return {
            "updateTask": {
                "task": {"id": ops.global_id("Task", pk), "status": stored, "version": version}
            }
        }


Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _nested(floor: Floor, size: int) -> Handler:
    return lambda _variables: floor.nested(size)


def _handlers(floor: Floor) -> dict[str, Handler]:
    """Each served document, by its exact text, with the coroutine that answers it."""
    handlers: dict[str, Handler] = {
        ops.FLAT_QUERY: lambda _v: floor.flat(),
        ops.CUSTOMER_QUERY: lambda v: floor.customer(v["id"]),
        ops.UPDATE_MUTATION: lambda v: floor.update_status(v["id"], v["status"]),
    }
    for size in ops.PAGE_SIZES:
        handlers[ops.nested_query(size)] = _nested(floor, size)
    return handlers


def create_floor_app(database_url: str) -> Starlette:
    """The floor as an ASGI app on `database_url`."""
    counter = StatementCounter()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        db = await open_database(database_url)
        state["handlers"] = _handlers(Floor(db, counter))
        yield
        await db.close()

    async def graphql(request: Request) -> Response:
        counter.requests += 1
        counter.in_flight += 1
        try:
            payload = orjson.loads(await request.body())
            handler = state["handlers"].get(payload.get("query"))
            if handler is None:
                return JSONResponse({"errors": [{"message": "unknown document"}]}, 400)
            data = await handler(payload.get("variables") or {})
            return Response(orjson.dumps({"data": data}), media_type="application/json")
        finally:
            counter.in_flight -= 1

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def statements(_request: Request) -> Response:
        return JSONResponse(counter.take())

    async def in_flight(_request: Request) -> Response:
        return JSONResponse(counter.peek())

    routes = [
        Route("/graphql", graphql, methods=["POST"]),
        Route("/healthz", healthz),
        Route(STATEMENTS_PATH, statements),
        Route(IN_FLIGHT_PATH, in_flight),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
