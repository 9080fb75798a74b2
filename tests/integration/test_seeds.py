"""The demo seeder fills the database once, grows it without duplicates, and is repeatable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from auth.passwords import PasswordHasher
from auth.rbac import Action, Grant, Module, aggregate
from config.settings import DEV_DEMO_PASSWORD, DEV_SUPERUSER_PASSWORD, Settings, get_settings
from graph.wiring import build_services
from persistence.models import (
    Base,
    CustomerModel,
    ProductModel,
    RoleGrantModel,
    RoleModel,
    TaskModel,
    TaskProductModel,
    UserModel,
    UserRoleModel,
)
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from seeds import (
    AccountSeed,
    AccountsReport,
    SeedRefused,
    SeedReport,
    SeedSizes,
    plan_accounts,
    seed_accounts,
    seed_demo_data,
)
from seeds.__main__ import main
from seeds.migrate import upgrade_to_head

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SMALL = SeedSizes(customers=4, tasks_per_customer=3, products=10, users=2, links_per_task=2)

products: Table = ProductModel.__table__  # type: ignore[assignment]
customers: Table = CustomerModel.__table__  # type: ignore[assignment]
users: Table = UserModel.__table__  # type: ignore[assignment]
tasks: Table = TaskModel.__table__  # type: ignore[assignment]
task_products: Table = TaskProductModel.__table__  # type: ignore[assignment]


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many rows each table holds."""
    async with engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (products, customers, users, tasks, task_products)
        }


def expected_counts(sizes: SeedSizes) -> dict[str, int]:
    """The row counts a seed of `sizes` must produce on an empty database."""
    task_count = sizes.customers * sizes.tasks_per_customer
    return {
        "products": sizes.products,
        "customers": sizes.customers,
        "users": sizes.users,
        "tasks": task_count,
        "task_products": task_count * min(sizes.links_per_task, sizes.products),
    }


async def snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Every demo value by natural key, without surrogate ids (they differ between runs)."""
    async with engine.connect() as conn:
        product_rows = (await conn.execute(select(products).order_by(products.c.sku))).all()
        customer_rows = (await conn.execute(select(customers).order_by(customers.c.email))).all()
        user_rows = (await conn.execute(select(users).order_by(users.c.email))).all()
        task_rows = (
            await conn.execute(
                select(tasks, customers.c.email.label("customer"), users.c.email.label("assignee"))
                .join(customers, tasks.c.customer_id == customers.c.id)
                .outerjoin(users, tasks.c.assignee_id == users.c.id)
                .order_by(tasks.c.title)
            )
        ).all()
        link_rows = (
            await conn.execute(
                select(tasks.c.title, products.c.sku)
                .join(task_products, task_products.c.task_id == tasks.c.id)
                .join(products, task_products.c.product_id == products.c.id)
                .order_by(tasks.c.title, products.c.sku)
            )
        ).all()
    drop = {"id", "customer_id", "assignee_id"}
    return {
        "products": [_without(row, drop) for row in product_rows],
        "customers": [_without(row, drop) for row in customer_rows],
        "users": [_without(row, drop) for row in user_rows],
        "tasks": [_without(row, drop) for row in task_rows],
        "links": [tuple(row) for row in link_rows],
    }


def _without(row: Any, keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in row._mapping.items() if key not in keys}


async def empty_all_tables(engine: AsyncEngine) -> None:
    """Delete every row, children first."""
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


async def test_given_empty_database_when_seeding_then_each_table_holds_the_requested_rows(
    engine: AsyncEngine,
) -> None:
    report = await seed_demo_data(engine, SMALL, now=NOW)

    assert await row_counts(engine) == expected_counts(SMALL)
    assert report == SeedReport(products=10, customers=4, users=2, tasks=12, task_products=24)
    assert report.summary() == (
        "Seeded 10 products, 4 customers, 2 users, 12 tasks and 24 task-product links."
    )


async def planner_statistics(engine: AsyncEngine, table: str) -> int:
    """How many planner statistics the database keeps about `table` (0 before ANALYZE)."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            exists = await conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            )
            if not exists.scalar_one():
                return 0
            query = text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = :table")
        else:
            query = text("SELECT count(*) FROM pg_stats WHERE tablename = :table")
        return int((await conn.execute(query, {"table": table})).scalar_one())


async def test_given_empty_database_when_seeding_then_the_planner_statistics_are_fresh(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL, now=NOW)

    for table in ("customers", "tasks", "task_products", "products"):
        assert await planner_statistics(engine, table) > 0, table


