"""Settings: parsing and the environment-dependent defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.settings import DEFAULT_DATABASE_URL, DEV_JWT_SECRET, Settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_given_no_environment_when_read_then_development_defaults_apply() -> None:
    settings = _settings()
    assert settings.environment == "development"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.effective_log_format == "console"
    assert settings.is_graphiql_enabled


STRONG_SECRET = "k" * 40


def test_given_production_when_read_then_json_logs_and_no_graphiql() -> None:
    settings = _settings(environment="production", jwt_secret=STRONG_SECRET)
    assert settings.effective_log_format == "json"
    assert not settings.is_graphiql_enabled
    assert _settings(
        environment="production", jwt_secret=STRONG_SECRET, graphiql_enabled=True
    ).is_graphiql_enabled


@pytest.mark.parametrize("secret", [None, "short-secret", "x" * 31])
def test_given_production_when_the_jwt_secret_is_default_or_short_then_start_is_refused(
    secret: str | None,
) -> None:
    values: dict[str, object] = {"environment": "production"}
    if secret is not None:
        values["jwt_secret"] = secret
    with pytest.raises(ValueError, match="JWT_SECRET"):
        _settings(**values)


def test_given_production_with_rs256_when_keys_are_missing_then_start_is_refused() -> None:
    with pytest.raises(ValueError, match="JWT_PRIVATE_KEY"):
        _settings(environment="production", jwt_algorithm="RS256")


def test_given_secrets_when_settings_are_printed_then_they_do_not_show() -> None:
    settings = _settings(jwt_secret=STRONG_SECRET)
    assert STRONG_SECRET not in repr(settings)
    assert STRONG_SECRET not in str(settings.model_dump())


def test_given_comma_separated_origins_when_read_then_they_are_split() -> None:
    settings = _settings(cors_origins="https://a.example, https://b.example,")
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_given_environment_variables_when_read_then_they_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("DATABASE_ECHO", "true")
    monkeypatch.setenv("CORS_ORIGINS", "https://x.example")
    settings = _settings()
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.database_echo is True
    assert settings.cors_origins == ["https://x.example"]


def test_given_an_unknown_environment_when_read_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="environment"):
        _settings(environment="staging")


def test_given_the_example_env_file_when_compared_then_it_names_every_setting() -> None:
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    names = set(re.findall(r"^([A-Z_]+)=", text, re.MULTILINE))
    assert names == {name.upper() for name in Settings.model_fields}


def test_given_empty_variables_when_read_then_defaults_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_SECRET", "")
    monkeypatch.setenv("GRAPHQL_MAX_DEPTH", "")
    settings = _settings()
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert settings.graphql_max_depth == 10
