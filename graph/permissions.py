"""Permission classes, declared next to each field: `extensions=guard(CanRead(Module.TASKS))`.

Checks are synchronous and cheap: the caller's permissions are loaded once per request,
when the context is built, and each check is a set lookup.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from auth.rbac import Action, Module, Principal, permission_name
from domain.errors import Forbidden, Unauthenticated
from graph.context import Info, context_of

AUTHENTICATION_REQUIRED = "Authentication required: send a valid bearer access token."


def principal_of(info: Info) -> Principal:
    """The authenticated caller, or UNAUTHENTICATED (with the token's own failure, if any)."""
    ctx = context_of(info)
    if ctx.principal is not None:
        return ctx.principal
    raise ctx.auth_error or Unauthenticated(AUTHENTICATION_REQUIRED)


def require(info: Info, module: Module, action: Action = Action.READ) -> Principal:
    """The caller, who must hold `module:action`; FORBIDDEN names the missing permission."""
    principal = principal_of(info)
    if not principal.can(module, action):
        raise missing_permission(module, action)
    return principal


def missing_permission(module: Module, action: Action = Action.READ) -> Forbidden:
    """The FORBIDDEN error for a caller without `module:action`, naming the permission."""
    name = permission_name(module, action)
    return Forbidden(f"Missing permission {name}.", details={"permission": name})


def require_user_visible(info: Info, user_id: int | None) -> None:
    """USERS read, unless `user_id` is the caller's own: everyone sees their own user, as
    through `me`."""
    if user_id != principal_of(info).user_id:
        require(info, Module.USERS)


class IsAuthenticated(BasePermission):
    """Any valid access token."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal_of(info)
        return True


class CanRead(BasePermission):
    """READ on a module."""

    def __init__(self, module: Module) -> None:
        self.module = module

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        require(info, self.module)
        return True


class CanWrite(BasePermission):
    """A write action on a module."""

    def __init__(self, module: Module, action: Action) -> None:
        self.module = module
        self.action = action

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        require(info, self.module, self.action)
        return True


class CanSeeUser(BasePermission):
    """The user whose id is `source.<attribute>` is visible (`require_user_visible`)."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        target = getattr(source, self.attribute, None)
        ctx = context_of(info)
        if ctx.principal is None and target is not None and target == ctx.session_user_id:
            return True  # the payload of a login or refresh shows the user it logged in
        require_user_visible(info, target)
        return True


def guard(*permissions: BasePermission) -> list[FieldExtension]:
    """The field extension that applies `permissions` before the resolver runs."""
    return [PermissionExtension(permissions=list(permissions), use_directives=False)]
