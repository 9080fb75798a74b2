"""What authentication and user administration need from storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from auth.rbac import Grant
from domain.ports import Transaction
from domain.users.model import User


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login checks."""

    user_id: int
    email: str
    password_hash: str | None
    is_active: bool


@dataclass(frozen=True, slots=True)
class PrincipalRecord:
    """A token's user as stored, with its grants and whether the token was revoked."""

    user_id: int
    email: str
    is_active: bool
    is_superuser: bool
    tokens_valid_after: datetime | None
    is_token_revoked: bool
    grants: tuple[Grant, ...]


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    """A stored refresh token (never the token itself)."""

    id: int
    user_id: int
    family_id: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Role:
    """A named set of module grants."""

    id: int
    name: str
    description: str | None
    grants: tuple[Grant, ...]


class IdentityRepository(Protocol):
    """Credentials, tokens, roles and user administration."""

    async def credentials_by_email(self, email: str, /) -> Credentials | None: ...
    async def set_password_hash(self, user_id: int, password_hash: str, /) -> None: ...
    async def load_principal(self, user_id: int, jti: str, /) -> PrincipalRecord | None: ...
    async def add_refresh_token(
        self,
        *,
        user_id: int,
        family_id: str,
        token_hash: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None: ...
    async def spend_refresh_token(
        self, token_hash: str, now: datetime, /
    ) -> RefreshRecord | None: ...
    async def find_refresh_token(self, token_hash: str, /) -> RefreshRecord | None: ...
    async def revoke_family(self, family_id: str, now: datetime, /) -> int: ...
    async def revoke_access_token(self, jti: str, expires_at: datetime, /) -> None: ...
    async def invalidate_tokens(self, user_ids: Sequence[int], now: datetime, /) -> None: ...
    async def prune_expired(self, now: datetime, /) -> int: ...

    async def email_taken(self, email: str, /) -> bool: ...
    async def add_user(
        self, *, email: str, password_hash: str, full_name: str | None, is_superuser: bool
    ) -> User: ...
    async def update_user(self, user_id: int, values: Mapping[str, object], /) -> User: ...
    async def count_active_superusers(self, *, excluding: int) -> int: ...

    async def list_roles(self) -> list[Role]: ...
    async def roles_by_id(self, role_ids: Sequence[int], /) -> list[Role]: ...
    async def roles_of_users(self, user_ids: Sequence[int], /) -> dict[int, list[Role]]: ...
    async def role_name_taken(self, name: str, *, exclude_id: int | None = None) -> bool: ...
    async def add_role(
        self, *, name: str, description: str | None, grants: Sequence[Grant]
    ) -> Role: ...
    async def update_role(
        self, role_id: int, values: Mapping[str, object], grants: Sequence[Grant] | None, /
    ) -> Role: ...
    async def delete_role(self, role_id: int, /) -> None: ...
    async def holders_of(self, role_id: int, /) -> list[int]: ...
    async def assign(self, user_id: int, role_id: int, /) -> bool: ...
    async def unassign(self, user_id: int, role_id: int, /) -> bool: ...


class UserReader(Protocol):
    """Reading users by id."""

    async def get(self, user_id: int, /) -> User | None: ...


class IdentityUnitOfWork(Transaction, Protocol):
    """The unit of work as authentication sees it."""

    @property
    def identity(self) -> IdentityRepository: ...
    @property
    def users(self) -> UserReader: ...