async def test_given_seeded_database_when_seeding_again_then_nothing_is_duplicated(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL, now=NOW)
    before = await snapshot(engine)

    report = await seed_demo_data(engine, SMALL, now=NOW)

    assert report == SeedReport()
    assert await row_counts(engine) == expected_counts(SMALL)
    assert await snapshot(engine) == before


async def test_given_smaller_seed_when_seeding_larger_sizes_then_only_missing_rows_are_added(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL, now=NOW)
    async with engine.connect() as conn:
        first_ids = {tuple(row) for row in await conn.execute(select(tasks.c.id, tasks.c.title))}
    larger = SeedSizes(customers=6, tasks_per_customer=5, products=12, users=3, links_per_task=2)

    report = await seed_demo_data(engine, larger, now=NOW)

    assert report == SeedReport(
        products=2, customers=2, users=1, tasks=6 * 5 - 4 * 3, task_products=(30 - 12) * 2
    )
    assert await row_counts(engine) == expected_counts(larger)
    async with engine.connect() as conn:
        after_ids = {tuple(row) for row in await conn.execute(select(tasks.c.id, tasks.c.title))}
    assert first_ids <= after_ids, "tasks from the first run must keep their ids and titles"


async def test_given_growth_in_steps_when_compared_with_one_run_then_the_data_is_the_same(
    engine: AsyncEngine,
) -> None:
    target = SeedSizes(customers=5, tasks_per_customer=4, products=8, users=3, links_per_task=2)
    await seed_demo_data(engine, target, now=NOW)
    one_run = await snapshot(engine)
    await empty_all_tables(engine)

    # Links and assignees are drawn from the products and users present, so those stay fixed.
    first_step = SeedSizes(customers=2, tasks_per_customer=2, products=8, users=3, links_per_task=2)
    await seed_demo_data(engine, first_step, now=NOW)
    await seed_demo_data(engine, target, now=NOW)

    assert await snapshot(engine) == one_run


async def test_given_fixed_clock_when_seeding_twice_from_empty_then_the_data_is_identical(
    engine: AsyncEngine,
) -> None:
    await seed_demo_data(engine, SMALL, now=NOW)
    first = await snapshot(engine)
    await empty_all_tables(engine)

    await seed_demo_data(engine, SMALL, now=NOW)

    assert await snapshot(engine) == first


@pytest.mark.parametrize(("links_per_task", "expected_links"), [(0, 0), (4, 4), (7, 5)])
async def test_given_links_per_task_when_seeding_then_each_task_has_that_many_products(
    engine: AsyncEngine, links_per_task: int, expected_links: int
) -> None:
    sizes = SeedSizes(
        customers=3, tasks_per_customer=4, products=5, users=1, links_per_task=links_per_task
    )

    await seed_demo_data(engine, sizes, now=NOW)

    async with engine.connect() as conn:
        result = await conn.execute(
            select(tasks.c.id, func.count(task_products.c.product_id))
            .outerjoin(task_products, task_products.c.task_id == tasks.c.id)
            .group_by(tasks.c.id)
        )
        # A Result has .keys(), so dict() would read it as a mapping: materialise the rows.
        per_task: dict[int, int] = dict(result.all())
    assert len(per_task) == 12
    assert set(per_task.values()) == {expected_links}


async def test_given_demo_data_when_inspecting_then_it_looks_realistic(
    engine: AsyncEngine,
) -> None:
    sizes = SeedSizes(customers=20, tasks_per_customer=5, products=30, users=4)

    await seed_demo_data(engine, sizes, now=NOW)

    async with engine.connect() as conn:
        prices = (await conn.execute(select(products.c.price))).scalars().all()
        task_rows = (await conn.execute(select(tasks))).all()
        skus = (await conn.execute(select(products.c.sku).order_by(products.c.sku))).scalars()
        emails = (await conn.execute(select(customers.c.email))).scalars().all()
    assert all(
        isinstance(price, Decimal) and price == price.quantize(Decimal("0.01")) for price in prices
    )
    assert all(Decimal("0") < price < Decimal("10000") for price in prices)
    assert len(set(prices)) > 20
    assert any(row.due_date is None for row in task_rows)
    assert any(row.due_date is not None for row in task_rows)
    assert len({row.status for row in task_rows}) >= 3
    assert len({row.priority for row in task_rows}) >= 3
    assert any(row.assignee_id is not None for row in task_rows)
    assert all(row.version == 1 and row.created_at <= row.updated_at <= NOW for row in task_rows)
    assert list(skus)[:2] == ["SKU-00001", "SKU-00002"]
    assert "customer00020@example.com" in emails


