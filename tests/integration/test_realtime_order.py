"""The change log as an ordered stream: a reader that only ever asks for "ids after the last
one I saw" never misses a record, even while many transactions commit concurrently; the
hub's fan-out and the subscriber's bounded inbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.audit import ChangeRecord
from domain.errors import SlowConsumer
from domain.products import service
from persistence.models import AuditLogModel
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from realtime.hub import ChangeHub, Subscriber
from realtime.notify import listen_locally

WRITERS = 20
COMMITS_EACH = 5


async def _write(session_factory: async_sessionmaker[AsyncSession], writer: int) -> None:
    for n in range(COMMITS_EACH):
        uow = SqlAlchemyUnitOfWork(session_factory)
        try:
            await service.create_product(
                uow, sku=f"W{writer}-{n}", name="concurrent", price=Decimal("1.00")
            )
        finally:
            await uow.close()


async def test_given_concurrent_writers_when_reading_ids_after_the_last_seen_then_none_is_skipped(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    hub = ChangeHub(engine, catch_up_seconds=60)
    seen: list[int] = []
    writing = asyncio.gather(*(_write(session_factory, w) for w in range(WRITERS)))

    async def read_forever() -> None:
        position = 0
        while True:
            # Asked before reading: an empty read after the writers finished is final, while
            # one that began before the last commit landed must be tried again.
            was_done = writing.done()
            records = await hub.read(position, limit=7)  # small pages: many reads mid-commit
            seen.extend(record.id for record in records)
            if records:
                position = records[-1].id
            elif was_done:
                return
            await asyncio.sleep(0)

    await asyncio.gather(writing, read_forever())
    async with engine.connect() as connection:
        stored = list(
            (
                await connection.execute(select(AuditLogModel.id).order_by(AuditLogModel.id))
            ).scalars()
        )
    assert len(stored) == WRITERS * COMMITS_EACH
    assert seen == stored  # every record, once, in id (= commit) order


async def test_given_a_commit_when_listening_locally_then_the_message_names_the_last_id(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    messages: list[str] = []
    undo = listen_locally(engine.sync_engine, messages.append)
    try:
        await _write(session_factory, 0)
    finally:
        undo()
    async with engine.connect() as connection:
        newest = (await connection.execute(select(func.max(AuditLogModel.id)))).scalar()
    assert messages[-1] == f"c:{newest}"
    assert len(messages) == COMMITS_EACH


def _record(record_id: int, entity: str = "tasks") -> ChangeRecord:
    return ChangeRecord(
        id=record_id,
        occurred_at=datetime.now(UTC),
        action="INSERT",
        entity=entity,
        entity_id="1",
        actor_id=None,
        actor_label=None,
        old_values=None,
        new_values={},
        changed_fields=[],
        request_id=None,
        operation_name=None,
    )


class CountingScope:
    """A scope that counts its holders."""

    def __init__(self) -> None:
        self.holders = 0

    def acquire(self) -> None:
        self.holders += 1

    def release(self) -> None:
        self.holders -= 1


async def test_given_a_full_inbox_when_one_more_batch_arrives_then_slow_consumer_and_freed() -> (
    None
):
    subscriber = Subscriber(frozenset({"tasks"}), capacity=3)
    scope = CountingScope()
    subscriber.offer([_record(1), _record(2)], scope)
    subscriber.offer([_record(3), _record(4)], scope)  # 4 > 3
    assert scope.holders == 0  # the queued batch was dropped and released
    with pytest.raises(SlowConsumer):
        await subscriber.next()


async def test_given_subscribers_of_two_entities_when_a_batch_is_dispatched_then_each_gets_its_own(
    engine: AsyncEngine,
) -> None:
    scopes: list[CountingScope] = []

    def scope_factory() -> Any:
        scopes.append(CountingScope())
        return scopes[-1]

    hub = ChangeHub(engine, catch_up_seconds=60, scope_factory=scope_factory)
    tasks, products, everything = (
        Subscriber(frozenset({"tasks", "task_products"}), 10),
        Subscriber(frozenset({"products"}), 10),
        Subscriber(None, 10),
    )
    for subscriber in (tasks, products, everything):
        hub.subscribe(subscriber)
    hub._dispatch(
        [
            _record(1, "tasks"),
            _record(2, "products"),
            _record(3, "tasks"),
            _record(4, "task_products"),
        ]
    )
    assert [r.id for r in (await tasks.next())[0]] == [1, 3, 4]
    assert [r.id for r in (await products.next())[0]] == [2]
    assert [r.id for r in (await everything.next())[0]] == [1, 2, 3, 4]
    assert hub.position == 4
    assert scopes[0].holders == 3  # one per subscriber, none for the hub any more
