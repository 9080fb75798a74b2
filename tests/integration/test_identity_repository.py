"""The identity repository against a real database (SQLite, or PostgreSQL when set):
principals, token bookkeeping, pruning and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.rbac import Action, Grant, Module, aggregate
from persistence.models import RefreshTokenModel, RevokedTokenModel, UserModel
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import StatementCounter

users_t: Table = UserModel.__table__  # type: ignore[assignment]
refresh_t: Table = RefreshTokenModel.__table__  # type: ignore[assignment]
revoked_t: Table = RevokedTokenModel.__table__  # type: ignore[assignment]

NOW = datetime.now(UTC).replace(microsecond=0)
LATER = NOW + timedelta(days=1)
EARLIER = NOW - timedelta(days=1)

SELL = Grant(Module.PRODUCTS, frozenset({Action.CREATE}))
PRICE = Grant(Module.PRODUCTS, frozenset({Action.UPDATE}))
PLAN = Grant(Module.TASKS)


async def add_user(uow: SqlAlchemyUnitOfWork, email: str) -> int:
    """A committed user; returns the id."""
    async with uow:
        user = await uow.identity.add_user(
            email=email, password_hash="not-a-real-hash", full_name=None, is_superuser=False
        )
        await uow.commit()
    return user.id


async def add_token(
    uow: SqlAlchemyUnitOfWork,
    user_id: int,
    token_hash: str,
    *,
    family_id: str = "family-a",
    expires_at: datetime = LATER,
) -> None:
    """A committed refresh token row."""
    async with uow:
        await uow.identity.add_refresh_token(
            user_id=user_id,
            family_id=family_id,
            token_hash=token_hash,
            issued_at=NOW - timedelta(days=2),
            expires_at=expires_at,
        )
        await uow.commit()


async def add_role(uow: SqlAlchemyUnitOfWork, name: str, *grants: Grant) -> int:
    """A committed role; returns the id."""
    async with uow:
        role = await uow.identity.add_role(name=name, description=None, grants=grants)
        await uow.commit()
    return role.id


async def assign(uow: SqlAlchemyUnitOfWork, user_id: int, *role_ids: int) -> None:
    """Commit role assignments."""
    async with uow:
        for role_id in role_ids:
            assert await uow.identity.assign(user_id, role_id)
        await uow.commit()


async def column(engine: AsyncEngine, table: Table, name: str) -> list[object]:
    """One column of every row, sorted."""
    async with engine.connect() as conn:
        values = (await conn.execute(select(table.c[name]))).scalars().all()
    return sorted(values, key=str)


# ---------------------------------------------------------------- principals


async def test_given_a_user_with_two_roles_when_the_principal_loads_then_one_statement_does_it(
    uow: SqlAlchemyUnitOfWork, statements: StatementCounter
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    await assign(
        uow,
        user_id,
        await add_role(uow, "Sales", SELL, PLAN),
        await add_role(uow, "Pricing", PRICE),
    )
    # The session already holds its connection, so only the load itself is counted.
    await uow.identity.email_taken("warm-up@test.example")

    statements.counting = True
    record = await uow.identity.load_principal(user_id, "some-jti")
    statements.counting = False

    assert statements.count == 1
    assert record is not None
    assert sorted(record.grants, key=str) == sorted([SELL, PLAN, PRICE], key=str)
    assert aggregate(record.grants) == {
        (Module.PRODUCTS, Action.READ),
        (Module.PRODUCTS, Action.CREATE),
        (Module.PRODUCTS, Action.UPDATE),
        (Module.TASKS, Action.READ),
    }
    assert (record.email, record.is_active, record.is_superuser) == (
        "alice@test.example",
        True,
        False,
    )
    assert record.is_token_revoked is False
    assert record.tokens_valid_after is None


async def test_given_a_user_without_roles_when_the_principal_loads_then_it_has_no_grants(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")

    record = await uow.identity.load_principal(user_id, "some-jti")

    assert record is not None
    assert record.grants == ()


async def test_given_an_unknown_user_when_the_principal_loads_then_none(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    assert await uow.identity.load_principal(424242, "some-jti") is None


async def test_given_a_revoked_jti_when_the_principal_loads_then_only_that_token_is_flagged(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    async with uow:
        await uow.identity.revoke_access_token("revoked-jti", LATER)
        # Revoking twice (a double logout) is harmless.
        await uow.identity.revoke_access_token("revoked-jti", LATER)
        await uow.commit()

    revoked = await uow.identity.load_principal(user_id, "revoked-jti")
    other = await uow.identity.load_principal(user_id, "other-jti")

    assert revoked is not None
    assert revoked.is_token_revoked is True
    assert other is not None
    assert other.is_token_revoked is False


# ---------------------------------------------------------------- refresh tokens


async def test_given_a_live_refresh_token_when_spent_twice_then_only_the_first_succeeds(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    await add_token(uow, user_id, "hash-1")

    async with uow:
        first = await uow.identity.spend_refresh_token("hash-1", NOW)
        second = await uow.identity.spend_refresh_token("hash-1", NOW)
        await uow.commit()

    assert first is not None
    assert (first.user_id, first.family_id, first.used_at) == (user_id, "family-a", NOW)
    assert second is None
    found = await uow.identity.find_refresh_token("hash-1")
    assert found is not None
    assert found.used_at == NOW


async def test_given_an_expired_refresh_token_when_spent_then_none(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    await add_token(uow, user_id, "hash-1", expires_at=NOW)

    async with uow:
        assert await uow.identity.spend_refresh_token("hash-1", NOW) is None


async def test_given_an_unknown_refresh_token_when_spent_or_found_then_none(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    async with uow:
        assert await uow.identity.spend_refresh_token("no-such-hash", NOW) is None
    assert await uow.identity.find_refresh_token("no-such-hash") is None


async def test_given_a_revoked_family_when_its_tokens_are_spent_then_none_and_others_live(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    await add_token(uow, user_id, "hash-a1", family_id="family-a")
    await add_token(uow, user_id, "hash-a2", family_id="family-a")
    await add_token(uow, user_id, "hash-b1", family_id="family-b")

    async with uow:
        revoked = await uow.identity.revoke_family("family-a", NOW)
        await uow.commit()

    assert revoked == 2
    async with uow:
        assert await uow.identity.spend_refresh_token("hash-a1", NOW) is None
        assert await uow.identity.spend_refresh_token("hash-a2", NOW) is None
        assert await uow.identity.spend_refresh_token("hash-b1", NOW) is not None
    found = await uow.identity.find_refresh_token("hash-a1")
    assert found is not None
    assert found.revoked_at == NOW


async def test_given_users_when_their_tokens_are_invalidated_then_only_theirs_are(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    alice = await add_user(uow, "alice@test.example")
    bob = await add_user(uow, "bob@test.example")
    await add_token(uow, alice, "hash-alice", family_id="family-a")
    await add_token(uow, bob, "hash-bob", family_id="family-b")

    async with uow:
        await uow.identity.invalidate_tokens([alice], NOW)
        await uow.commit()

    alice_record = await uow.identity.load_principal(alice, "jti")
    bob_record = await uow.identity.load_principal(bob, "jti")
    assert alice_record is not None
    assert alice_record.tokens_valid_after == NOW
    assert bob_record is not None
    assert bob_record.tokens_valid_after is None
    async with engine.connect() as conn:
        rows = dict(
            (await conn.execute(select(refresh_t.c.token_hash, refresh_t.c.revoked_at))).all()
        )
    assert rows["hash-bob"] is None
    assert rows["hash-alice"] is not None


async def test_given_no_users_when_tokens_are_invalidated_then_nothing_happens(
    uow: SqlAlchemyUnitOfWork, statements: StatementCounter
) -> None:
    statements.counting = True
    async with uow:
        await uow.identity.invalidate_tokens([], NOW)
        await uow.commit()
    statements.counting = False

    assert statements.count == 0


async def test_given_expired_and_live_rows_when_pruned_then_only_expired_ones_go(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    await add_token(uow, user_id, "hash-expired", expires_at=EARLIER)
    await add_token(uow, user_id, "hash-live", expires_at=LATER)
    async with uow:
        await uow.identity.revoke_access_token("jti-expired", EARLIER)
        await uow.identity.revoke_access_token("jti-live", LATER)
        await uow.commit()

    async with uow:
        removed = await uow.identity.prune_expired(NOW)
        await uow.commit()

    assert removed == 2
    assert await column(engine, refresh_t, "token_hash") == ["hash-live"]
    assert await column(engine, revoked_t, "jti") == ["jti-live"]


# ---------------------------------------------------------------- roles


async def test_given_roles_when_listed_then_they_come_by_name_with_their_grants(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    sales = await add_role(uow, "Sales", SELL, PLAN)
    empty = await add_role(uow, "Auditors")

    roles = await uow.identity.list_roles()

    assert [(r.id, r.name, r.grants) for r in roles] == [
        (empty, "Auditors", ()),
        (sales, "Sales", (SELL, PLAN)),
    ]


async def test_given_a_role_name_when_checked_in_other_case_then_it_is_taken(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    sales = await add_role(uow, "Sales")

    assert await uow.identity.role_name_taken("SALES") is True
    assert await uow.identity.role_name_taken("sales", exclude_id=sales) is False
    assert await uow.identity.role_name_taken("Support") is False


async def test_given_a_role_when_updated_with_grants_then_they_replace_the_old_set(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    role_id = await add_role(uow, "Sales", SELL, PLAN)

    async with uow:
        updated = await uow.identity.update_role(
            role_id, {"name": "Pricing", "description": "Sets prices"}, [PRICE]
        )
        await uow.commit()

    assert (updated.name, updated.description, updated.grants) == (
        "Pricing",
        "Sets prices",
        (PRICE,),
    )
    assert await uow.identity.roles_by_id([role_id]) == [updated]


async def test_given_a_role_when_updated_without_grants_then_the_grants_stay(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    role_id = await add_role(uow, "Sales", SELL, PLAN)

    async with uow:
        updated = await uow.identity.update_role(role_id, {"name": "Sellers"}, None)
        await uow.commit()

    assert (updated.name, updated.grants) == ("Sellers", (SELL, PLAN))


async def test_given_an_assigned_role_when_deleted_then_it_and_its_assignments_go(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    doomed = await add_role(uow, "Sales", SELL)
    kept = await add_role(uow, "Support", PLAN)
    await assign(uow, user_id, doomed, kept)

    async with uow:
        await uow.identity.delete_role(doomed)
        await uow.commit()

    assert await uow.identity.roles_by_id([doomed, kept]) == [
        role for role in await uow.identity.list_roles() if role.id == kept
    ]
    assert await uow.identity.holders_of(doomed) == []
    roles = await uow.identity.roles_of_users([user_id])
    assert [role.name for role in roles[user_id]] == ["Support"]


# Assignments must go through the ORM before the role: were the role deleted first, the
# ON DELETE CASCADE would remove them and the ORM's own DELETE would match no row.
@pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")
async def test_given_an_assigned_role_when_deleted_then_each_orm_delete_finds_its_row(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    role_id = await add_role(uow, "Sales", SELL)
    await assign(uow, user_id, role_id)

    async with uow:
        await uow.identity.delete_role(role_id)
        await uow.commit()

    assert await uow.identity.holders_of(role_id) == []


async def test_given_a_role_when_assigned_twice_and_unassigned_twice_then_changes_are_told(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    user_id = await add_user(uow, "alice@test.example")
    role_id = await add_role(uow, "Sales", SELL)

    async with uow:
        first_assign = await uow.identity.assign(user_id, role_id)
        second_assign = await uow.identity.assign(user_id, role_id)
        await uow.commit()
    holders = await uow.identity.holders_of(role_id)
    async with uow:
        first_unassign = await uow.identity.unassign(user_id, role_id)
        second_unassign = await uow.identity.unassign(user_id, role_id)
        await uow.commit()

    assert (first_assign, second_assign) == (True, False)
    assert holders == [user_id]
    assert (first_unassign, second_unassign) == (True, False)
    assert await uow.identity.holders_of(role_id) == []


async def test_given_a_superuser_holding_a_role_when_holders_are_read_then_they_are_left_out(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    alice = await add_user(uow, "alice@test.example")
    root = await add_user(uow, "root@test.example")
    async with uow:
        await uow.identity.update_user(root, {"is_superuser": True})
        await uow.commit()
    role_id = await add_role(uow, "Sales", SELL)
    await assign(uow, alice, role_id)
    await assign(uow, root, role_id)

    assert await uow.identity.holders_of(role_id) == [alice]


async def test_given_users_with_and_without_roles_when_read_together_then_one_statement(
    uow: SqlAlchemyUnitOfWork, statements: StatementCounter
) -> None:
    alice = await add_user(uow, "alice@test.example")
    bob = await add_user(uow, "bob@test.example")
    sales = await add_role(uow, "Sales", SELL, PLAN)
    auditors = await add_role(uow, "Auditors")
    await assign(uow, alice, sales, auditors)
    await uow.identity.email_taken("warm-up@test.example")

    statements.counting = True
    roles = await uow.identity.roles_of_users([alice, bob])
    statements.counting = False

    assert statements.count == 1
    assert set(roles) == {alice, bob}
    assert [(r.name, r.grants) for r in roles[alice]] == [
        ("Auditors", ()),
        ("Sales", (SELL, PLAN)),
    ]
    assert roles[bob] == []


async def test_given_an_email_when_credentials_are_read_then_they_match_exactly(
    uow: SqlAlchemyUnitOfWork, engine: AsyncEngine
) -> None:
    user_id = await add_user(uow, "alice@test.example")

    found = await uow.identity.credentials_by_email("alice@test.example")
    missing = await uow.identity.credentials_by_email("nobody@test.example")

    assert found is not None
    assert (found.user_id, found.password_hash, found.is_active) == (
        user_id,
        "not-a-real-hash",
        True,
    )
    assert missing is None
    async with uow:
        await uow.identity.set_password_hash(user_id, "another-hash")
        await uow.commit()
    async with engine.connect() as conn:
        stored = (await conn.execute(select(users_t.c.password_hash))).scalar_one()
    assert stored == "another-hash"


async def test_given_active_superusers_when_counted_excluding_one_then_the_rest_count(
    uow: SqlAlchemyUnitOfWork,
) -> None:
    first = await add_user(uow, "root1@test.example")
    second = await add_user(uow, "root2@test.example")
    async with uow:
        await uow.identity.update_user(first, {"is_superuser": True})
        await uow.identity.update_user(second, {"is_superuser": True, "is_active": False})
        await uow.commit()

    assert await uow.identity.count_active_superusers(excluding=second) == 1
    assert await uow.identity.count_active_superusers(excluding=first) == 0
