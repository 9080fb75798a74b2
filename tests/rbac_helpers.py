"""RBAC test helpers: roles, grants and users put straight into the database, and a
GraphQL client acting as each user.

Everything goes in through Core inserts and tokens are minted by the app's own codec,
so a test that needs a dozen differently privileged callers spends no argon2 time.
Grants are written as clients name them: `{"PRODUCTS": ["CREATE"], "TASKS": []}`
grants READ on both modules and CREATE on products.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import httpx
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.rbac import Action, Module, permission_name
from persistence.models import RoleGrantModel, RoleModel, UserModel, UserRoleModel
from tests.builders import gid
from tests.conftest import GraphQLClient, token_for

roles_t: Table = RoleModel.__table__  # type: ignore[assignment]
grants_t: Table = RoleGrantModel.__table__  # type: ignore[assignment]
user_roles_t: Table = UserRoleModel.__table__  # type: ignore[assignment]
users_t: Table = UserModel.__table__  # type: ignore[assignment]

Grants = Mapping[str, Iterable[str]]
"""Module name -> write action names, as the API spells them."""

MODULES: tuple[str, ...] = tuple(module.value for module in Module)
WRITE_ACTIONS: tuple[str, ...] = ("CREATE", "UPDATE", "DELETE")
EVERYTHING: dict[str, tuple[str, ...]] = dict.fromkeys(MODULES, WRITE_ACTIONS)


def permission(module: str, action: str = "READ") -> str:
    """The name a FORBIDDEN error gives a permission, e.g. `tasks:update`."""
    return permission_name(Module[module], Action[action])


def assert_forbidden(error: dict[str, Any], permission_name_: str | None = None) -> None:
    """`error` is FORBIDDEN, naming `permission_name_` in its message and extensions."""
    assert error["extensions"]["code"] == "FORBIDDEN", error
    if permission_name_ is not None:
        assert permission_name_ in error["message"], error
        assert error["extensions"]["permission"] == permission_name_, error


def normalized(grants: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """API `grants` (a list of {module, actions}) as a comparable mapping."""
    return {grant["module"]: set(grant["actions"]) for grant in grants}


@dataclass(frozen=True)
class Member:
    """A user of the test and a GraphQL client acting as them."""

    id: int
    email: str
    gql: GraphQLClient

    @property
    def gid(self) -> str:
        """The user's global ID."""
        return gid("User", self.id)


@dataclass
class People:
    """Makes roles and users for one test; names and emails never repeat within it."""

    engine: AsyncEngine
    app: Any
    http: httpx.AsyncClient
    password_hash: str
    _serial: count[int] = field(default_factory=lambda: count(1))

    async def role(
        self, grants: Grants | None = None, *, name: str | None = None, description: str = ""
    ) -> int:
        """Insert a role with `grants`; returns its id."""
        n = next(self._serial)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(roles_t)
                .values(
                    name=name or f"role-{n}",
                    description=description or None,
                    created_at=now,
                    updated_at=now,
                )
                .returning(roles_t.c.id)
            )
            role_id = int(result.scalar_one())
            rows = [
                {
                    "role_id": role_id,
                    "module": module,
                    "can_create": "CREATE" in set(actions),
                    "can_update": "UPDATE" in set(actions),
                    "can_delete": "DELETE" in set(actions),
                }
                for module, actions in (grants or {}).items()
            ]
            if rows:
                await conn.execute(insert(grants_t), rows)
        return role_id

    async def assign(self, user_id: int, *role_ids: int) -> None:
        """Give `user_id` the roles, around the app (their tokens stay valid)."""
        if role_ids:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(user_roles_t),
                    [{"user_id": user_id, "role_id": role_id} for role_id in role_ids],
                )

    async def user(
        self,
        *grant_sets: Grants,
        role_ids: Sequence[int] = (),
        is_superuser: bool = False,
        is_active: bool = True,
        email: str | None = None,
    ) -> Member:
        """A user holding one new role per grant set, plus `role_ids`, with a fresh token."""
        n = next(self._serial)
        email = email or f"member{n}@rbac.test"
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(users_t)
                .values(
                    email=email,
                    full_name=f"Member {n}",
                    password_hash=self.password_hash,
                    is_superuser=is_superuser,
                    is_active=is_active,
                    created_at=now,
                    updated_at=now,
                )
                .returning(users_t.c.id)
            )
            user_id = int(result.scalar_one())
        new_roles = [await self.role(grants) for grants in grant_sets]
        await self.assign(user_id, *new_roles, *role_ids)
        return Member(id=user_id, email=email, gql=self.client(user_id))

    def client(self, user_id: int) -> GraphQLClient:
        """A client with a token minted now (after any revocation of the user's tokens)."""
        return GraphQLClient(self.http, token_for(self.app, user_id))


async def role_ids_of(engine: AsyncEngine, user_id: int) -> set[int]:
    """The roles a user holds, straight from `user_roles`."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(user_roles_t.c.role_id).where(user_roles_t.c.user_id == user_id)
        )
        return {row[0] for row in result.all()}


async def grants_of(engine: AsyncEngine, role_id: int) -> dict[str, set[str]]:
    """A role's stored grants, as module -> write action names."""
    async with engine.connect() as conn:
        result = await conn.execute(select(grants_t).where(grants_t.c.role_id == role_id))
        return {
            row.module: {
                action
                for action, held in (
                    ("CREATE", row.can_create),
                    ("UPDATE", row.can_update),
                    ("DELETE", row.can_delete),
                )
                if held
            }
            for row in result.all()
        }


async def role_row(engine: AsyncEngine, role_id: int) -> dict[str, Any] | None:
    """A role's stored name and description, or None when it is gone."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(roles_t.c.name, roles_t.c.description).where(roles_t.c.id == role_id)
        )
        row = result.one_or_none()
        return None if row is None else dict(row._mapping)


async def user_row(engine: AsyncEngine, user_id: int) -> dict[str, Any] | None:
    """A user's stored name and flags, or None when absent."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(
                users_t.c.email,
                users_t.c.full_name,
                users_t.c.is_active,
                users_t.c.is_superuser,
            ).where(users_t.c.id == user_id)
        )
        row = result.one_or_none()
        return None if row is None else dict(row._mapping)


async def count_rows(engine: AsyncEngine, table: Table) -> int:
    """How many rows `table` holds."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def identity_snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored user, role, grant and assignment, for "nothing changed" checks."""
    columns = {
        "users": [
            users_t.c.id,
            users_t.c.email,
            users_t.c.full_name,
            users_t.c.is_active,
            users_t.c.is_superuser,
            users_t.c.tokens_valid_after,
        ],
        "roles": [roles_t.c.id, roles_t.c.name, roles_t.c.description],
        "role_grants": list(grants_t.c),
        "user_roles": list(user_roles_t.c),
    }
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for name, selected in columns.items():
            rows = (await conn.execute(select(*selected))).all()
            snapshot[name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot
