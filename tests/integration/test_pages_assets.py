"""The pinned browser files as the server sees them: the catalogue it checks at startup,
what the playground says when files are missing, and the example tabs it builds from the
served schema. The fetch script's own checks are unit tests (tests/unit/test_assets.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import structlog

from config.settings import Settings
from graph.pages.assets import AssetCatalogue
from graph.pages.playground import EXAMPLES, example_tabs, playground_page
from graph.schema import build_schema

# ---------------------------------------------------------------- the server's catalogue


def test_given_no_files_installed_when_the_catalogue_checks_then_each_is_reported(
    tmp_path: Path,
) -> None:
    catalogue = AssetCatalogue(directory=tmp_path)
    graphiql = catalogue.get("graphiql", "graphiql.min.js")
    assert catalogue.problems[graphiql.relative_path] == "missing"
    assert catalogue.unusable(graphiql) == ["graphiql@3.9.0/graphiql.min.js"]
    with structlog.testing.capture_logs() as logs:
        catalogue.report()
    assert logs[0]["log_level"] == "warning"
    assert "browser assets missing" in logs[0]["event"]
    assert logs[0]["fix"] == "run python3 scripts/assets.py"


def test_given_a_damaged_file_when_the_catalogue_checks_then_it_is_reported(
    tmp_path: Path,
) -> None:
    catalogue = AssetCatalogue(directory=tmp_path)
    react = catalogue.get("react", "umd/react.production.min.js")
    (tmp_path / react.relative_path).parent.mkdir(parents=True)
    (tmp_path / react.relative_path).write_text("window.React = evil;")
    assert "SHA-384" in catalogue.problems[react.relative_path]


def test_given_missing_files_when_the_playground_is_built_then_it_says_so_and_loads_nothing(
    tmp_path: Path,
) -> None:
    page = playground_page(AssetCatalogue(directory=tmp_path), [], nav="", show_demo_accounts=False)
    assert "The GraphiQL playground cannot load" in page
    assert "python3 scripts/assets.py" in page
    assert "graphiql@3.9.0/graphiql.min.js" in page  # named in the notice
    assert '<script src="/assets/' not in page
    assert 'href="/assets/' not in page


# ---------------------------------------------------------------- example tabs


def _operation_name(document: str) -> str:
    found = re.search(r"^(?:query|mutation|subscription) (\w+)", document, re.MULTILINE)
    assert found is not None
    return found[1]


def test_given_the_served_schema_when_tabs_are_built_then_every_example_is_valid() -> None:
    schema = build_schema(Settings(environment="test", _env_file=None))  # type: ignore[call-arg]
    tabs = example_tabs(schema._schema)
    examples = sorted(EXAMPLES.glob("*.graphql"))
    assert [tab["query"] for tab in tabs] == [f.read_text(encoding="utf-8") for f in examples]
    names = [_operation_name(tab["query"]) for tab in tabs]
    assert {"Products", "CustomersWithTasks", "CreateProduct", "AuditTrail"} <= set(names)
    create = next(tab for tab in tabs if "CreateProduct" in tab["query"])
    assert json.loads(create["variables"])["input"]["sku"]


def test_given_an_example_the_schema_refuses_when_tabs_are_built_then_it_is_left_out(
    tmp_path: Path,
) -> None:
    schema = build_schema(Settings(environment="test", _env_file=None))  # type: ignore[call-arg]
    (tmp_path / "1-good.graphql").write_text("query Good { me { email } }")
    (tmp_path / "2-later.graphql").write_text("subscription Later { notServedYet { id } }")
    tabs = example_tabs(schema._schema, tmp_path)
    assert [tab["query"] for tab in tabs] == ["query Good { me { email } }"]
