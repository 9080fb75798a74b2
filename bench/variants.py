"""The benchmark's app variants, assembled from the collaborators `create_app` takes.

The product has no switch for any of this: each variant hands the product's own composition
root (graph/app.py) other collaborators, all of them defined here.

- **naive**: loaders that do not batch, so every parent object costs its own statements
  (N+1). Prefetching stays, and is moot: it loads through the same loaders, one statement
  per parent, the same statements the fields would run.
- **features-off**: no RBAC, audit, limits or error mapping. The schema's fields carry no
  permission classes and every authenticated caller holds every permission; sessions record
  no changes and no request gets an access record; no limit, rate limit or error mapping
  extension runs.
- **limits-off**: the product without the limit extensions (depth, aliases, tokens, size,
  directives, cost) and the rate limits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TypedDict

from aiodataloader import DataLoader
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from strawberry.permission import PermissionExtension
from strawberry.types.base import StrawberryObjectDefinition

from auth.ports import IdentityUnitOfWork
from auth.rbac import Action, Module, Principal
from auth.service import AuthService
from config.settings import Settings
from graph.app import AccessLogFactory, PlannerFactory, SessionFactory
from graph.context import Services
from graph.dataloaders import LoaderFactory, Loaders
from graph.ports import RequestUnitOfWork
from graph.schema import (
    ExtensionFactory,
    Schema,
    SchemaFactory,
    assemble_schema,
    build_schema,
    product_extensions,
)
from graph.wiring import build_services
from persistence.database import create_session_factory

EVERY_PERMISSION = frozenset(itertools.product(Module, Action))


class Collaborators(TypedDict, total=False):
    """The `create_app` arguments a variant replaces; the rest stay the product's."""

    services: Services
    schema: SchemaFactory
    loaders: LoaderFactory
    sessions: SessionFactory
    access_log: AccessLogFactory | None
    planner: PlannerFactory | None


# ---------------------------------------------------------------- naive


def unbatched_loaders(uow: RequestUnitOfWork) -> Loaders:
    """The product's loaders, each running one statement per key it is asked for."""
    loaders = Loaders(uow)
    for loader in vars(loaders).values():
        if isinstance(loader, DataLoader):
            loader.batch = False
    return loaders


# ---------------------------------------------------------------- RBAC off


class EveryPermissionAuth(AuthService):
    """The product's authentication, whose callers hold every permission."""

    async def authenticate(self, uow: IdentityUnitOfWork, token: str) -> Principal:
        """The token's caller, as the product finds them, granted everything."""
        principal = await super().authenticate(uow, token)
        return replace(principal, permissions=EVERY_PERMISSION)


def every_permission_services(settings: Settings) -> Services:
    """The product's services, with authentication that grants every permission."""
    services = build_services(settings)
    auth = services.auth
    return replace(
        services,
        auth=EveryPermissionAuth(codec=auth.codec, hasher=auth.hasher, throttle=auth.throttle),
    )


@contextmanager
def permissions_stripped(schema: Schema) -> Iterator[None]:
    """While open, no field of `schema`'s types carries a permission extension.

    Strawberry bakes field extensions into the resolvers when a schema is built, so a schema
    built inside this block checks no permissions; the fields get theirs back on exit.
    """
    saved = []
    for concrete in schema.schema_converter.type_map.values():
        if not isinstance(concrete.definition, StrawberryObjectDefinition):
            continue
        for field in concrete.definition.fields:
            kept = [e for e in field.extensions if not isinstance(e, PermissionExtension)]
            if len(kept) != len(field.extensions):
                saved.append((field, field.extensions))
                field.extensions = kept
    try:
        yield
    finally:
        for field, extensions in saved:
            field.extensions = extensions


# ---------------------------------------------------------------- audit, masking off


def unaudited_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The product's sessions without the change capture (plain SQLAlchemy sessions)."""
    return create_session_factory(engine, session_class=Session)


class UnmappedSchema(Schema):
    """The product's schema handing errors out as graphql-core made them: no codes, no
    request ids, nothing masked."""

    def final_errors(
        self, errors: list[GraphQLError], request_id: str | None
    ) -> list[GraphQLError]:
        """The errors as they are."""
        return errors


# ---------------------------------------------------------------- the schemas


def limits_off_schema(settings: Settings, *, observers: Sequence[ExtensionFactory] = ()) -> Schema:
    """The product's schema without the limit and rate limit extensions."""
    extensions = product_extensions(settings, observers=observers)
    return assemble_schema(settings, replace(extensions, parse_limits=(), operation_limits=()))


def features_off_schema(
    settings: Settings, *, observers: Sequence[ExtensionFactory] = ()
) -> Schema:
    """The product's schema without permission classes, access log, limits or error mapping;
    the observers (metrics) stay, as in every variant."""
    extensions = replace(
        product_extensions(settings, observers=observers),
        access_log=(),
        parse_limits=(),
        error_mapping=(),
        operation_limits=(),
    )
    with permissions_stripped(build_schema(settings)):
        return assemble_schema(settings, extensions, schema_class=UnmappedSchema)


# ---------------------------------------------------------------- the variants


def naive(_settings: Settings) -> Collaborators:
    """Batching off: one statement per parent object (N+1), through the general executor (the
    compiled read path would batch regardless of the loaders)."""
    return {"loaders": unbatched_loaders, "planner": None}


def features_off(settings: Settings) -> Collaborators:
    """RBAC, audit, limits and error mapping off; batching on."""
    return {
        "services": every_permission_services(settings),
        "schema": features_off_schema,
        "sessions": unaudited_sessions,
        "access_log": None,
    }


def limits_off(_settings: Settings) -> Collaborators:
    """Only the limits off: depth, aliases, tokens, size, directives, cost and rate limits."""
    return {"schema": limits_off_schema}
