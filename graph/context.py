"""The typed per-request context: settings, unit of work, loaders, caller and request id."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.fastapi import BaseContext
from strawberry.types import Info as _Info

from auth.admin import UserAdmin
from auth.rbac import Principal
from auth.service import AuthService
from config.settings import Settings
from domain.errors import DomainError
from graph.dataloaders import Loaders
from graph.ratelimit import RateLimiter
from persistence.unit_of_work import SqlAlchemyUnitOfWork


@dataclass(frozen=True, slots=True)
class Services:
    """Collaborators built once by `create_app` and shared by every request."""

    settings: Settings
    auth: AuthService
    admin: UserAdmin
    limiter: RateLimiter


class Context(BaseContext):
    """What every resolver may use; built by `create_app`'s context getter."""

    def __init__(
        self,
        *,
        services: Services,
        uow: SqlAlchemyUnitOfWork,
        request_id: str,
        client_ip: str | None = None,
        principal: Principal | None = None,
        auth_error: DomainError | None = None,
        batch_loads: bool = True,
        check_permissions: bool = True,
    ) -> None:
        super().__init__()
        self.services = services
        self.settings = services.settings
        self.uow = uow
        self.request_id = request_id
        self.client_ip = client_ip
        self.principal = principal
        # Why a presented token was refused; reported only where a field needs a caller.
        self.auth_error = auth_error
        # The user a login or refresh in this request just opened a session for.
        self.session_user_id: int | None = None
        self.loaders = Loaders(uow, batch=batch_loads)
        # False only in the benchmark's RBAC-off app (graph/features.py).
        self.check_permissions = check_permissions


Info = _Info[Context, None]


def context_of(info: Info) -> Context:
    """The request's context, typed."""
    return info.context
