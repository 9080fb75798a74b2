"""Product use cases on the in-memory unit of work."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import Conflict, InvalidInput, NotFound
from domain.pagination import PageRequest, SortKey
from domain.products import service
from domain.products.model import ORDER_FIELDS, Product, ProductFilter, ProductPatch
from domain.tasks.service import create_task
from tests.fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    """An empty in-memory unit of work."""
    return FakeUnitOfWork()


async def widget(uow: FakeUnitOfWork, sku: str = "AB-1", **overrides: object) -> Product:
    """Create a product, counting on the service to commit."""
    values: dict[str, object] = {"name": "Widget", "price": Decimal("19.9")} | overrides
    return await service.create_product(uow, sku=sku, **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- create


async def test_given_valid_values_when_created_then_normalised_and_committed_at_version_1(
    uow: FakeUnitOfWork,
) -> None:
    product = await service.create_product(
        uow,
        sku=" ab-1 ",
        name=" Widget ",
        description="  ",
        price=Decimal("19.9"),
        stock=3,
        is_active=False,
    )

    assert (product.sku, product.name, product.description) == ("AB-1", "Widget", None)
    assert str(product.price) == "19.90"
    assert (product.stock, product.is_active, product.version) == (3, False, 1)
    assert product.created_at == product.updated_at
    assert uow.commits == 1
    assert await uow.products.get(product.id) == product


async def test_given_invalid_values_when_created_then_refused_before_any_transaction(
    uow: FakeUnitOfWork,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.create_product(uow, sku="x", name="", price=Decimal("-1"))

    assert set(caught.value.fields) == {"sku", "name", "price"}
    assert uow.commits == 0
    assert uow.store.products == {}


async def test_given_a_taken_sku_when_created_then_conflict_and_nothing_is_added(
    uow: FakeUnitOfWork,
) -> None:
    await widget(uow, "AB-1")

    with pytest.raises(Conflict) as caught:
        await widget(uow, "ab-1", name="Other")

    assert caught.value.fields == {"sku": "is taken"}
    assert uow.commits == 1
    assert len(uow.store.products) == 1


# ---------------------------------------------------------------- update


async def test_given_changes_when_updated_then_version_and_updated_at_move(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow)

    updated = await service.update_product(
        uow,
        created.id,
        ProductPatch(name="Gadget", price=Decimal("5"), description="New"),
        expected_version=1,
    )

    assert (updated.name, updated.price, updated.description) == ("Gadget", Decimal("5.00"), "New")
    assert updated.version == 2
    assert updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at
    assert uow.commits == 2
    assert await uow.products.get(created.id) == updated


async def test_given_a_patch_equal_to_the_stored_values_when_updated_then_version_is_kept(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow)

    same = await service.update_product(
        uow, created.id, ProductPatch(sku="ab-1", name=" Widget ", price=Decimal("19.900"))
    )

    assert same == created
    assert uow.commits == 1


async def test_given_an_empty_patch_when_updated_then_nothing_changes(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow)

    assert await service.update_product(uow, created.id, ProductPatch()) == created
    assert uow.commits == 1


async def test_given_a_stale_expected_version_when_updated_then_conflict_and_nothing_changes(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow)
    await service.update_product(uow, created.id, ProductPatch(name="Second"))

    with pytest.raises(Conflict) as caught:
        await service.update_product(
            uow, created.id, ProductPatch(name="Third"), expected_version=1
        )

    assert caught.value.details == {"currentVersion": 2}
    assert caught.value.fields == {"expectedVersion": "is stale; current version is 2"}
    stored = await uow.products.get(created.id)
    assert stored is not None
    assert (stored.name, stored.version) == ("Second", 2)
    assert uow.commits == 2


async def test_given_another_products_sku_when_updated_then_conflict_and_nothing_changes(
    uow: FakeUnitOfWork,
) -> None:
    first = await widget(uow, "AB-1")
    second = await widget(uow, "CD-2")

    with pytest.raises(Conflict):
        await service.update_product(uow, second.id, ProductPatch(sku="ab-1", name="Renamed"))

    assert await uow.products.get(second.id) == second
    assert await uow.products.get(first.id) == first
    assert uow.commits == 2


async def test_given_its_own_sku_in_another_case_when_updated_then_it_is_no_conflict(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow, "AB-1")

    updated = await service.update_product(uow, created.id, ProductPatch(sku="ab-1", stock=9))

    assert (updated.sku, updated.stock, updated.version) == ("AB-1", 9, 2)


async def test_given_a_missing_product_when_updated_then_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await service.update_product(uow, 404, ProductPatch(name="x"))

    assert uow.commits == 0


async def test_given_explicit_null_for_the_name_when_updated_then_refused(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow)

    with pytest.raises(InvalidInput) as caught:
        await service.update_product(uow, created.id, ProductPatch(name=None))

    assert caught.value.fields == {"name": "must not be null"}
    assert await uow.products.get(created.id) == created


async def test_given_explicit_null_for_the_description_when_updated_then_it_is_cleared(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow, description="Old")

    updated = await service.update_product(uow, created.id, ProductPatch(description=None))

    assert (updated.description, updated.version) == (None, 2)


# ---------------------------------------------------------------- delete


async def test_given_an_unused_product_when_deleted_then_it_is_gone(uow: FakeUnitOfWork) -> None:
    created = await widget(uow)

    assert await service.delete_product(uow, created.id) == created.id

    assert await uow.products.get(created.id) is None
    assert uow.commits == 2


async def test_given_a_missing_product_when_deleted_then_not_found(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound):
        await service.delete_product(uow, 404)

    assert uow.commits == 0


async def test_given_a_product_used_by_tasks_when_deleted_then_conflict_with_the_count(
    uow: FakeUnitOfWork,
) -> None:
    product = await widget(uow)
    await create_task(uow, title="One", product_ids=[product.id])
    await create_task(uow, title="Two", product_ids=[product.id])
    commits = uow.commits

    with pytest.raises(Conflict) as caught:
        await service.delete_product(uow, product.id)

    assert caught.value.details == {"references": 2}
    assert "2 task(s)" in caught.value.message
    assert await uow.products.get(product.id) == product
    assert uow.commits == commits


# ---------------------------------------------------------------- list


async def test_given_products_when_listed_with_a_filter_then_only_matches_in_order(
    uow: FakeUnitOfWork,
) -> None:
    cheap = await widget(uow, "AA-1", name="Cheap bolt", price=Decimal("1"))
    await widget(uow, "BB-2", name="Dear bolt", price=Decimal("100"))
    mid = await widget(uow, "CC-3", name="Mid bolt", price=Decimal("10"))
    await widget(uow, "DD-4", name="Nut", price=Decimal("5"))
    page = PageRequest.build(
        order=(SortKey("price", descending=True),), first=10, fields=ORDER_FIELDS
    )

    found = await service.list_products(
        uow, ProductFilter(search="  BOLT ", max_price=Decimal("10")), page
    )

    assert [p.id for p in found.items] == [mid.id, cheap.id]
    assert await service.count_products(uow, ProductFilter(search="bolt")) == 3


async def test_given_min_price_above_max_price_when_listed_or_counted_then_refused(
    uow: FakeUnitOfWork,
) -> None:
    criteria = ProductFilter(min_price=Decimal("10"), max_price=Decimal("1"))

    with pytest.raises(InvalidInput) as listed:
        await service.list_products(uow, criteria, PageRequest.build())
    with pytest.raises(InvalidInput) as counted:
        await service.count_products(uow, criteria)

    assert (
        listed.value.fields == counted.value.fields == {"max_price": "must not be below min_price"}
    )


async def test_given_an_overlong_search_when_listed_then_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.list_products(uow, ProductFilter(search="x" * 201), PageRequest.build())

    assert set(caught.value.fields) == {"search"}


# ---------------------------------------------------------------- the fake keeps the contract


async def test_given_a_write_without_commit_when_the_unit_of_work_exits_then_it_is_discarded(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow)

    async with uow:
        await uow.products.update(created.id, {"name": "Staged"})
        assert (await uow.products.get(created.id)).name == "Staged"  # type: ignore[union-attr]

    assert await uow.products.get(created.id) == created
    assert (uow.commits, uow.rollbacks) == (1, 1)


async def test_given_an_error_after_a_write_when_the_unit_of_work_exits_then_it_rolls_back(
    uow: FakeUnitOfWork,
) -> None:
    created = await widget(uow)

    async def write_then_fail() -> None:
        async with uow:
            await uow.products.update(created.id, {"name": "Staged"})
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await write_then_fail()

    assert await uow.products.get(created.id) == created
    assert uow.commits == 1
