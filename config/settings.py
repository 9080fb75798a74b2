"""The one settings object: read from the environment and `.env`, once."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "test", "production"]
LogFormat = Literal["json", "console"]
TrustedDocumentsMode = Literal["off", "allowed", "required"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/app.db"
# Development-only defaults. Production refuses to start (or seed) with any of them.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-0123456789"  # noqa: S105
DEV_SUPERUSER_PASSWORD = "admin-dev-password"  # noqa: S105
DEV_DEMO_PASSWORD = "demo-dev-password"  # noqa: S105
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Every tunable of the server; names match the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `NAME=` with nothing after it means "use the default", as in .env.example.
        env_ignore_empty=True,
    )

    environment: Environment = "development"

    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    database_pool_recycle_seconds: int = Field(default=1800, ge=-1)

    log_format: LogFormat | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    graphiql_enabled: bool | None = None

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_algorithm: Literal["HS256", "RS256", "EdDSA"] = "HS256"
    jwt_private_key: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str = "taskgraph"
    jwt_audience: str = "taskgraph-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=14 * 86_400, ge=300, le=365 * 86_400)

    redis_url: str | None = None
    login_max_failures_per_email: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)

    # GraphQL limits, enforced before execution (docs/SECURITY.md).
    graphql_max_depth: int = Field(default=10, ge=1, le=100)
    graphql_max_aliases: int = Field(default=30, ge=1, le=1000)
    graphql_max_tokens: int = Field(default=2000, ge=10, le=100_000)
    graphql_max_document_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    graphql_max_directives: int = Field(default=50, ge=0, le=1000)
    graphql_max_cost: int = Field(default=5000, ge=1)
    graphql_list_cost_estimate: int = Field(default=3, ge=1, le=100)
    graphql_max_batch: int = Field(default=0, ge=0, le=100)
    graphql_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    graphql_get_queries: bool = False
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    # Persisted operations (docs/PERSISTED_QUERIES.md): Apollo's automatic persisted queries,
    # the trusted-documents list, and how long a CDN may keep an anonymous persisted GET.
    graphql_persisted_queries: bool = True
    graphql_persisted_queries_cache_size: int = Field(default=1000, ge=1, le=1_000_000)
    graphql_trusted_documents: TrustedDocumentsMode = "off"
    graphql_public_max_age_seconds: int = Field(default=60, ge=0, le=86_400)

    # Per-caller token buckets (per user, or per IP when anonymous).
    rate_limit_requests_per_minute: int = Field(default=600, ge=1)
    rate_limit_cost_per_minute: int = Field(default=50_000, ge=1)

    # PostgreSQL server-side guards on every pooled connection.
    database_statement_timeout_ms: int = Field(default=10_000, ge=0)
    database_lock_timeout_ms: int = Field(default=5_000, ge=0)
    database_idle_in_transaction_timeout_ms: int = Field(default=30_000, ge=0)

    # Audit: variables are logged only on request, and then with secrets redacted.
    audit_log_variables: bool = False
    audit_retention_days: int = Field(default=365, ge=1)

    # Subscriptions over WebSocket (docs/REALTIME.md).
    subscription_max_per_connection: int = Field(default=20, ge=1, le=1000)
    subscription_max_per_user: int = Field(default=100, ge=1, le=100_000)
    subscription_queue_size: int = Field(default=1000, ge=10, le=1_000_000)
    subscription_catch_up_seconds: float = Field(default=5.0, gt=0, le=3600)
    subscription_connection_init_seconds: float = Field(default=10.0, gt=0, le=300)
    # What carries commit notifications between instances: PostgreSQL NOTIFY, or Redis
    # pub/sub (needs REDIS_URL).
    subscription_broker: Literal["postgres", "redis"] = "postgres"

    # On SIGTERM, serve this long with readiness 503 before stopping (none in development).
    shutdown_drain_seconds: float = Field(default=5, ge=0, le=300)

    # Observability (docs/OPERATIONS.md). /metrics is served only with a token in production.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    metrics_max_operation_names: int = Field(default=200, ge=1, le=10_000)
    # Read by prometheus-client itself at import too: set it in the environment, not `.env`.
    prometheus_multiproc_dir: str | None = None
    # Traces are exported (OTLP over HTTP) only when the endpoint is set.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "taskgraph"

    seed_superuser_email: str = "admin@example.com"
    seed_superuser_password: SecretStr = SecretStr(DEV_SUPERUSER_PASSWORD)
    seed_demo_password: SecretStr = SecretStr(DEV_DEMO_PASSWORD)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # A comma-separated list reads better in `.env` than a JSON array.
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_redis_broker_without_redis(self) -> Settings:
        if self.subscription_broker == "redis" and not self.redis_url:
            raise ValueError("SUBSCRIPTION_BROKER=redis needs REDIS_URL")
        return self

    @model_validator(mode="after")
    def _refuse_weak_production_secrets(self) -> Settings:
        # Production must never run on a secret anyone can read in this repository.
        if self.jwt_algorithm != "HS256" and (
            self.jwt_private_key is None or self.jwt_public_key is None
        ):
            raise ValueError("JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are required for RS256/EdDSA")
        if not self.is_production:
            return self
        if self.jwt_algorithm == "HS256":
            secret = self.jwt_secret.get_secret_value()
            if secret == DEV_JWT_SECRET or len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_BYTES}"
                    " bytes when ENVIRONMENT=production"
                )
        return self

    @property
    def is_production(self) -> bool:
        """Whether the strict production defaults apply."""
        return self.environment == "production"

    @property
    def effective_log_format(self) -> LogFormat:
        """JSON in production, coloured console output elsewhere, unless set."""
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "console"

    @property
    def is_graphiql_enabled(self) -> bool:
        """GraphiQL is on in development and test, off in production unless asked."""
        if self.graphiql_enabled is not None:
            return self.graphiql_enabled
        return not self.is_production


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
