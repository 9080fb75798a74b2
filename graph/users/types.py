"""User, role and grant GraphQL types."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from auth.ports import Role
from auth.rbac import Action as RbacAction
from auth.rbac import Grant, Module
from domain.users.model import User
from graph.context import Info, context_of
from graph.permissions import CanSeeUser, guard
from graph.relay import Node, encode_global_id

TYPE_NAME = "User"
ROLE_TYPE_NAME = "Role"

strawberry.enum(Module, name="Module", description="A business area permissions are granted on.")


@strawberry.enum(
    name="Action",
    description=(
        "Granting a module to a role grants READ on it implicitly; these are the write actions."
    ),
)
class Action(Enum):
    """The write actions, as clients name them."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"

    def to_rbac(self) -> RbacAction:
        """The RBAC action of the same name."""
        return RbacAction[self.name]


@strawberry.type
class ModuleGrant:
    """A module granted to a role, with its write actions."""

    module: Module
    actions: list[Action]


@strawberry.type(name="Role")
class RoleType(Node):
    """A named set of module grants."""

    id: strawberry.ID
    name: str
    description: str | None
    grants: list[ModuleGrant]


def grant_node(grant: Grant) -> ModuleGrant:
    """Map an RBAC grant to its GraphQL type, actions in a stable order."""
    actions = [
        Action[a.name] for a in RbacAction if a in grant.actions and a is not RbacAction.READ
    ]
    return ModuleGrant(module=grant.module, actions=actions)


def role_node(role: Role) -> RoleType:
    """Map a stored role to its GraphQL type."""
    return RoleType(
        id=encode_global_id(ROLE_TYPE_NAME, role.id),
        name=role.name,
        description=role.description,
        grants=[grant_node(grant) for grant in role.grants],
    )


@strawberry.type(name="User")
class UserType(Node):
    """A person who uses the API and can be assigned tasks."""

    id: strawberry.ID
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime
    pk: strawberry.Private[int]

    @strawberry.field(extensions=guard(CanSeeUser("pk")))
    async def roles(self, info: Info) -> list[RoleType]:
        """The user's roles, by name."""
        roles = await context_of(info).loaders.roles_by_user.load(self.pk)
        return [role_node(role) for role in roles]


def user_node(user: User) -> UserType:
    """Map a domain user to its GraphQL type."""
    return UserType(
        id=encode_global_id(TYPE_NAME, user.id),
        email=user.email,
        full_name=user.full_name,
        is_active=user.is_active,
        is_superuser=user.is_superuser,
        created_at=user.created_at,
        pk=user.id,
    )


@strawberry.type
class UserPayload:
    """The user a mutation created or changed."""

    user: UserType


@strawberry.type
class RolePayload:
    """The role a mutation created or changed."""

    role: RoleType
