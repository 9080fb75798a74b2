"""User and role inputs: a new or changed user, a new or changed role and its grants."""

from __future__ import annotations

import strawberry

from auth.rbac import Grant, Module
from graph.users.types import Action


@strawberry.input
class ModuleGrantInput:
    """A module to grant, with its write actions (READ is implied)."""

    module: Module
    actions: list[Action] = strawberry.field(default_factory=list)

    def to_grant(self) -> Grant:
        """The RBAC grant this input describes."""
        return Grant(self.module, frozenset(action.to_rbac() for action in self.actions))


@strawberry.input
class CreateUserInput:
    """A new user with a password and roles."""

    email: str
    password: str
    full_name: str | None = None
    is_superuser: bool = False
    role_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateUserInput:
    """A partial update of a user."""

    full_name: str | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
    is_superuser: bool | None = strawberry.UNSET


@strawberry.input
class CreateRoleInput:
    """A new role."""

    name: str
    description: str | None = None
    grants: list[ModuleGrantInput] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateRoleInput:
    """A partial update of a role."""

    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    grants: list[ModuleGrantInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the whole set when given."
    )
