"""The pinned browser files: the checks of the fetch script (scripts/assets.py) and the
committed manifest. What the server makes of the files is tested in
tests/integration/test_pages_assets.py (the pages package imports FastAPI)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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
    manifest = json.loads(script.MANIFEST.read_text(encoding="utf-8"))
    for package in manifest["packages"]:
        assert package["version"][0].isdigit(), package["name"]  # exact, not a range
        assert package["integrity"].startswith("sha512-"), package["name"]
        assert package["files"]
        assert all(value.startswith("sha384-") for value in package["files"].values())
