"""Customer use cases on the in-memory unit of work."""

from __future__ import annotations

import pytest

from domain.customers import service
from domain.customers.model import ORDER_FIELDS, Customer, CustomerFilter, CustomerPatch
from domain.errors import Conflict, InvalidInput, NotFound
from domain.pagination import PageRequest, SortKey
from domain.tasks.service import create_task, delete_task
from tests.fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    """An empty in-memory unit of work."""
    return FakeUnitOfWork()


async def ann(uow: FakeUnitOfWork, email: str = "ann@x.com", **overrides: str | None) -> Customer:
    """Create a customer through the service."""
    values: dict[str, str | None] = {"name": "Ann Lee", **overrides}
    return await service.create_customer(uow, email=email, **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- create


async def test_given_valid_values_when_created_then_normalised_and_committed_at_version_1(
    uow: FakeUnitOfWork,
) -> None:
    customer = await service.create_customer(
        uow, name=" Ann Lee ", email=" Ann@X.com ", phone=" +44 20 7946 0958 ", company=" "
    )

    assert (customer.name, customer.email) == ("Ann Lee", "ann@x.com")
    assert (customer.phone, customer.company, customer.version) == ("+44 20 7946 0958", None, 1)
    assert uow.commits == 1
    assert await uow.customers.get(customer.id) == customer


async def test_given_invalid_values_when_created_then_each_field_is_named_and_nothing_stored(
    uow: FakeUnitOfWork,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.create_customer(uow, name=" ", email="nope", phone="call me")

    assert set(caught.value.fields) == {"name", "email", "phone"}
    assert uow.commits == 0
    assert uow.store.customers == {}


async def test_given_a_taken_email_in_another_case_when_created_then_conflict(
    uow: FakeUnitOfWork,
) -> None:
    await ann(uow, "ann@x.com")

    with pytest.raises(Conflict) as caught:
        await ann(uow, "ANN@X.COM", name="Other Ann")

    assert caught.value.fields == {"email": "is taken"}
    assert len(uow.store.customers) == 1
    assert uow.commits == 1


# ---------------------------------------------------------------- update


async def test_given_changes_when_updated_then_version_and_updated_at_move(
    uow: FakeUnitOfWork,
) -> None:
    created = await ann(uow, company="Acme")

    updated = await service.update_customer(
        uow,
        created.id,
        CustomerPatch(email="Ann.Lee@X.com", company=None, phone="1234"),
        expected_version=1,
    )

    assert (updated.email, updated.company, updated.phone) == ("ann.lee@x.com", None, "1234")
    assert (updated.name, updated.version) == ("Ann Lee", 2)
    assert updated.updated_at > created.updated_at
    assert await uow.customers.get(created.id) == updated


async def test_given_the_same_values_when_updated_then_version_is_kept_and_nothing_commits(
    uow: FakeUnitOfWork,
) -> None:
    created = await ann(uow)

    same = await service.update_customer(
        uow, created.id, CustomerPatch(name="Ann Lee ", email="ANN@x.com")
    )

    assert same == created
    assert uow.commits == 1


async def test_given_a_stale_expected_version_when_updated_then_conflict_and_nothing_changes(
    uow: FakeUnitOfWork,
) -> None:
    created = await ann(uow)
    await service.update_customer(uow, created.id, CustomerPatch(name="Second"))

    with pytest.raises(Conflict) as caught:
        await service.update_customer(
            uow, created.id, CustomerPatch(name="Third"), expected_version=1
        )

    assert caught.value.details == {"currentVersion": 2}
    stored = await uow.customers.get(created.id)
    assert stored is not None
    assert (stored.name, stored.version) == ("Second", 2)


async def test_given_a_stale_version_and_no_change_when_updated_then_still_a_conflict(
    uow: FakeUnitOfWork,
) -> None:
    created = await ann(uow)

    with pytest.raises(Conflict):
        await service.update_customer(uow, created.id, CustomerPatch(), expected_version=7)


async def test_given_another_customers_email_when_updated_then_conflict_and_nothing_changes(
    uow: FakeUnitOfWork,
) -> None:
    await ann(uow, "ann@x.com")
    bob = await ann(uow, "bob@x.com", name="Bob")

    with pytest.raises(Conflict) as caught:
        await service.update_customer(uow, bob.id, CustomerPatch(email="Ann@X.com", name="B"))

    assert caught.value.fields == {"email": "is taken"}
    assert await uow.customers.get(bob.id) == bob


async def test_given_a_missing_customer_when_updated_then_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await service.update_customer(uow, 404, CustomerPatch(name="x"))


async def test_given_explicit_null_for_the_email_when_updated_then_refused(
    uow: FakeUnitOfWork,
) -> None:
    created = await ann(uow)

    with pytest.raises(InvalidInput) as caught:
        await service.update_customer(uow, created.id, CustomerPatch(email=None))

    assert caught.value.fields == {"email": "must not be null"}
    assert await uow.customers.get(created.id) == created


# ---------------------------------------------------------------- delete


async def test_given_a_customer_without_tasks_when_deleted_then_it_is_gone(
    uow: FakeUnitOfWork,
) -> None:
    created = await ann(uow)

    assert await service.delete_customer(uow, created.id) == created.id

    assert await uow.customers.get(created.id) is None


async def test_given_a_missing_customer_when_deleted_then_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await service.delete_customer(uow, 404)

    assert uow.commits == 0


async def test_given_a_customer_with_tasks_when_deleted_then_conflict_until_they_are_gone(
    uow: FakeUnitOfWork,
) -> None:
    customer = await ann(uow)
    tasks = [await create_task(uow, title=t, customer_id=customer.id) for t in ("A", "B", "C")]
    commits = uow.commits

    with pytest.raises(Conflict) as caught:
        await service.delete_customer(uow, customer.id)

    assert caught.value.details == {"references": 3}
    assert "3 task(s)" in caught.value.message
    assert await uow.customers.get(customer.id) == customer
    assert uow.commits == commits

    for task in tasks:
        await delete_task(uow, task.id)
    assert await service.delete_customer(uow, customer.id) == customer.id
    assert await uow.customers.get(customer.id) is None


# ---------------------------------------------------------------- list


async def test_given_customers_when_listed_with_a_filter_then_criteria_are_normalised(
    uow: FakeUnitOfWork,
) -> None:
    ann_ = await ann(uow, "ann@x.com", company="Acme")
    await ann(uow, "bob@x.com", name="Bob", company="Other")
    page = PageRequest.build(order=(SortKey("email"),), fields=ORDER_FIELDS)

    by_email = await service.list_customers(uow, CustomerFilter(email=" ANN@X.COM "), page)
    by_company = await service.list_customers(uow, CustomerFilter(company="acme"), page)

    assert [c.id for c in by_email.items] == [ann_.id]
    assert [c.id for c in by_company.items] == [ann_.id]
    assert await service.count_customers(uow, CustomerFilter(search=" X.COM ")) == 2


async def test_given_an_overlong_search_when_counted_then_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.count_customers(uow, CustomerFilter(search="x" * 201))

    assert set(caught.value.fields) == {"search"}
