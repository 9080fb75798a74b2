"""Builds the shared collaborators from the settings (part of the composition root)."""

from __future__ import annotations

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
from graph.ratelimit import BucketStore, MemoryBucketStore, RateLimiter, RedisBucketStore


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
