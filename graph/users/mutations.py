"""User and role administration mutations."""

from __future__ import annotations

import strawberry

from auth.rbac import Action, Module
from graph.common import DeletePayload, given
from graph.context import Info, context_of
from graph.permissions import CanWrite, guard, principal_of
from graph.relay import decode_id_of, decode_ids_of
from graph.users.inputs import CreateRoleInput, CreateUserInput, UpdateRoleInput, UpdateUserInput
from graph.users.types import (
    ROLE_TYPE_NAME,
    TYPE_NAME,
    RolePayload,
    UserPayload,
    role_node,
    user_node,
)


@strawberry.type
class UserMutations:
    """Changes to users and roles; escalation rules live in `auth.admin`."""

    @strawberry.mutation(extensions=guard(CanWrite(Module.USERS, Action.CREATE)))
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        """Create a user with a password and roles."""
        ctx = context_of(info)
        user = await ctx.services.admin.create_user(
            ctx.uow,
            principal_of(info),
            email=input.email,
            password=input.password,
            full_name=input.full_name,
            is_superuser=input.is_superuser,
            role_ids=decode_ids_of(input.role_ids, ROLE_TYPE_NAME, field="roleIds"),
        )
        return UserPayload(user=user_node(user))

    @strawberry.mutation(extensions=guard(CanWrite(Module.USERS, Action.UPDATE)))
    async def update_user(
        self, info: Info, id: strawberry.ID, input: UpdateUserInput
    ) -> UserPayload:
        """Change a user's name, status or superuser flag."""
        ctx = context_of(info)
        user = await ctx.services.admin.update_user(
            ctx.uow,
            principal_of(info),
            decode_id_of(id, TYPE_NAME),
            full_name=given(input.full_name),
            is_active=given(input.is_active),
            is_superuser=given(input.is_superuser),
        )
        return UserPayload(user=user_node(user))

    @strawberry.mutation(extensions=guard(CanWrite(Module.USERS, Action.CREATE)))
    async def create_role(self, info: Info, input: CreateRoleInput) -> RolePayload:
        """Create a role whose grants do not exceed the caller's own."""
        ctx = context_of(info)
        role = await ctx.services.admin.create_role(
            ctx.uow,
            principal_of(info),
            name=input.name,
            description=input.description,
            grants=[grant.to_grant() for grant in input.grants],
        )
        return RolePayload(role=role_node(role))

    @strawberry.mutation(extensions=guard(CanWrite(Module.USERS, Action.UPDATE)))
    async def update_role(
        self, info: Info, id: strawberry.ID, input: UpdateRoleInput
    ) -> RolePayload:
        """Rename or re-grant a role; `grants` replaces the whole set."""
        ctx = context_of(info)
        grants = given(input.grants)
        role = await ctx.services.admin.update_role(
            ctx.uow,
            principal_of(info),
            decode_id_of(id, ROLE_TYPE_NAME),
            name=given(input.name),
            description=given(input.description),
            grants=[g.to_grant() for g in grants] if isinstance(grants, list) else grants,
        )
        return RolePayload(role=role_node(role))

    @strawberry.mutation(extensions=guard(CanWrite(Module.USERS, Action.DELETE)))
    async def delete_role(self, info: Info, id: strawberry.ID) -> DeletePayload:
        """Delete a role; its holders lose it and their earlier tokens."""
        ctx = context_of(info)
        await ctx.services.admin.delete_role(
            ctx.uow, principal_of(info), decode_id_of(id, ROLE_TYPE_NAME)
        )
        return DeletePayload(deleted_id=id)

    @strawberry.mutation(extensions=guard(CanWrite(Module.USERS, Action.UPDATE)))
    async def assign_role(
        self, info: Info, user_id: strawberry.ID, role_id: strawberry.ID
    ) -> UserPayload:
        """Give a user a role."""
        return await _set_role(info, user_id, role_id, held=True)

    @strawberry.mutation(extensions=guard(CanWrite(Module.USERS, Action.UPDATE)))
    async def unassign_role(
        self, info: Info, user_id: strawberry.ID, role_id: strawberry.ID
    ) -> UserPayload:
        """Take a role from a user."""
        return await _set_role(info, user_id, role_id, held=False)


async def _set_role(
    info: Info, user_id: strawberry.ID, role_id: strawberry.ID, *, held: bool
) -> UserPayload:
    ctx = context_of(info)
    user = await ctx.services.admin.set_role(
        ctx.uow,
        principal_of(info),
        decode_id_of(user_id, TYPE_NAME, field="userId"),
        decode_id_of(role_id, ROLE_TYPE_NAME, field="roleId"),
        held=held,
    )
    return UserPayload(user=user_node(user))
