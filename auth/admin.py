"""User and role administration, with the rules that stop privilege escalation.

- Only a superuser creates, promotes or edits a superuser.
- Nobody grants, edits, deletes, assigns or removes a role whose grants exceed their own.
- Nobody deactivates themselves, and the last active superuser stays.
- Any change to a user's status, superuser flag or roles revokes their earlier tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

from auth.passwords import PasswordHasher, check_password_policy
from auth.ports import IdentityUnitOfWork, Role
from auth.rbac import Grant, Principal
from domain.clock import Clock, utc_now
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.users.model import User
from domain.validation import UNSET, Unset, Violations

ROLE_NAME_MAX_LENGTH = 64
ROLE_DESCRIPTION_MAX_LENGTH = 500


def _check_covers(actor: Principal, grants: Sequence[Grant], what: str) -> None:
    if not actor.covers(grants):
        raise Forbidden(f"You cannot {what} a role whose grants exceed your own.")


def _check_grants(v: Violations, grants: Sequence[Grant]) -> None:
    modules = [grant.module for grant in grants]
    if len(set(modules)) != len(modules):
        v.add("grants", "lists a module more than once")


async def list_roles(uow: IdentityUnitOfWork) -> list[Role]:
    """Every role, by name."""
    return await uow.identity.list_roles()


async def _roles(uow: IdentityUnitOfWork, role_ids: Sequence[int]) -> list[Role]:
    wanted = set(role_ids)
    roles = await uow.identity.roles_by_id(list(wanted))
    if len(roles) != len(wanted):
        raise InvalidInput(
            "Unknown role.",
            fields={"role_ids": f"refers to {len(wanted) - len(roles)} unknown role(s)"},
        )
    return roles


async def _user(uow: IdentityUnitOfWork, user_id: int) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


async def _role(uow: IdentityUnitOfWork, role_id: int) -> Role:
    found = await uow.identity.roles_by_id([role_id])
    if not found:
        raise NotFound("Role not found.")
    return found[0]


class UserAdmin:
    """User and role administration use cases."""

    def __init__(self, hasher: PasswordHasher, clock: Clock = utc_now) -> None:
        self.hasher = hasher
        self.clock = clock

    async def create_user(
        self,
        uow: IdentityUnitOfWork,
        actor: Principal,
        *,
        email: str,
        password: str,
        full_name: str | None,
        is_superuser: bool,
        role_ids: Sequence[int],
    ) -> User:
        """Create a user with a password and roles."""
        v = Violations()
        email = v.email("email", email)
        full_name = v.optional_text("full_name", full_name, max_length=200, multiline=False)
        v.raise_if_any()
        check_password_policy(password)
        if is_superuser and not actor.is_superuser:
            raise Forbidden("Only a superuser can create a superuser.")
        async with uow:
            for role in await _roles(uow, role_ids):
                _check_covers(actor, role.grants, "assign")
            if await uow.identity.email_taken(email):
                raise Conflict(
                    "A user with this email already exists.", fields={"email": "is taken"}
                )
            user = await uow.identity.add_user(
                email=email,
                password_hash=self.hasher.hash(password),
                full_name=full_name,
                is_superuser=is_superuser,
            )
            for role_id in dict.fromkeys(role_ids):
                await uow.identity.assign(user.id, role_id)
            await uow.commit()
        return user

    async def update_user(
        self,
        uow: IdentityUnitOfWork,
        actor: Principal,
        user_id: int,
        *,
        full_name: str | Unset | None = UNSET,
        is_active: bool | Unset | None = UNSET,
        is_superuser: bool | Unset | None = UNSET,
    ) -> User:
        """Change a user's name, status or superuser flag."""
        v = Violations()
        values: dict[str, object] = {}
        if not isinstance(full_name, Unset):
            values["full_name"] = v.optional_text(
                "full_name", full_name, max_length=200, multiline=False
            )
        for name, value in (("is_active", is_active), ("is_superuser", is_superuser)):
            if value is None:
                v.add(name, "must not be null")
            elif not isinstance(value, Unset):
                values[name] = value
        if values.get("is_active") is False and user_id == actor.user_id:
            v.add("is_active", "you cannot deactivate yourself")
        v.raise_if_any()
        async with uow:
            user = await _user(uow, user_id)
            changed = {k: val for k, val in values.items() if getattr(user, k) != val}
            if (user.is_superuser or "is_superuser" in changed) and not actor.is_superuser:
                raise Forbidden("Only a superuser can change a superuser.")
            losing_superuser = (
                user.is_superuser
                and user.is_active
                and (changed.get("is_superuser") is False or changed.get("is_active") is False)
            )
            if losing_superuser and not await uow.identity.count_active_superusers(
                excluding=user_id
            ):
                raise Conflict("The last active superuser cannot be removed.")
            if not changed:
                return user
            user = await uow.identity.update_user(user_id, changed)
            if "is_active" in changed or "is_superuser" in changed:
                await uow.identity.invalidate_tokens([user_id], self.clock())
            await uow.commit()
        return user

    @staticmethod
    def _role_fields(
        v: Violations, name: str | Unset, description: str | Unset | None
    ) -> dict[str, object]:
        values: dict[str, object] = {}
        if isinstance(name, str):
            values["name"] = v.text("name", name, max_length=ROLE_NAME_MAX_LENGTH)
        if not isinstance(description, Unset):
            values["description"] = v.optional_text(
                "description", description, max_length=ROLE_DESCRIPTION_MAX_LENGTH
            )
        return values

    async def create_role(
        self,
        uow: IdentityUnitOfWork,
        actor: Principal,
        *,
        name: str,
        description: str | None,
        grants: Sequence[Grant],
    ) -> Role:
        """Create a role; its grants may not exceed the creator's own."""
        v = Violations()
        name = v.text("name", name, max_length=ROLE_NAME_MAX_LENGTH)
        description = v.optional_text(
            "description", description, max_length=ROLE_DESCRIPTION_MAX_LENGTH
        )
        _check_grants(v, grants)
        v.raise_if_any()
        _check_covers(actor, grants, "create")
        async with uow:
            if await uow.identity.role_name_taken(name):
                raise Conflict("A role with this name already exists.", fields={"name": "is taken"})
            role = await uow.identity.add_role(name=name, description=description, grants=grants)
            await uow.commit()
        return role

    async def update_role(
        self,
        uow: IdentityUnitOfWork,
        actor: Principal,
        role_id: int,
        *,
        name: str | Unset | None = UNSET,
        description: str | Unset | None = UNSET,
        grants: Sequence[Grant] | Unset | None = UNSET,
    ) -> Role:
        """Rename or re-grant a role; holders' tokens are revoked when the grants change."""
        v = Violations()
        if name is None:
            v.add("name", "must not be null")
        values = self._role_fields(v, UNSET if name is None else name, description)
        new_grants = None if isinstance(grants, Unset) or grants is None else list(grants)
        if grants is None:
            v.add("grants", "must not be null")
        if new_grants is not None:
            _check_grants(v, new_grants)
        v.raise_if_any()
        async with uow:
            role = await _role(uow, role_id)
            _check_covers(actor, role.grants, "change")
            if new_grants is not None:
                _check_covers(actor, new_grants, "grant")
            new_name = values.get("name")
            if isinstance(new_name, str) and await uow.identity.role_name_taken(
                new_name, exclude_id=role_id
            ):
                raise Conflict("A role with this name already exists.", fields={"name": "is taken"})
            grants_changed = new_grants is not None and set(new_grants) != set(role.grants)
            role = await uow.identity.update_role(
                role_id, values, new_grants if grants_changed else None
            )
            if grants_changed:
                await uow.identity.invalidate_tokens(
                    await uow.identity.holders_of(role_id), self.clock()
                )
            await uow.commit()
        return role

    async def delete_role(self, uow: IdentityUnitOfWork, actor: Principal, role_id: int) -> int:
        """Delete a role and its assignments; its holders' tokens are revoked."""
        async with uow:
            role = await _role(uow, role_id)
            _check_covers(actor, role.grants, "delete")
            holders = await uow.identity.holders_of(role_id)
            await uow.identity.delete_role(role_id)
            await uow.identity.invalidate_tokens(holders, self.clock())
            await uow.commit()
        return role_id

    async def set_role(
        self, uow: IdentityUnitOfWork, actor: Principal, user_id: int, role_id: int, *, held: bool
    ) -> User:
        """Assign (`held=True`) or unassign a role; the user's earlier tokens are revoked."""
        async with uow:
            user = await _user(uow, user_id)
            role = await _role(uow, role_id)
            _check_covers(actor, role.grants, "assign" if held else "remove")
            if user.is_superuser and not actor.is_superuser:
                raise Forbidden("Only a superuser can change a superuser.")
            changed = await (
                uow.identity.assign(user_id, role_id)
                if held
                else uow.identity.unassign(user_id, role_id)
            )
            if changed:
                await uow.identity.invalidate_tokens([user_id], self.clock())
            await uow.commit()
        return user
