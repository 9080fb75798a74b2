"""User and role queries."""

from __future__ import annotations

import strawberry

from auth.admin import list_roles
from auth.rbac import Module
from domain.users import service
from graph.context import Info, context_of
from graph.permissions import CanRead, IsAuthenticated, guard, principal_of
from graph.relay import Connection, ConnectionArgs, build_connection, connection_args, decode_id_of
from graph.users.types import TYPE_NAME, RoleType, UserType, role_node, user_node


@strawberry.type
class UserQueries:
    """Read access to users and roles."""

    @strawberry.field(extensions=guard(IsAuthenticated()))
    async def me(self, info: Info) -> UserType | None:
        """The caller."""
        found = await context_of(info).loaders.user_by_id.load(principal_of(info).user_id)
        return None if found is None else user_node(found)

    @strawberry.field(extensions=guard(CanRead(Module.USERS)))
    async def user(self, info: Info, id: strawberry.ID) -> UserType | None:
        """One user by ID; null when it does not exist."""
        found = await context_of(info).loaders.user_by_id.load(decode_id_of(id, TYPE_NAME))
        return None if found is None else user_node(found)

    @strawberry.field(extensions=guard(CanRead(Module.USERS)))
    @connection_args
    async def users(self, info: Info, args: ConnectionArgs) -> Connection[UserType]:
        """A keyset-paginated list of users, by id."""
        uow = context_of(info).uow
        found = await service.list_users(uow, args.page())
        return build_connection(found, user_node, lambda: service.count_users(uow))

    @strawberry.field(extensions=guard(CanRead(Module.USERS)))
    async def roles(self, info: Info) -> list[RoleType]:
        """Every role, by name."""
        return [role_node(role) for role in await list_roles(context_of(info).uow)]
