"""Builds the shared collaborators from the settings (part of the composition root)."""

from __future__ import annotations

from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.admin import UserAdmin
from auth.passwords import PasswordHasher
from auth.service import AuthService
from auth.throttle import (
    FailureCounter,
    LoginThrottle,
    MemoryFailureCounter,
    RedisFailureCounter,
    ThrottlePolicy,
)
from auth.tokens import TokenCodec, TokenConfig
from config.settings import Settings
from graph.context import Services
from graph.dataloaders import LoaderFactory
from graph.persisted.operations import PersistedOperations
from graph.persisted.stores import CachedTrustedDocuments, DocumentStore, MemoryDocumentStore
from graph.ports import UnitOfWorkFactory
from graph.ratelimit import BucketStore, MemoryBucketStore, RateLimiter
from graph.subscriptions.connection import Realtime
from persistence.redis_stores import RedisBucketStore, RedisDocumentStore
from persistence.trusted_documents import SqlTrustedDocuments
from realtime.brokers import listener_for
from realtime.hub import ChangeHub
from realtime.notify import listen_locally


def token_config(settings: Settings) -> TokenConfig:
    """Signing and checking keys: the shared secret for HS256, a key pair otherwise."""
    if settings.jwt_algorithm == "HS256":
        secret = settings.jwt_secret.get_secret_value()
        signing, verifying = secret, secret
    else:
        private = settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else ""
        signing, verifying = private, settings.jwt_public_key or ""
    return TokenConfig(
        algorithm=settings.jwt_algorithm,
        signing_key=signing,
        verifying_key=verifying,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl_seconds=settings.access_token_ttl_seconds,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
    )


def build_services(settings: Settings) -> Services:
    """Hasher, token codec, throttle and rate limiter (in Redis when REDIS_URL is set), auth."""
    hasher = PasswordHasher()
    counter: FailureCounter = (
        RedisFailureCounter(settings.redis_url) if settings.redis_url else MemoryFailureCounter()
    )
    throttle = LoginThrottle(
        counter,
        ThrottlePolicy(
            max_per_email=settings.login_max_failures_per_email,
            max_per_ip=settings.login_max_failures_per_ip,
            window_seconds=settings.login_failure_window_seconds,
        ),
    )
    auth = AuthService(codec=TokenCodec(token_config(settings)), hasher=hasher, throttle=throttle)
    buckets: BucketStore = (
        RedisBucketStore(settings.redis_url) if settings.redis_url else MemoryBucketStore()
    )
    limiter = RateLimiter(
        buckets,
        requests_per_minute=settings.rate_limit_requests_per_minute,
        cost_per_minute=settings.rate_limit_cost_per_minute,
    )
    return Services(settings=settings, auth=auth, admin=UserAdmin(hasher), limiter=limiter)


def build_persisted_operations(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> PersistedOperations:
    """Automatic persisted queries (in Redis when REDIS_URL is set) and trusted documents."""
    size = settings.graphql_persisted_queries_cache_size
    cache: DocumentStore = (
        RedisDocumentStore(settings.redis_url) if settings.redis_url else MemoryDocumentStore(size)
    )
    trusted = None
    if settings.graphql_trusted_documents != "off":
        trusted = CachedTrustedDocuments(SqlTrustedDocuments(session_factory), max_entries=size)
    return PersistedOperations(
        cache=cache,
        trusted=trusted,
        automatic=settings.graphql_persisted_queries,
        trusted_mode=settings.graphql_trusted_documents,
    )


def build_realtime(
    settings: Settings,
    engine: AsyncEngine,
    unit_of_work: UnitOfWorkFactory,
    auth: AuthService,
    *,
    loaders: LoaderFactory,
) -> Realtime:
    """Subscriptions on `engine`: the change hub, this process's commit notifications and,
    the broker listener that hears every other instance's (docs/REALTIME.md)."""
    return Realtime(
        settings,
        hub=ChangeHub(engine, catch_up_seconds=settings.subscription_catch_up_seconds),
        listen_locally=partial(listen_locally, engine.sync_engine),
        listener=listener_for(
            settings, engine.dialect.name, partial(listen_locally, engine.sync_engine)
        ),
        unit_of_work=unit_of_work,
        auth=auth,
        loaders=loaders,
    )
