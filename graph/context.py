"""The typed per-request context: settings, unit of work, loaders, caller and request id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from strawberry.fastapi import BaseContext
from strawberry.types import Info as _Info

from auth.admin import UserAdmin
from auth.rbac import Principal
from auth.service import AuthService
from config.settings import Settings
from domain.errors import DomainError
from graph.dataloaders import Loaders
from graph.ports import RequestUnitOfWork
from graph.ratelimit import RateLimiter

if TYPE_CHECKING:
    from graph.compiled.plan import Planner
    from graph.ports import CompiledReads


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
        uow: RequestUnitOfWork,
        loaders: Loaders | Callable[[], Loaders],
        request_id: str,
        client_ip: str | None = None,
        principal: Principal | None = None,
        auth_error: DomainError | None = None,
        planner: Planner | None = None,
        reads: CompiledReads | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.settings = services.settings
        self.uow = uow
        # Built for this request alone, so no cache outlives it; given as a factory, on
        # first use (an operation that loads nothing pays for none).
        self._loaders = loaders if isinstance(loaders, Loaders) else None
        self._make_loaders = None if isinstance(loaders, Loaders) else loaders
        self.request_id = request_id
        self.client_ip = client_ip
        self.principal = principal
        # Why a presented token was refused; reported only where a field needs a caller.
        self.auth_error = auth_error
        # The compiled read path (graph/compiled/): plans shared by the app, this request's
        # statements. Without both, every operation takes the general executor.
        self.planner = planner
        self.reads = reads
        # The user a login or refresh in this request just opened a session for.
        self.session_user_id: int | None = None

    @property
    def loaders(self) -> Loaders:
        """This request's loaders."""
        if self._loaders is None:
            assert self._make_loaders is not None  # one of the two is always set
            self._loaders = self._make_loaders()
        return self._loaders


Info = _Info[Context, None]


def context_of(info: Info) -> Context:
    """The request's context, typed."""
    return info.context
