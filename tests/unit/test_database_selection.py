"""CI's PostgreSQL pass runs only the tests marked `database` (`pytest -m database`), which
tests/conftest.py marks from what each test uses. A database test left unmarked would
silently never run on PostgreSQL, so the rule is held here, and on this module's own tests.
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from tests.conftest import DATABASE_CHOICE, touches_database

PURE = "tests/unit/test_rule.py"


@pytest.mark.parametrize("path", ["tests/integration/test_x.py", "tests/e2e/test_x.py"])
def test_given_a_test_on_a_database_floor_when_classified_then_it_touches_a_database(
    path: str,
) -> None:
    assert touches_database(path, ["tmp_path"], [], "")


def test_given_a_fixture_built_on_the_database_url_when_classified_then_it_touches_one() -> None:
    # pytest lists the whole closure: `engine` brings `settings` and `database_url` with it.
    assert touches_database(PURE, ["engine", "settings", "database_url"], [], "")


def test_given_a_postgres_only_test_when_classified_then_it_touches_a_database() -> None:
    assert touches_database(PURE, [], ["postgres_only"], "")


@pytest.mark.parametrize("name", DATABASE_CHOICE)
def test_given_a_module_reading_the_database_choice_when_classified_then_it_touches_one(
    name: str,
) -> None:
    source = f"from tests.conftest import {name}\n"

    assert touches_database("bench/tests/test_x.py", [], [], source)


def test_given_a_pure_test_with_a_fake_unit_of_work_when_classified_then_it_does_not() -> None:
    # A local `uow` fixture (a fake) shadows the real one and brings no database along.
    assert not touches_database(PURE, ["uow", "tmp_path"], ["asyncio"], "import pytest\n")


async def test_given_this_test_needs_the_settings_fixture_then_collection_marked_it_database(
    request: pytest.FixtureRequest, settings: Settings
) -> None:
    assert settings.database_url
    assert request.node.get_closest_marker("database") is not None


def test_given_this_test_needs_no_database_then_collection_left_it_unmarked(
    request: pytest.FixtureRequest,
) -> None:
    assert request.node.get_closest_marker("database") is None
