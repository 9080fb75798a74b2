"""The typed per-request context: settings, unit of work, loaders and request id."""

from __future__ import annotations

from strawberry.fastapi import BaseContext
from strawberry.types import Info as _Info

from config.settings import Settings
from graph.dataloaders import Loaders
from persistence.unit_of_work import SqlAlchemyUnitOfWork


class Context(BaseContext):
    """What every resolver may use; built by `create_app`'s context getter."""

    def __init__(self, *, settings: Settings, uow: SqlAlchemyUnitOfWork, request_id: str) -> None:
        super().__init__()
        self.settings = settings
        self.uow = uow
        self.request_id = request_id
        self.loaders = Loaders(uow)


Info = _Info[Context, None]


def context_of(info: Info) -> Context:
    """The request's context, typed."""
    return info.context
