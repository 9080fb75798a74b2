"""Module RBAC: roles grant modules and write actions; a user's permissions are their union.

This is the one place where roles are aggregated into permissions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Module(Enum):
    """A business area that permissions are granted on."""

    PRODUCTS = "PRODUCTS"
    CUSTOMERS = "CUSTOMERS"
    TASKS = "TASKS"
    USERS = "USERS"
    AUDIT = "AUDIT"


class Action(Enum):
    """What a permission allows on a module: READ, which any grant of the module implies,
    or one of the `WRITE_ACTIONS` a grant lists."""

    READ = "READ"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


WRITE_ACTIONS: tuple[Action, ...] = (Action.CREATE, Action.UPDATE, Action.DELETE)


@dataclass(frozen=True, slots=True)
class Grant:
    """One module granted to a role, with its write actions."""

    module: Module
    actions: frozenset[Action] = frozenset()


def permission_name(module: Module, action: Action) -> str:
    """How a permission is named to clients, e.g. `tasks:update`."""
    return f"{module.value.lower()}:{action.value.lower()}"


def aggregate(grants: Iterable[Grant]) -> frozenset[tuple[Module, Action]]:
    """The union of the grants as (module, action) pairs, READ included for every module."""
    permissions: set[tuple[Module, Action]] = set()
    for grant in grants:
        permissions.add((grant.module, Action.READ))
        permissions.update((grant.module, action) for action in grant.actions)
    return frozenset(permissions)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: who they are and what they may do."""

    user_id: int
    email: str
    is_superuser: bool = False
    permissions: frozenset[tuple[Module, Action]] = field(default_factory=frozenset)
    token_jti: str | None = None
    token_expires_at: datetime | None = None

    def can(self, module: Module, action: Action = Action.READ) -> bool:
        """Whether the caller holds `module:action`; a superuser holds everything."""
        return self.is_superuser or (module, action) in self.permissions

    def covers(self, grants: Iterable[Grant]) -> bool:
        """Whether the caller holds every permission that `grants` would give."""
        return self.is_superuser or aggregate(grants) <= self.permissions
