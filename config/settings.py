"""The one settings object: read from the environment and `.env`, once."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "test", "production"]
LogFormat = Literal["json", "console"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/app.db"


class Settings(BaseSettings):
    """Every tunable of the server; names match the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # A comma-separated list reads better in `.env` than a JSON array.
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

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

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (embedded, single machine)."""
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
