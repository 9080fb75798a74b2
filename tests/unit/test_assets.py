"""The pinned browser files: the fetch script's checks, the catalogue the server reads, and
what the pages say when the files are missing."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import re
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import structlog

from config.settings import Settings
from graph.features import Features
from graph.pages.assets import MANIFEST, AssetCatalogue
from graph.pages.playground import EXAMPLES, example_tabs, playground_page
from graph.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_assets", ROOT / "scripts" / "assets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()


def _sri(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    """An npm-style tarball: every file under `package/`."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def package(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A tarball and its manifest entry, with the hashes right."""
    files = {"dist/lib.js": b"console.log('pinned');", "LICENSE": b"MIT"}
    tarball = _tarball(tmp_path / "lib-1.0.0.tgz", {**files, "README.md": b"not served"})
    entry = {
        "name": "@scope/lib",
        "version": "1.0.0",
        "integrity": _sri("sha512", tarball.read_bytes()),
        "files": {name: _sri("sha384", data) for name, data in files.items()},
    }
    return tarball, entry


# ---------------------------------------------------------------- scripts/assets.py


def test_given_a_tarball_matching_the_manifest_when_unpacked_then_only_listed_files_land(
    tmp_path: Path, package: tuple[Path, dict[str, Any]]
) -> None:
    tarball, entry = package
    script.unpack(tarball, entry, tmp_path / "assets")
    folder = tmp_path / "assets" / "@scope" / "lib@1.0.0"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["LICENSE", "lib.js"]
    assert script.is_installed(tmp_path / "assets", entry)


def test_given_a_tarball_with_another_integrity_when_unpacked_then_it_is_refused(
    tmp_path: Path, package: tuple[Path, dict[str, Any]]
) -> None:
    tarball, entry = package
    tampered = _tarball(tmp_path / "evil.tgz", {"dist/lib.js": b"steal()", "LICENSE": b"MIT"})
    with pytest.raises(script.AssetError, match="integrity"):
        script.unpack(tampered, entry, tmp_path / "assets")
    assert not (tmp_path / "assets").exists()
    # The recorded integrity still admits the genuine tarball.
    script.unpack(tarball, entry, tmp_path / "assets")


def test_given_a_file_that_differs_from_its_pin_when_unpacked_then_it_is_refused(
    tmp_path: Path, package: tuple[Path, dict[str, Any]]
) -> None:
    tarball, entry = package
    entry["files"]["dist/lib.js"] = _sri("sha384", b"something else")
    with pytest.raises(script.AssetError, match=r"dist/lib\.js"):
        script.unpack(tarball, entry, tmp_path / "assets")


def test_given_an_installed_file_changed_on_disk_when_checked_then_it_is_not_installed(
    tmp_path: Path, package: tuple[Path, dict[str, Any]]
) -> None:
    tarball, entry = package
    script.unpack(tarball, entry, tmp_path / "assets")
    (tmp_path / "assets" / "@scope" / "lib@1.0.0" / "dist" / "lib.js").write_text("changed")
    assert not script.is_installed(tmp_path / "assets", entry)


def test_given_the_committed_manifest_when_read_then_every_package_is_pinned_with_hashes() -> None:
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for package in manifest["packages"]:
        assert package["version"][0].isdigit(), package["name"]  # exact, not a range
        assert package["integrity"].startswith("sha512-"), package["name"]
        assert package["files"]
        assert all(value.startswith("sha384-") for value in package["files"].values())


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
    schema = build_schema(Settings(environment="test", _env_file=None), Features())  # type: ignore[call-arg]
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
    schema = build_schema(Settings(environment="test", _env_file=None), Features())  # type: ignore[call-arg]
    (tmp_path / "1-good.graphql").write_text("query Good { me { email } }")
    (tmp_path / "2-later.graphql").write_text("subscription Later { notServedYet { id } }")
    tabs = example_tabs(schema._schema, tmp_path)
    assert [tab["query"] for tab in tabs] == ["query Good { me { email } }"]
