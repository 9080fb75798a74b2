"""The SQLAlchemy repositories against a real database (SQLite, or PostgreSQL when set)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers.model import CustomerFilter
from domain.pagination import Cursor, PageRequest, SortKey
from domain.products.model import Product, ProductFilter
from domain.tasks.model import NewTask, Task, TaskFilter, TaskPriority, TaskStatus
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.builders import (
    add_customers,
    add_products,
    add_tasks,
    add_users,
    day,
    link,
    links_of,
)

BY_NAME = (SortKey("name"),)
BY_DUE = (SortKey("due_date"),)
BY_DUE_DESC = (SortKey("due_date", descending=True),)


def ids(items: list[Product] | list[Task]) -> list[int]:
    """The ids of entities, in order."""
    return [item.id for item in items]


# ---------------------------------------------------------------- products and customers


async def test_given_products_when_a_filtered_page_is_read_then_matches_come_in_order(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    ids_ = await add_products(
        engine,
        {"name": "Blue pen", "price": Decimal("1.50")},
        {"name": "Red pen", "price": Decimal("2.50"), "description": "Writes 50% longer"},
        {"name": "Eraser", "price": Decimal("0.50")},
        {"name": "Blue ink", "price": Decimal("9.00"), "is_active": False},
    )

    page = await uow.products.find_page(
        ProductFilter(search="blue"), PageRequest(limit=5, order=BY_NAME)
    )
    cheap = await uow.products.count(ProductFilter(max_price=Decimal("2.50"), is_active=True))
    percent = await uow.products.count(ProductFilter(search="50%"))

    assert ids(page.items) == [ids_[3], ids_[0]]
    assert (page.has_next_page, page.has_previous_page) == (False, False)
    assert isinstance(page.items[0], Product)
    assert page.items[0].price == Decimal("9.00")
    assert page.items[0].is_active is False
    assert cheap == 3
    assert percent == 1


async def test_given_sorted_products_when_paged_after_and_before_a_cursor_then_bounds_hold(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    # Names repeat, so the id breaks ties: in order, A A B B C C (first inserted first).
    pks = await add_products(engine, *({"name": name} for name in "ABCABC"))
    a1, b1, c1, a2, b2, c2 = pks
    order = [a1, a2, b1, b2, c1, c2]

    after = await uow.products.find_page(
        ProductFilter(), PageRequest(limit=2, order=BY_NAME, after=Cursor(("A",), a2))
    )
    before = await uow.products.find_page(
        ProductFilter(),
        PageRequest(limit=2, backward=True, order=BY_NAME, before=Cursor(("C",), c1)),
    )
    between = await uow.products.find_page(
        ProductFilter(),
        PageRequest(limit=10, order=BY_NAME, after=Cursor(("A",), a1), before=Cursor(("C",), c2)),
    )

    assert ids(after.items) == order[2:4]
    assert (after.has_next_page, after.has_previous_page) == (True, True)
    assert ids(before.items) == order[2:4]
    assert (before.has_next_page, before.has_previous_page) == (True, True)
    assert ids(between.items) == order[1:5]
    assert between.has_next_page is False


async def test_given_customers_when_searched_and_counted_then_name_email_and_company_match(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    await add_customers(
        engine,
        {"name": "Ann", "email": "ann@north.test", "company": "Northwind"},
        {"name": "Bob", "email": "bob@south.test", "company": "Southwind"},
        {"name": "Northrop", "email": "n@x.test"},
    )

    north = await uow.customers.count(CustomerFilter(search="NORTH"))
    company = await uow.customers.count(CustomerFilter(company="northwind"))
    page = await uow.customers.find_page(
        CustomerFilter(search="wind"), PageRequest(limit=1, order=BY_NAME)
    )

    assert north == 2
    assert company == 1
    assert [c.name for c in page.items] == ["Ann"]
    assert page.has_next_page is True


async def test_given_rows_when_fetched_by_ids_then_only_existing_ones_come(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    products = await add_products(engine, {}, {})
    (user,) = await add_users(engine, {"email": "u@example.com"})

    found = await uow.products.get_many([products[1], products[0], 999_999])
    existing = await uow.products.existing_ids([products[0], 999_999])
    users = await uow.users.get_many([user, user])

    assert sorted(ids(found)) == sorted(products)
    assert existing == {products[0]}
    assert [u.email for u in users] == ["u@example.com"]
    assert await uow.products.get_many([]) == []
    assert await uow.products.get(999_999) is None


# ---------------------------------------------------------------- tasks


async def test_given_tasks_with_null_due_dates_when_paged_from_a_null_cursor_then_bounds_hold(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    d1, n1, d2, n2, n3 = await add_tasks(
        engine,
        {"due_date": day(1)},
        {"due_date": None},
        {"due_date": day(2)},
        {"due_date": None},
        {"due_date": None},
    )

    after_null = await uow.tasks.find_page(
        TaskFilter(), PageRequest(limit=5, order=BY_DUE, after=Cursor((None,), n1))
    )
    before_null = await uow.tasks.find_page(
        TaskFilter(),
        PageRequest(limit=5, backward=True, order=BY_DUE, before=Cursor((None,), n2)),
    )
    desc_after_date = await uow.tasks.find_page(
        TaskFilter(), PageRequest(limit=5, order=BY_DUE_DESC, after=Cursor((day(2),), d2))
    )

    assert ids(after_null.items) == [n2, n3]
    assert ids(before_null.items) == [d1, d2, n1]
    # Descending by date still keeps the NULLs last.
    assert ids(desc_after_date.items) == [d1, n3, n2, n1]


async def test_given_tasks_when_filtered_in_the_repository_then_every_criterion_applies(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    (customer,) = await add_customers(engine, {})
    (user,) = await add_users(engine, {})
    (product,) = await add_products(engine, {})
    t1, t2, _ = await add_tasks(
        engine,
        {"status": TaskStatus.DONE, "priority": TaskPriority.HIGH, "customer_id": customer},
        {"status": TaskStatus.TODO, "assignee_id": user, "due_date": day(3)},
        {"title": "Other"},
    )
    await link(engine, [(t2, product)])

    assert await uow.tasks.count(TaskFilter(statuses=(TaskStatus.DONE,))) == 1
    assert await uow.tasks.count(TaskFilter(priorities=(TaskPriority.HIGH,))) == 1
    assert await uow.tasks.count(TaskFilter(customer_id=customer)) == 1
    assert await uow.tasks.count(TaskFilter(assignee_id=user)) == 1
    assert await uow.tasks.count(TaskFilter(product_id=product)) == 1
    assert await uow.tasks.count(TaskFilter(due_after=day(2), due_before=day(4))) == 1
    assert await uow.tasks.count(TaskFilter(search="task")) == 2
    page = await uow.tasks.find_page(TaskFilter(product_id=product), PageRequest(limit=5))
    assert ids(page.items) == [t2]
    assert page.items[0].priority is TaskPriority.MEDIUM
    assert page.items[0].status is TaskStatus.TODO
    assert (
        await uow.tasks.find_page(TaskFilter(customer_id=customer), PageRequest(limit=5))
    ).items[0].id == t1


async def test_given_customers_with_tasks_when_pages_by_customer_then_each_gets_its_own_page(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    busy, quiet, idle = await add_customers(engine, {}, {}, {})
    busy_tasks = await add_tasks(
        engine,
        *({"customer_id": busy, "due_date": None if i % 2 else day(10 - i)} for i in range(5)),
    )
    (quiet_task,) = await add_tasks(engine, {"customer_id": quiet, "status": TaskStatus.DONE})
    await add_tasks(engine, {"customer_id": None})

    pages = await uow.tasks.pages_by_customer(
        [busy, quiet, idle], TaskFilter(), PageRequest(limit=2, order=BY_DUE)
    )
    last = await uow.tasks.pages_by_customer(
        [busy], TaskFilter(), PageRequest(limit=2, backward=True, order=BY_DUE)
    )
    done = await uow.tasks.pages_by_customer(
        [busy, quiet], TaskFilter(statuses=(TaskStatus.DONE,)), PageRequest(limit=2)
    )
    counts = await uow.tasks.counts_by_customer(
        [busy, quiet, idle, 999_999], TaskFilter(statuses=(TaskStatus.TODO,))
    )

    # busy: dated 10-4=6 (#4), 10-2=8 (#2), 10 (#0), then NULLs #1, #3.
    b0, b1, b2, b3, b4 = busy_tasks
    assert set(pages) == {busy, quiet, idle}
    assert ids(pages[busy].items) == [b4, b2]
    assert pages[busy].has_next_page is True
    assert ids(pages[quiet].items) == [quiet_task]
    assert pages[quiet].has_next_page is False
    assert pages[idle].items == []
    assert ids(last[busy].items) == [b1, b3]
    assert last[busy].has_previous_page is True
    assert ids(done[quiet].items) == [quiet_task]
    assert done[busy].items == []
    assert counts == {busy: 5, quiet: 0, idle: 0, 999_999: 0}
    assert b0 not in ids(pages[busy].items)


async def test_given_a_cursor_when_pages_by_customer_then_it_bounds_every_parent(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    (customer,) = await add_customers(engine, {})
    tasks = await add_tasks(engine, *({"customer_id": customer} for _ in range(5)))

    pages = await uow.tasks.pages_by_customer(
        [customer], TaskFilter(), PageRequest(limit=2, after=Cursor((), tasks[1]))
    )

    assert ids(pages[customer].items) == tasks[2:4]
    assert (pages[customer].has_next_page, pages[customer].has_previous_page) == (True, True)


async def test_given_linked_products_when_read_per_product_and_per_task_then_links_are_grouped(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    p1, p2, p3 = await add_products(engine, {}, {}, {})
    t1, t2, t3 = await add_tasks(engine, {}, {}, {})
    await link(engine, [(t1, p2), (t1, p1), (t2, p1), (t3, p1)])

    pages = await uow.tasks.pages_by_product([p1, p2, p3], PageRequest(limit=2))
    counts = await uow.tasks.counts_by_product([p1, p2, p3])
    products = await uow.tasks.products_by_task([t1, t2, t3, 999_999])

    assert ids(pages[p1].items) == [t1, t2]
    assert pages[p1].has_next_page is True
    assert ids(pages[p2].items) == [t1]
    assert pages[p3].items == []
    assert counts == {p1: 3, p2: 1, p3: 0}
    assert {task: ids(found) for task, found in products.items()} == {
        t1: [p1, p2],
        t2: [p1],
        t3: [p1],
        999_999: [],
    }
    assert await uow.products.count_task_links(p1) == 3
    assert await uow.products.count_task_links(p3) == 0


async def test_given_a_task_when_its_product_set_is_replaced_then_only_the_difference_changes(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    p1, p2, p3 = await add_products(engine, {}, {}, {})
    async with uow:
        task = await uow.tasks.add(
            NewTask(
                title="Linked",
                description=None,
                status=TaskStatus.TODO,
                priority=TaskPriority.LOW,
                due_date=None,
                customer_id=None,
                assignee_id=None,
                product_ids=(p1, p2),
            )
        )
        await uow.commit()
    assert await links_of(engine, task.id) == {p1, p2}
    assert task.version == 1

    async with uow:
        updated = await uow.tasks.update(task.id, {}, [p2, p3])
        await uow.commit()
    async with uow:
        unchanged = await uow.tasks.update(task.id, {}, [p3, p2])
        await uow.commit()

    assert await links_of(engine, task.id) == {p2, p3}
    assert updated.version == 2
    assert unchanged.version == 2


async def test_given_a_linked_task_when_deleted_then_its_links_are_gone(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    (product,) = await add_products(engine, {})
    (task,) = await add_tasks(engine, {})
    await link(engine, [(task, product)])

    async with uow:
        await uow.tasks.delete(task)
        await uow.commit()

    assert await links_of(engine, task) == set()
    assert await uow.tasks.get(task) is None
    assert await uow.products.count_task_links(product) == 0


@pytest.mark.parametrize("limit", [0, 1])
async def test_given_a_tiny_limit_when_paged_then_more_rows_are_flagged(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine, limit: int
) -> None:
    await add_products(engine, {}, {})

    page = await uow.products.find_page(ProductFilter(), PageRequest(limit=limit))

    assert len(page.items) == limit
    assert page.has_next_page is True
