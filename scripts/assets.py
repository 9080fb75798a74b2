#!/usr/bin/env python3
"""Fetch the browser files the app serves (GraphiQL, Swagger UI, ReDoc) into var/assets/.

Every package named in graph/pages/assets.json is downloaded from the npm registry at its
pinned version. Its tarball must match the npm `integrity` (SHA-512) recorded there, and only the
files listed there are unpacked, each checked against its own SHA-384 (the hash the pages
also send as Subresource Integrity, so the browser checks it again). Nothing in a package
is executed. A re-run fetches only what is missing or damaged, so it is quick.

    python3 scripts/assets.py           fetch what is missing, verify everything
    python3 scripts/assets.py --check   verify only, without the network; exit 1 if not all there
    python3 scripts/assets.py --pin     maintainers, after changing a version: record its hashes

Standard library only: it runs before the project is installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "graph" / "pages" / "assets.json"
TARGET = ROOT / "var" / "assets"
DEFAULT_REGISTRY = "https://registry.npmjs.org"


class AssetError(Exception):
    """A package could not be fetched, or did not match its recorded hashes."""


def sri(algorithm: str, data: bytes) -> str:
    """A Subresource Integrity string, `sha384-<base64>`."""
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def package_dir(target: Path, package: dict[str, Any]) -> Path:
    """Where a package's files live: `var/assets/<name>@<version>/`."""
    return target / f"{package['name']}@{package['version']}"


def is_installed(target: Path, package: dict[str, Any]) -> bool:
    """Every listed file is there with its recorded hash."""
    folder = package_dir(target, package)
    for path, integrity in package["files"].items():
        file = folder / path
        if not file.is_file() or sri("sha384", file.read_bytes()) != integrity:
            return False
    return True


def download(name: str, version: str, into: Path) -> Path:
    """Download one package tarball from the npm registry over HTTPS (no Node.js needed).

    The registry is `NPM_CONFIG_REGISTRY` when set (a company mirror), else npm's own.
    """
    registry = os.environ.get("NPM_CONFIG_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    basename = name.rsplit("/", 1)[-1]
    url = f"{registry}/{name}/-/{basename}-{version}.tgz"
    if not url.startswith("https://"):
        raise AssetError(f"refusing a registry that is not HTTPS: {registry}")
    tarball = into / f"{basename}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https only
            tarball.write_bytes(response.read())
    except OSError as error:
        raise AssetError(f"could not download {url}: {error}") from error
    return tarball


def read_files(tarball: Path, paths: list[str]) -> dict[str, bytes]:
    """The listed regular files of a package tarball (its top folder stripped)."""
    found: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            _, _, path = member.name.partition("/")
            if path in paths and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    found[path] = extracted.read()
    missing = sorted(set(paths) - set(found))
    if missing:
        raise AssetError(f"{tarball.name} has no {', '.join(missing)}")
    return found


def unpack(tarball: Path, package: dict[str, Any], target: Path) -> None:
    """Check the tarball and each listed file against the manifest, then install them."""
    name = f"{package['name']}@{package['version']}"
    actual = sri("sha512", tarball.read_bytes())
    if actual != package["integrity"]:
        raise AssetError(f"{name}: tarball integrity {actual} != recorded {package['integrity']}")
    files = read_files(tarball, list(package["files"]))
    for path, data in files.items():
        if sri("sha384", data) != package["files"][path]:
            raise AssetError(f"{name}: {path} does not match its recorded SHA-384")
    folder = package_dir(target, package)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for path, data in files.items():
        (staging / path).parent.mkdir(parents=True, exist_ok=True)
        (staging / path).write_bytes(data)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def fetch(manifest: dict[str, Any], target: Path) -> None:
    """Install every package that is not already there intact."""
    for package in manifest["packages"]:
        name = f"{package['name']}@{package['version']}"
        if is_installed(target, package):
            continue
        with tempfile.TemporaryDirectory() as scratch:
            unpack(download(package["name"], package["version"], Path(scratch)), package, target)
        print(f"assets: installed {name} into {package_dir(target, package)}")


def pin(manifest: dict[str, Any]) -> None:
    """Record the integrity of each package's tarball and the SHA-384 of each listed file."""
    for package in manifest["packages"]:
        name = f"{package['name']}@{package['version']}"
        with tempfile.TemporaryDirectory() as scratch:
            tarball = download(package["name"], package["version"], Path(scratch))
            package["integrity"] = sri("sha512", tarball.read_bytes())
            files = read_files(tarball, list(package["files"]))
        package["files"] = {path: sri("sha384", files[path]) for path in package["files"]}
        print(f"assets: pinned {name} {package['integrity']}")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Fetch, check or pin the assets; 0 when every file is in place."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify only; no network")
    mode.add_argument("--pin", action="store_true", help="record the hashes of the versions")
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    try:
        if args.pin:
            pin(manifest)
            return 0
        if not args.check:
            fetch(manifest, TARGET)
    except AssetError as error:
        print(f"assets: {error}", file=sys.stderr)
        return 1
    missing = [p["name"] for p in manifest["packages"] if not is_installed(TARGET, p)]
    if missing:
        print(f"assets: missing or damaged: {', '.join(missing)}", file=sys.stderr)
        print("assets: run python3 scripts/assets.py to fetch them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