async def test_given_customer_with_a_demo_email_when_seeding_then_it_is_kept_not_duplicated(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(customers),
            [
                {
                    "name": "Real Customer",
                    "email": "customer00001@example.com",
                    "version": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )

    report = await seed_demo_data(engine, SMALL, now=NOW)

    assert report.customers == SMALL.customers - 1
    async with engine.connect() as conn:
        names = (
            (
                await conn.execute(
                    select(customers.c.name).where(customers.c.email == "customer00001@example.com")
                )
            )
            .scalars()
            .all()
        )
    assert names == ["Real Customer"]
    assert await row_counts(engine) == expected_counts(SMALL)


@pytest.mark.parametrize(
    "field", ["customers", "tasks_per_customer", "products", "users", "links_per_task"]
)
def test_given_out_of_range_size_when_building_sizes_then_it_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SeedSizes(**{field: -1})


@pytest.fixture
async def empty_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables: a temporary SQLite file, or a new PostgreSQL database."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'seeds.db'}"
        return
    name = f"seed_{uuid.uuid4().hex[:12]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def test_given_cli_with_migrate_when_run_twice_then_schema_and_data_exist_once(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--migrate", "--database-url", empty_database_url, "--customers", "3",
        "--tasks-per-customer", "2", "--products", "4", "--users", "2", "--links-per-task", "3",
    ]  # fmt: skip

    # In a thread: main() starts its own event loop, and so does Alembic's env.py.
    first_code = await run_cli(args)
    second_code = await run_cli(args)

    assert (first_code, second_code) == (0, 0)
    assert capsys.readouterr().out.splitlines() == [
        "Seeded 4 products, 3 customers, 2 users, 6 tasks and 18 task-product links;"
        " added 1 superuser, 4 roles and 4 demo login users.",
        "Seeded 0 products, 0 customers, 0 users, 0 tasks and 0 task-product links;"
        " added 0 superusers, 0 roles and 0 demo login users.",
    ]
    counts = await counts_at(empty_database_url)
    # Two assignees, the superuser and one demo user per demo role.
    assert counts == {
        "products": 4,
        "customers": 3,
        "users": 2 + 1 + 4,
        "tasks": 6,
        "task_products": 18,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customers", "-1"], "between 0 and 99999"),
        (["--products", "100000"], "between 0 and 99999"),
        (["--links-per-task", "many"], "not a whole number"),
        (["--users", "1000"], "between 0 and 999"),
    ],
)
def test_given_invalid_option_when_parsing_then_cli_exits_with_usage_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------------- accounts

SUPERUSER_EMAIL = "admin@example.com"
SUPERUSER_PASSWORD = "superuser-password-for-seed-tests"
DEMO_PASSWORD = "demo-password-for-seed-tests"
# The default parameters cost about 30 ms a hash: real, and cheap enough for a few users.
HASHER = PasswordHasher()
WRITES = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE})
EXPECTED_ROLES = {
    "admin": {Grant(module, WRITES) for module in Module},
    "manager": {
        Grant(Module.PRODUCTS, WRITES),
        Grant(Module.CUSTOMERS, WRITES),
        Grant(Module.TASKS, WRITES),
        Grant(Module.USERS),
    },
    "viewer": {Grant(Module.PRODUCTS), Grant(Module.CUSTOMERS), Grant(Module.TASKS)},
    "auditor": {Grant(Module.AUDIT)},
}
EXPECTED_DEMO_USERS = {
    "admin.demo@example.com": "admin",
    "manager@example.com": "manager",
    "viewer@example.com": "viewer",
    "auditor@example.com": "auditor",
}
SEED = AccountSeed(SUPERUSER_EMAIL, SUPERUSER_PASSWORD, DEMO_PASSWORD)

roles: Table = RoleModel.__table__  # type: ignore[assignment]
role_grants: Table = RoleGrantModel.__table__  # type: ignore[assignment]
user_roles: Table = UserRoleModel.__table__  # type: ignore[assignment]


