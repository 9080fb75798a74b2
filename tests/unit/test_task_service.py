"""Task use cases on the in-memory unit of work: references, versions and product sets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.customers.service import create_customer
from domain.errors import Conflict, InvalidInput, NotFound
from domain.pagination import PageRequest, SortKey
from domain.products.service import create_product
from domain.tasks import service
from domain.tasks.model import ORDER_FIELDS, TaskFilter, TaskPatch, TaskPriority, TaskStatus
from tests.fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    """An empty in-memory unit of work."""
    return FakeUnitOfWork()


async def product_id(uow: FakeUnitOfWork, sku: str) -> int:
    """Create a product and return its id."""
    return (await create_product(uow, sku=sku, name=sku, price=Decimal(1))).id


async def customer_id(uow: FakeUnitOfWork, email: str = "ann@x.com") -> int:
    """Create a customer and return its id."""
    return (await create_customer(uow, name="Ann", email=email)).id


# ---------------------------------------------------------------- create


async def test_given_valid_references_when_created_then_task_and_links_are_committed(
    uow: FakeUnitOfWork,
) -> None:
    cid = await customer_id(uow)
    user = uow.users.seed(email="dev@x.com")
    p1, p2 = await product_id(uow, "P-1"), await product_id(uow, "P-2")
    commits = uow.commits

    task = await service.create_task(
        uow,
        title=" Install ",
        description="",
        status=TaskStatus.IN_PROGRESS,
        priority=TaskPriority.HIGH,
        due_date=date(2030, 1, 31),
        customer_id=cid,
        assignee_id=user.id,
        product_ids=[p2, p1, p2],
    )

    assert (task.title, task.description, task.version) == ("Install", None, 1)
    assert (task.status, task.priority) == (TaskStatus.IN_PROGRESS, TaskPriority.HIGH)
    assert (task.customer_id, task.assignee_id) == (cid, user.id)
    assert uow.tasks.product_ids_of(task.id) == [p2, p1]
    assert uow.commits == commits + 1
    assert await uow.tasks.get(task.id) == task


async def test_given_defaults_when_created_then_todo_medium_and_unreferenced(
    uow: FakeUnitOfWork,
) -> None:
    task = await service.create_task(uow, title="Call back")

    assert (task.status, task.priority, task.due_date) == (
        TaskStatus.TODO,
        TaskPriority.MEDIUM,
        None,
    )
    assert (task.customer_id, task.assignee_id) == (None, None)
    assert uow.tasks.product_ids_of(task.id) == []


async def test_given_unknown_references_when_created_then_each_field_is_named_and_nothing_stored(
    uow: FakeUnitOfWork,
) -> None:
    known = await product_id(uow, "P-1")
    commits = uow.commits

    with pytest.raises(InvalidInput) as caught:
        await service.create_task(
            uow, title="T", customer_id=404, assignee_id=405, product_ids=[known, 406, 407]
        )

    assert caught.value.fields == {
        "customer_id": "refers to no customer",
        "assignee_id": "refers to no user",
        "product_ids": "refers to 2 unknown product(s)",
    }
    assert uow.store.tasks == {}
    assert uow.commits == commits


async def test_given_an_inactive_assignee_when_created_then_assignee_is_refused(
    uow: FakeUnitOfWork,
) -> None:
    user = uow.users.seed(email="gone@x.com", is_active=False)

    with pytest.raises(InvalidInput) as caught:
        await service.create_task(uow, title="T", assignee_id=user.id)

    assert caught.value.fields == {"assignee_id": "refers to an inactive user"}
    assert uow.store.tasks == {}


async def test_given_invalid_fields_when_created_then_refused_before_references_are_read(
    uow: FakeUnitOfWork,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.create_task(
            uow, title=" ", due_date=date(1800, 1, 1), product_ids=list(range(1, 102))
        )

    assert set(caught.value.fields) == {"title", "due_date", "product_ids"}
    assert uow.commits == 0


# ---------------------------------------------------------------- update


async def test_given_changes_when_updated_then_version_moves_and_products_are_replaced(
    uow: FakeUnitOfWork,
) -> None:
    p1, p2 = await product_id(uow, "P-1"), await product_id(uow, "P-2")
    created = await service.create_task(uow, title="T", product_ids=[p1])

    updated = await service.update_task(
        uow,
        created.id,
        TaskPatch(status=TaskStatus.DONE, due_date=date(2030, 5, 1), product_ids=[p2]),
        expected_version=1,
    )

    assert (updated.status, updated.due_date, updated.version) == (
        TaskStatus.DONE,
        date(2030, 5, 1),
        2,
    )
    assert updated.updated_at > created.updated_at
    assert uow.tasks.product_ids_of(created.id) == [p2]


async def test_given_only_a_new_product_set_when_updated_then_version_moves(
    uow: FakeUnitOfWork,
) -> None:
    p1 = await product_id(uow, "P-1")
    created = await service.create_task(uow, title="T")

    updated = await service.update_task(uow, created.id, TaskPatch(product_ids=[p1]))

    assert updated.version == 2
    assert uow.tasks.product_ids_of(created.id) == [p1]


async def test_given_the_same_values_when_updated_then_version_is_kept(
    uow: FakeUnitOfWork,
) -> None:
    created = await service.create_task(uow, title="T", priority=TaskPriority.LOW)
    commits = uow.commits

    same = await service.update_task(
        uow, created.id, TaskPatch(title=" T ", priority=TaskPriority.LOW)
    )

    assert same == created
    assert uow.commits == commits


async def test_given_a_stale_expected_version_when_updated_then_conflict_and_nothing_changes(
    uow: FakeUnitOfWork,
) -> None:
    p1 = await product_id(uow, "P-1")
    created = await service.create_task(uow, title="T")
    await service.update_task(uow, created.id, TaskPatch(title="Second"))

    with pytest.raises(Conflict) as caught:
        await service.update_task(
            uow, created.id, TaskPatch(title="Third", product_ids=[p1]), expected_version=1
        )

    assert caught.value.details == {"currentVersion": 2}
    stored = await uow.tasks.get(created.id)
    assert stored is not None
    assert (stored.title, stored.version) == ("Second", 2)
    assert uow.tasks.product_ids_of(created.id) == []


async def test_given_unknown_references_when_updated_then_refused_and_nothing_changes(
    uow: FakeUnitOfWork,
) -> None:
    created = await service.create_task(uow, title="T")

    with pytest.raises(InvalidInput) as caught:
        await service.update_task(
            uow, created.id, TaskPatch(title="New", customer_id=404, product_ids=[405])
        )

    assert caught.value.fields == {
        "customer_id": "refers to no customer",
        "product_ids": "refers to 1 unknown product(s)",
    }
    assert await uow.tasks.get(created.id) == created


async def test_given_an_inactive_assignee_when_updated_then_refused(uow: FakeUnitOfWork) -> None:
    user = uow.users.seed(email="gone@x.com", is_active=False)
    created = await service.create_task(uow, title="T")

    with pytest.raises(InvalidInput) as caught:
        await service.update_task(uow, created.id, TaskPatch(assignee_id=user.id))

    assert caught.value.fields == {"assignee_id": "refers to an inactive user"}


async def test_given_explicit_null_references_when_updated_then_they_are_cleared(
    uow: FakeUnitOfWork,
) -> None:
    cid = await customer_id(uow)
    user = uow.users.seed(email="dev@x.com")
    created = await service.create_task(uow, title="T", customer_id=cid, assignee_id=user.id)

    updated = await service.update_task(
        uow, created.id, TaskPatch(customer_id=None, assignee_id=None, due_date=None)
    )

    assert (updated.customer_id, updated.assignee_id, updated.version) == (None, None, 2)


@pytest.mark.parametrize("field", ["title", "status", "priority", "product_ids"])
async def test_given_explicit_null_for_a_required_field_when_updated_then_refused(
    uow: FakeUnitOfWork, field: str
) -> None:
    created = await service.create_task(uow, title="T")

    with pytest.raises(InvalidInput) as caught:
        await service.update_task(uow, created.id, TaskPatch(**{field: None}))

    assert caught.value.fields == {field: "must not be null"}


async def test_given_a_missing_task_when_updated_then_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await service.update_task(uow, 404, TaskPatch(title="x"))


# ---------------------------------------------------------------- delete


async def test_given_a_task_when_deleted_then_it_and_its_links_are_gone(
    uow: FakeUnitOfWork,
) -> None:
    p1 = await product_id(uow, "P-1")
    created = await service.create_task(uow, title="T", product_ids=[p1])

    assert await service.delete_task(uow, created.id) == created.id

    assert await uow.tasks.get(created.id) is None
    assert await uow.products.count_task_links(p1) == 0


async def test_given_a_missing_task_when_deleted_then_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await service.delete_task(uow, 404)

    assert uow.commits == 0


# ---------------------------------------------------------------- list


async def test_given_tasks_when_listed_by_priority_then_filtered_and_ordered(
    uow: FakeUnitOfWork,
) -> None:
    low = await service.create_task(uow, title="Fix low", priority=TaskPriority.LOW)
    urgent = await service.create_task(uow, title="Fix urgent", priority=TaskPriority.URGENT)
    await service.create_task(uow, title="Other", priority=TaskPriority.HIGH)
    page = PageRequest.build(order=(SortKey("priority", descending=True),), fields=ORDER_FIELDS)

    found = await service.list_tasks(uow, TaskFilter(search=" fix "), page)

    assert [t.id for t in found.items] == [urgent.id, low.id]
    assert await service.count_tasks(uow, TaskFilter(statuses=(TaskStatus.TODO,))) == 3


async def test_given_a_due_window_that_cannot_hold_when_listed_then_refused(
    uow: FakeUnitOfWork,
) -> None:
    criteria = TaskFilter(due_after=date(2030, 2, 1), due_before=date(2030, 1, 1))

    with pytest.raises(InvalidInput) as caught:
        await service.count_tasks(uow, criteria)

    assert caught.value.fields == {"due_after": "must not be after due_before"}
