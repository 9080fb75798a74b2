"""Identity storage: credentials, token bookkeeping, roles and user administration.

Users, roles, grants and role assignments change through the ORM, so session hooks
see them; token bookkeeping rows use Core statements (atomic conditional updates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)

from auth.ports import Credentials, PrincipalRecord, RefreshRecord, Role
from auth.rbac import Action, Grant, Module
from domain.users.model import User
from persistence.gate import GatedAdapter
from persistence.models import (
    RefreshTokenModel,
    RevokedTokenModel,
    RoleGrantModel,
    RoleModel,
    UserModel,
    UserRoleModel,
)
from persistence.types import utcnow

users_t = cast(Table, UserModel.__table__)
roles_t = cast(Table, RoleModel.__table__)
grants_t = cast(Table, RoleGrantModel.__table__)
user_roles_t = cast(Table, UserRoleModel.__table__)
refresh_t = cast(Table, RefreshTokenModel.__table__)
revoked_t = cast(Table, RevokedTokenModel.__table__)

_USER_COLUMNS = (
    users_t.c.id,
    users_t.c.email,
    users_t.c.full_name,
    users_t.c.is_active,
    users_t.c.is_superuser,
    users_t.c.created_at,
    users_t.c.updated_at,
)
_REFRESH_COLUMNS = (
    refresh_t.c.id,
    refresh_t.c.user_id,
    refresh_t.c.family_id,
    refresh_t.c.issued_at,
    refresh_t.c.expires_at,
    refresh_t.c.used_at,
    refresh_t.c.revoked_at,
)


# Every request loads its caller with this statement, so it is built once, with bound
# parameters: its compiled form is cached per engine, and no request builds or compiles it.
_PRINCIPAL: Final[Select[Any]] = (
    select(
        users_t.c.id,
        users_t.c.email,
        users_t.c.is_active,
        users_t.c.is_superuser,
        users_t.c.tokens_valid_after,
        exists().where(revoked_t.c.jti == bindparam("jti")).label("revoked"),
        grants_t.c.module,
        grants_t.c.can_create,
        grants_t.c.can_update,
        grants_t.c.can_delete,
    )
    .select_from(users_t)
    .outerjoin(user_roles_t, user_roles_t.c.user_id == users_t.c.id)
    .outerjoin(grants_t, grants_t.c.role_id == user_roles_t.c.role_id)
    .where(users_t.c.id == bindparam("user_id"))
)


# A grant row maps to one immutable `Grant`; there are few distinct rows, and every
# request reads its caller's.
@lru_cache(maxsize=256)
def _grant(module: str, can_create: bool, can_update: bool, can_delete: bool) -> Grant:
    actions = {
        action
        for action, granted in (
            (Action.CREATE, can_create),
            (Action.UPDATE, can_update),
            (Action.DELETE, can_delete),
        )
        if granted
    }
    return Grant(Module(module), frozenset(actions))


def _grant_row(role_id: int, grant: Grant) -> RoleGrantModel:
    return RoleGrantModel(
        role_id=role_id,
        module=grant.module.value,
        can_create=Action.CREATE in grant.actions,
        can_update=Action.UPDATE in grant.actions,
        can_delete=Action.DELETE in grant.actions,
    )


def _user(obj: UserModel) -> User:
    return User(
        obj.id,
        obj.email,
        obj.full_name,
        obj.is_active,
        obj.is_superuser,
        obj.created_at,
        obj.updated_at,
    )


class SqlAlchemyIdentityRepository(GatedAdapter):
    """Implements `auth.ports.IdentityRepository` on one request's session."""

    async def _exists(self, condition: ColumnElement[bool]) -> bool:
        async with self._gate:
            return bool((await self._session.execute(select(exists().where(condition)))).scalar())

    # ------------------------------------------------------------------ credentials

    async def credentials_by_email(self, email: str, /) -> Credentials | None:
        """The login data of the user with `email`."""
        stmt = select(
            users_t.c.id, users_t.c.email, users_t.c.password_hash, users_t.c.is_active
        ).where(users_t.c.email == email)
        rows = await self._rows(stmt)
        return Credentials(*rows[0]) if rows else None

    async def set_password_hash(self, user_id: int, password_hash: str, /) -> None:
        """Store a new password hash."""
        async with self._gate:
            user = await self._session.get(UserModel, user_id)
            if user is not None:
                user.password_hash = password_hash
                await self._session.flush()

    async def load_principal(self, user_id: int, jti: str, /) -> PrincipalRecord | None:
        """The user, their grants and whether `jti` was revoked, in one statement."""
        parameters = {"user_id": user_id, "jti": jti}

        async def fetch() -> Sequence[Any]:
            # A Core read on the session's own connection: no ORM step. Outside a write
            # block that is an autocommit connection on PostgreSQL (ADR 0009).
            connection = await self._session.connection()
            rows: Sequence[Any] = (await connection.execute(_PRINCIPAL, parameters)).all()
            return rows

        rows = await self._gate.run(fetch)
        if not rows:
            return None
        first = rows[0]
        grants = tuple(_grant(*row[6:10]) for row in rows if row[6] is not None)
        return PrincipalRecord(
            user_id=first[0],
            email=first[1],
            is_active=first[2],
            is_superuser=first[3],
            tokens_valid_after=first[4],
            is_token_revoked=bool(first[5]),
            grants=grants,
        )

    # ------------------------------------------------------------------ tokens

    async def add_refresh_token(
        self,
        *,
        user_id: int,
        family_id: str,
        token_hash: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a new refresh token's hash."""
        async with self._gate:
            await self._session.execute(
                insert(refresh_t).values(
                    user_id=user_id,
                    family_id=family_id,
                    token_hash=token_hash,
                    issued_at=issued_at,
                    expires_at=expires_at,
                )
            )

    async def spend_refresh_token(self, token_hash: str, now: datetime, /) -> RefreshRecord | None:
        """Mark a live token used, atomically: of two concurrent spends only one gets the row."""
        stmt = (
            update(refresh_t)
            .where(
                refresh_t.c.token_hash == token_hash,
                refresh_t.c.used_at.is_(None),
                refresh_t.c.revoked_at.is_(None),
                refresh_t.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(*_REFRESH_COLUMNS)
        )
        rows = await self._rows(stmt)
        return RefreshRecord(*rows[0]) if rows else None

    async def find_refresh_token(self, token_hash: str, /) -> RefreshRecord | None:
        """A stored token by hash, whatever its state."""
        rows = await self._rows(
            select(*_REFRESH_COLUMNS).where(refresh_t.c.token_hash == token_hash)
        )
        return RefreshRecord(*rows[0]) if rows else None

    async def revoke_family(self, family_id: str, now: datetime, /) -> int:
        """Revoke every live token of a rotation family; returns how many."""
        stmt = (
            update(refresh_t)
            .where(refresh_t.c.family_id == family_id, refresh_t.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        async with self._gate:
            result = await self._session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def revoke_access_token(self, jti: str, expires_at: datetime, /) -> None:
        """Blacklist an access token until it would expire anyway."""
        if await self._exists(revoked_t.c.jti == jti):
            return
        async with self._gate:
            await self._session.execute(insert(revoked_t).values(jti=jti, expires_at=expires_at))

    async def invalidate_tokens(self, user_ids: Sequence[int], now: datetime, /) -> None:
        """Refuse every token issued to these users before `now`."""
        if not user_ids:
            return
        async with self._gate:
            users = await self._session.scalars(
                select(UserModel).where(UserModel.id.in_(set(user_ids)))
            )
            for user in users:
                user.tokens_valid_after = now
            await self._session.execute(
                update(refresh_t)
                .where(refresh_t.c.user_id.in_(set(user_ids)), refresh_t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await self._session.flush()

    async def prune_expired(self, now: datetime, /) -> int:
        """Delete token rows that can no longer matter; returns how many."""
        async with self._gate:
            spent = await self._session.execute(
                delete(refresh_t).where(refresh_t.c.expires_at <= now)
            )
            revoked = await self._session.execute(
                delete(revoked_t).where(revoked_t.c.expires_at <= now)
            )
        return int(getattr(spent, "rowcount", 0) or 0) + int(getattr(revoked, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ users

    async def email_taken(self, email: str, /) -> bool:
        """Whether a user already has `email`."""
        return await self._exists(users_t.c.email == email)

    async def add_user(
        self, *, email: str, password_hash: str, full_name: str | None, is_superuser: bool
    ) -> User:
        """Insert a user with a password."""
        user = UserModel(
            email=email,
            password_hash=password_hash,
            full_name=full_name,
            is_superuser=is_superuser,
            is_active=True,
        )
        async with self._gate:
            self._session.add(user)
            await self._session.flush()
        return _user(user)

    async def update_user(self, user_id: int, values: Mapping[str, object], /) -> User:
        """Apply changed values to a user."""
        async with self._gate:
            user = await self._session.get(UserModel, user_id)
            if user is None:  # pragma: no cover - the service checks existence first
                raise LookupError(user_id)
            for name, value in values.items():
                setattr(user, name, value)
            user.updated_at = utcnow()
            await self._session.flush()
        return _user(user)

    async def count_active_superusers(self, *, excluding: int) -> int:
        """Active superusers other than `excluding`."""
        stmt = select(func.count()).where(
            users_t.c.is_superuser.is_(True),
            users_t.c.is_active.is_(True),
            users_t.c.id != excluding,
        )
        rows = await self._rows(stmt)
        return int(rows[0][0])

    # ------------------------------------------------------------------ roles

    def _role_select(self) -> Select[Any]:
        return select(
            roles_t.c.id,
            roles_t.c.name,
            roles_t.c.description,
            grants_t.c.module,
            grants_t.c.can_create,
            grants_t.c.can_update,
            grants_t.c.can_delete,
        ).outerjoin(grants_t, grants_t.c.role_id == roles_t.c.id)

    @staticmethod
    def _roles(rows: Sequence[Any], *, key: int = 0) -> dict[int, Role]:
        grants: dict[int, list[Grant]] = {}
        heads: dict[int, Any] = {}
        for row in rows:
            heads.setdefault(row[key], row)
            grants.setdefault(row[key], [])
            if row[key + 3] is not None:
                grants[row[key]].append(_grant(*row[key + 3 : key + 7]))
        return {
            role_id: Role(
                id=head[key],
                name=head[key + 1],
                description=head[key + 2],
                grants=tuple(sorted(grants[role_id], key=lambda g: g.module.value)),
            )
            for role_id, head in heads.items()
        }

    async def list_roles(self) -> list[Role]:
        """Every role, by name."""
        rows = await self._rows(self._role_select().order_by(roles_t.c.name, grants_t.c.module))
        return list(self._roles(rows).values())

    async def roles_by_id(self, role_ids: Sequence[int], /) -> list[Role]:
        """The roles that exist among `role_ids`."""
        if not role_ids:
            return []
        stmt = self._role_select().where(roles_t.c.id.in_(set(role_ids)))
        return list(self._roles(await self._rows(stmt)).values())

    async def roles_of_users(self, user_ids: Sequence[int], /) -> dict[int, list[Role]]:
        """Each user's roles by name, in one statement."""
        stmt = (
            select(user_roles_t.c.user_id, *self._role_select().selected_columns)
            .select_from(user_roles_t)
            .join(roles_t, roles_t.c.id == user_roles_t.c.role_id)
            .outerjoin(grants_t, grants_t.c.role_id == roles_t.c.id)
            .where(user_roles_t.c.user_id.in_(set(user_ids)))
            .order_by(user_roles_t.c.user_id, roles_t.c.name, grants_t.c.module)
        )
        by_user: dict[int, list[Any]] = {user_id: [] for user_id in user_ids}
        for row in await self._rows(stmt):
            by_user.setdefault(row[0], []).append(row)
        return {
            user_id: list(self._roles(rows, key=1).values()) for user_id, rows in by_user.items()
        }

    async def role_name_taken(self, name: str, *, exclude_id: int | None = None) -> bool:
        """Whether another role already uses `name` (case-insensitive)."""
        condition = func.lower(roles_t.c.name) == name.lower()
        if exclude_id is not None:
            condition = condition & (roles_t.c.id != exclude_id)
        return await self._exists(condition)

    async def add_role(
        self, *, name: str, description: str | None, grants: Sequence[Grant]
    ) -> Role:
        """Insert a role with its grants."""
        role = RoleModel(name=name, description=description)
        async with self._gate:
            self._session.add(role)
            await self._session.flush()
            self._session.add_all(_grant_row(role.id, grant) for grant in grants)
            await self._session.flush()
        ordered = tuple(sorted(grants, key=lambda grant: grant.module.value))
        return Role(role.id, role.name, role.description, ordered)

    async def update_role(
        self, role_id: int, values: Mapping[str, object], grants: Sequence[Grant] | None, /
    ) -> Role:
        """Apply changed values; given grants replace the role's set."""
        async with self._gate:
            role = await self._session.get(RoleModel, role_id)
            if role is None:  # pragma: no cover - the service checks existence first
                raise LookupError(role_id)
            for name, value in values.items():
                setattr(role, name, value)
            role.updated_at = utcnow()
            if grants is not None:
                current = await self._session.scalars(
                    select(RoleGrantModel).where(RoleGrantModel.role_id == role_id)
                )
                for row in current:
                    await self._session.delete(row)
                await self._session.flush()
                self._session.add_all(_grant_row(role_id, grant) for grant in grants)
            await self._session.flush()
        found = await self.roles_by_id([role_id])
        return found[0]

    async def delete_role(self, role_id: int, /) -> None:
        """Delete a role, its grants and its assignments, each through the ORM."""
        async with self._gate:
            for model in (UserRoleModel, RoleGrantModel):
                rows = await self._session.scalars(select(model).where(model.role_id == role_id))
                for row in rows:
                    await self._session.delete(row)
            # Children first: without ORM relationships the flush would not order them.
            await self._session.flush()
            role = await self._session.get(RoleModel, role_id)
            if role is not None:
                await self._session.delete(role)
            await self._session.flush()

    async def holders_of(self, role_id: int, /) -> list[int]:
        """The ids of the non-superusers who hold the role (a superuser's rights never
        depend on roles, so role edits do not touch their sessions)."""
        rows = await self._rows(
            select(user_roles_t.c.user_id)
            .join(users_t, users_t.c.id == user_roles_t.c.user_id)
            .where(user_roles_t.c.role_id == role_id, users_t.c.is_superuser.is_(False))
        )
        return [row[0] for row in rows]

    async def assign(self, user_id: int, role_id: int, /) -> bool:
        """Give a user a role; False when they already had it."""
        async with self._gate:
            if await self._session.get(UserRoleModel, (user_id, role_id)) is not None:
                return False
            self._session.add(UserRoleModel(user_id=user_id, role_id=role_id))
            await self._session.flush()
        return True

    async def unassign(self, user_id: int, role_id: int, /) -> bool:
        """Take a role from a user; False when they did not have it."""
        async with self._gate:
            link = await self._session.get(UserRoleModel, (user_id, role_id))
            if link is None:
                return False
            await self._session.delete(link)
            await self._session.flush()
        return True