def cli_settings(**overrides: Any) -> Settings:
    """Settings for the command, independent of the environment and any `.env` file."""
    values: dict[str, Any] = {
        "environment": "test",
        "seed_superuser_password": SUPERUSER_PASSWORD,
        "seed_demo_password": DEMO_PASSWORD,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def production_settings(**overrides: Any) -> Settings:
    """Production settings with a strong JWT secret, so only the seed passwords are at issue."""
    return cli_settings(environment="production", jwt_secret="j" * 48, **overrides)


async def run_cli(args: list[str], settings: Settings | None = None) -> int:
    """Run `python -m seeds` in a thread: main() and Alembic's env.py start event loops."""
    return await asyncio.to_thread(
        lambda: main(args, settings=settings or cli_settings(), hasher=HASHER)
    )


async def counts_at(url: str) -> dict[str, int]:
    """Row counts of the demo tables of the database at `url`."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        return await row_counts(engine)
    finally:
        await engine.dispose()


async def seed_accounts_once(
    session_factory: async_sessionmaker[AsyncSession], seed: AccountSeed = SEED
) -> AccountsReport:
    """One seeding run in a unit of work of its own, as the command does it."""
    uow = SqlAlchemyUnitOfWork(session_factory)
    try:
        return await seed_accounts(uow, seed, hasher=HASHER)
    finally:
        await uow.close()


async def password_hash_of(engine: AsyncEngine, email: str) -> str | None:
    """The stored hash of the user with `email`."""
    async with engine.connect() as conn:
        stored: str | None = (
            await conn.execute(select(users.c.password_hash).where(users.c.email == email))
        ).scalar_one()
    return stored


async def identity_snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Users, roles, grants and assignments by natural key, hashes included."""
    async with engine.connect() as conn:
        user_rows = (await conn.execute(select(users).order_by(users.c.email))).all()
        role_rows = (await conn.execute(select(roles).order_by(roles.c.name))).all()
        grant_rows = (
            await conn.execute(
                select(roles.c.name, role_grants)
                .join(role_grants, role_grants.c.role_id == roles.c.id)
                .order_by(roles.c.name, role_grants.c.module)
            )
        ).all()
        assignment_rows = (
            await conn.execute(
                select(users.c.email, roles.c.name)
                .join(user_roles, user_roles.c.user_id == users.c.id)
                .join(roles, roles.c.id == user_roles.c.role_id)
                .order_by(users.c.email, roles.c.name)
            )
        ).all()
    drop = {"id", "role_id"}
    return {
        "users": [_without(row, drop) for row in user_rows],
        "roles": [_without(row, drop) for row in role_rows],
        "grants": [_without(row, drop) for row in grant_rows],
        "assignments": [tuple(row) for row in assignment_rows],
    }


async def test_given_empty_database_when_seeding_accounts_then_the_superuser_can_log_in(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    uow: SqlAlchemyUnitOfWork,
    settings: Settings,
) -> None:
    report = await seed_accounts_once(session_factory)

    assert report == AccountsReport(superusers=1, roles=4, demo_users=4)
    assert HASHER.verify(SUPERUSER_PASSWORD, await password_hash_of(engine, SUPERUSER_EMAIL))
    assert not HASHER.verify("not-the-password", await password_hash_of(engine, SUPERUSER_EMAIL))
    auth = build_services(settings).auth
    session = await auth.login(uow, email=SUPERUSER_EMAIL, password=SUPERUSER_PASSWORD, ip=None)
    principal = await auth.authenticate(uow, session.access_token)
    assert (session.user.email, session.user.is_active) == (SUPERUSER_EMAIL, True)
    assert principal.is_superuser
    assert principal.can(Module.AUDIT, Action.DELETE)


async def test_given_empty_database_when_seeding_accounts_then_roles_have_exact_grants(
    session_factory: async_sessionmaker[AsyncSession], uow: SqlAlchemyUnitOfWork
) -> None:
    await seed_accounts_once(session_factory)

    found = {role.name: set(role.grants) for role in await uow.identity.list_roles()}
    assert found == EXPECTED_ROLES


async def test_given_seeded_accounts_when_demo_users_log_in_then_each_holds_its_role_only(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    uow: SqlAlchemyUnitOfWork,
    settings: Settings,
) -> None:
    await seed_accounts_once(session_factory)

    auth = build_services(settings).auth
    async with engine.connect() as conn:
        assignments = (
            await conn.execute(
                select(users.c.email, roles.c.name)
                .join(user_roles, user_roles.c.user_id == users.c.id)
                .join(roles, roles.c.id == user_roles.c.role_id)
            )
        ).all()
    assert dict(assignments) == EXPECTED_DEMO_USERS
    assert len(assignments) == len(EXPECTED_DEMO_USERS), "one role per demo user, no more"
    for email, role_name in EXPECTED_DEMO_USERS.items():
        session = await auth.login(uow, email=email, password=DEMO_PASSWORD, ip=None)
        principal = await auth.authenticate(uow, session.access_token)
        assert not principal.is_superuser, email
        assert principal.permissions == aggregate(EXPECTED_ROLES[role_name]), email


async def test_given_viewer_when_checking_permissions_then_reads_only_the_business_modules(
    session_factory: async_sessionmaker[AsyncSession],
    uow: SqlAlchemyUnitOfWork,
    settings: Settings,
) -> None:
    await seed_accounts_once(session_factory)

    auth = build_services(settings).auth
    session = await auth.login(uow, email="viewer@example.com", password=DEMO_PASSWORD, ip=None)
    viewer = await auth.authenticate(uow, session.access_token)

    assert viewer.can(Module.TASKS)
    assert not viewer.can(Module.TASKS, Action.CREATE)
    assert not viewer.can(Module.USERS)
    assert not viewer.can(Module.AUDIT)


async def test_given_seeded_accounts_when_seeding_again_then_nothing_changes(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await seed_accounts_once(session_factory)
    before = await identity_snapshot(engine)

    report = await seed_accounts_once(session_factory)

    assert report == AccountsReport()
    assert await identity_snapshot(engine) == before, "no new rows, no rehashed passwords"


async def test_given_changed_seed_passwords_when_seeding_again_then_passwords_are_not_reset(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await seed_accounts_once(session_factory)
    other = AccountSeed(SUPERUSER_EMAIL, "another-superuser-password", "another-demo-password")

    await seed_accounts_once(session_factory, other)

    assert HASHER.verify(SUPERUSER_PASSWORD, await password_hash_of(engine, SUPERUSER_EMAIL))
    assert HASHER.verify(DEMO_PASSWORD, await password_hash_of(engine, "viewer@example.com"))


async def test_given_passwordless_user_at_superuser_email_when_seeding_then_it_is_left_alone(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(users).values(
                email=SUPERUSER_EMAIL, is_active=True, is_superuser=False, created_at=NOW,
                updated_at=NOW,
            )
        )  # fmt: skip

    report = await seed_accounts_once(session_factory)

    assert report.superusers == 0
    assert len(report.warnings) == 1
    assert SUPERUSER_EMAIL in report.warnings[0]
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.email == SUPERUSER_EMAIL))).one()
    assert (row.password_hash, row.is_superuser) == (None, False)


