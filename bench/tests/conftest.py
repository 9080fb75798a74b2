"""The benchmark's tests use the product tests' fixtures: the run's own database and engine,
tables emptied after each test, the statement counter and the seeded superuser."""

from tests.conftest import (  # noqa: F401 - fixtures, found by pytest by name
    _clean_tables,
    database_url,
    engine,
    password_hash,
    settings,
    statements,
    superuser_id,
)