async def test_given_role_with_a_demo_name_when_seeding_then_it_is_reused_unchanged(
    session_factory: async_sessionmaker[AsyncSession], uow: SqlAlchemyUnitOfWork
) -> None:
    async with uow:
        existing = await uow.identity.add_role(
            name="Viewer", description="Ours", grants=[Grant(Module.PRODUCTS)]
        )
        await uow.commit()

    report = await seed_accounts_once(session_factory)

    assert report == AccountsReport(superusers=1, roles=3, demo_users=4)
    found = {role.name: role for role in await uow.identity.list_roles()}
    assert set(found) == {"Viewer", "admin", "manager", "auditor"}
    assert found["Viewer"].grants == (Grant(Module.PRODUCTS),)
    viewer = await uow.identity.credentials_by_email("viewer@example.com")
    assert viewer is not None
    held = await uow.identity.roles_of_users([viewer.user_id])
    assert [role.id for role in held[viewer.user_id]] == [existing.id]


async def test_given_no_demo_password_when_seeding_accounts_then_only_the_superuser_is_added(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seed = AccountSeed(SUPERUSER_EMAIL, SUPERUSER_PASSWORD, demo_password=None)

    report = await seed_accounts_once(session_factory, seed)

    assert report == AccountsReport(superusers=1)
    snapshot_now = await identity_snapshot(engine)
    assert [user["email"] for user in snapshot_now["users"]] == [SUPERUSER_EMAIL]
    assert snapshot_now["roles"] == []


def test_given_mixed_case_superuser_email_when_planning_then_it_is_stored_lower_case() -> None:
    plan = plan_accounts(cli_settings(seed_superuser_email="  Root@Example.COM "))

    assert plan.superuser_email == "root@example.com"


@pytest.mark.parametrize(
    ("overrides", "with_demo_users", "message"),
    [
        ({"seed_superuser_email": "not-an-email"}, True, "SEED_SUPERUSER_EMAIL"),
        ({"seed_superuser_password": "short"}, True, "SEED_SUPERUSER_PASSWORD must be 12"),
        ({"seed_demo_password": "x" * 129}, True, "SEED_DEMO_PASSWORD must be 12"),
    ],
)
def test_given_unusable_account_settings_when_planning_then_seeding_is_refused(
    overrides: dict[str, Any], with_demo_users: bool, message: str
) -> None:
    with pytest.raises(SeedRefused, match=message):
        plan_accounts(cli_settings(**overrides), with_demo_users=with_demo_users)


def test_given_development_when_planning_with_default_passwords_then_they_are_accepted() -> None:
    plan = plan_accounts(
        cli_settings(
            seed_superuser_password=DEV_SUPERUSER_PASSWORD, seed_demo_password=DEV_DEMO_PASSWORD
        )
    )

    assert (plan.superuser_password, plan.demo_password) == (
        DEV_SUPERUSER_PASSWORD,
        DEV_DEMO_PASSWORD,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"seed_superuser_password": DEV_SUPERUSER_PASSWORD},
            "SEED_SUPERUSER_PASSWORD is the development default",
        ),
        (
            {"seed_demo_password": DEV_DEMO_PASSWORD},
            "SEED_DEMO_PASSWORD is the development default",
        ),
        ({"seed_superuser_password": "eleven-char"}, "SEED_SUPERUSER_PASSWORD must be 12"),
        ({"seed_demo_password": "eleven-char"}, "SEED_DEMO_PASSWORD must be 12"),
    ],
)
async def test_given_production_and_weak_seed_password_when_seeding_then_nothing_is_written(
    empty_database_url: str,
    overrides: dict[str, Any],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_database_url)

    code = await run_cli(
        ["--database-url", empty_database_url, "--products", "2"], production_settings(**overrides)
    )

    assert code == 1
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Nothing was written" in captured.err
    assert captured.out == ""
    assert set((await counts_at(empty_database_url)).values()) == {0}


async def test_given_production_refusal_with_migrate_when_seeding_then_no_schema_is_created(
    empty_database_url: str,
) -> None:
    settings = production_settings(seed_superuser_password=DEV_SUPERUSER_PASSWORD)

    code = await run_cli(["--migrate", "--database-url", empty_database_url], settings)

    assert code == 1
    engine = create_async_engine(empty_database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert tables == []


async def test_given_production_and_strong_passwords_when_seeding_then_the_superuser_is_made(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade_to_head, empty_database_url)

    code = await run_cli(
        ["--database-url", empty_database_url, "--products", "0", "--customers", "0"],
        production_settings(),
    )

    assert code == 0
    engine = create_async_engine(empty_database_url, poolclass=NullPool)
    try:
        assert HASHER.verify(SUPERUSER_PASSWORD, await password_hash_of(engine, SUPERUSER_EMAIL))
    finally:
        await engine.dispose()


async def test_given_no_demo_users_option_when_seeding_then_only_the_superuser_can_log_in(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Production with the default demo password: accepted, because no demo user is made.
    settings = production_settings(seed_demo_password=DEV_DEMO_PASSWORD)
    args = [
        "--migrate", "--no-demo-users", "--database-url", empty_database_url, "--customers", "1",
        "--tasks-per-customer", "1", "--products", "1", "--users", "1", "--links-per-task", "1",
    ]  # fmt: skip

    code = await run_cli(args, settings)

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "Seeded 1 products, 1 customers, 1 users, 1 tasks and 1 task-product links;"
        " added 1 superuser (demo roles and users skipped)."
    ]
    engine = create_async_engine(empty_database_url, poolclass=NullPool)
    try:
        snapshot_now = await identity_snapshot(engine)
    finally:
        await engine.dispose()
    assert snapshot_now["roles"] == []
    assert snapshot_now["assignments"] == []
    can_log_in = [user["email"] for user in snapshot_now["users"] if user["password_hash"]]
    assert can_log_in == [SUPERUSER_EMAIL]


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """Let `get_settings()` read the environment anew, and forget it afterwards."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("fresh_settings")
def test_given_production_with_weak_jwt_secret_when_seeding_then_it_fails_without_a_trace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "too-short-secret-value")

    code = main(["--products", "0"])

    assert code == 1
    err = capsys.readouterr().err
    assert "JWT_SECRET must be set" in err
    assert "too-short-secret-value" not in err, "the error must not echo a secret"
