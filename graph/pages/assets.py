"""The third-party browser files (GraphiQL, Swagger UI, ReDoc) the pages load from this app.

`assets.json` beside this module pins each npm package's version, its tarball's integrity
and the SHA-384 of every file served; `scripts/assets.py` fetches them into `var/assets/`.
They are not committed. When some are missing or damaged, the server logs it once and the
pages that need them say so instead of loading.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache, cached_property
from html import escape
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).with_name("assets.json")
ASSETS_DIR = ROOT / "var" / "assets"
URL_PREFIX = "/assets"
FETCH_COMMAND = "python3 scripts/assets.py"

log = structlog.get_logger("graph.pages")


@dataclass(frozen=True)
class Asset:
    """One served file of a pinned package."""

    package: str
    version: str
    path: str
    integrity: str

    @property
    def relative_path(self) -> str:
        """Its place under `var/assets/`, which is also its URL under `/assets/`."""
        return f"{self.package}@{self.version}/{self.path}"

    @property
    def url(self) -> str:
        """Where the app serves it."""
        return f"{URL_PREFIX}/{self.relative_path}"


class AssetCatalogue:
    """The pinned files, where they are on disk, and which of them are unusable."""

    def __init__(self, manifest: Path = MANIFEST, directory: Path = ASSETS_DIR) -> None:
        self.directory = directory
        packages = json.loads(manifest.read_text(encoding="utf-8"))["packages"]
        self._assets = {
            (package["name"], path): Asset(package["name"], package["version"], path, integrity)
            for package in packages
            for path, integrity in package["files"].items()
        }

    def get(self, package: str, path: str) -> Asset:
        """A file the manifest lists; KeyError for anything else."""
        return self._assets[(package, path)]

    @cached_property
    def problems(self) -> dict[str, str]:
        """Each missing or damaged file and what is wrong with it; checked once."""
        found: dict[str, str] = {}
        for asset in self._assets.values():
            file = self.directory / asset.relative_path
            if not file.is_file():
                found[asset.relative_path] = "missing"
            elif _sri(file.read_bytes()) != asset.integrity:
                found[asset.relative_path] = "does not match its recorded SHA-384"
        return found

    def unusable(self, *assets: Asset) -> list[str]:
        """Those of `assets` that cannot be served as pinned."""
        return [a.relative_path for a in assets if a.relative_path in self.problems]

    def report(self) -> None:
        """Log, once per catalogue, the files that are missing or damaged."""
        if self.problems:
            log.warning(
                "browser assets missing: GraphiQL and the API docs will not load",
                directory=str(self.directory),
                problems=self.problems,
                fix=f"run {FETCH_COMMAND}",
            )


@cache
def default_catalogue() -> AssetCatalogue:
    """The files in `var/assets/`, checked and reported once per process."""
    catalogue = AssetCatalogue()
    catalogue.report()
    return catalogue


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def script_tag(asset: Asset) -> str:
    """A `<script>` that the browser runs only if it matches its pinned hash."""
    return f'<script src="{escape(asset.url)}" integrity="{asset.integrity}"></script>'


def stylesheet_tag(asset: Asset) -> str:
    """A stylesheet `<link>` checked against its pinned hash."""
    return f'<link rel="stylesheet" href="{escape(asset.url)}" integrity="{asset.integrity}">'


def missing_notice(what: str, unusable: list[str]) -> str:
    """The HTML that stands in for a page whose files are not installed."""
    files = "".join(f"<li><code>{escape(path)}</code></li>" for path in unusable)
    return (
        f'<div class="notice" role="alert"><h2>{escape(what)} cannot load</h2>'
        "<p>Its browser files are missing or damaged in <code>var/assets/</code> (they are fetched "
        "from the npm registry at pinned versions, never from a CDN at run time). Run "
        f"<code>{FETCH_COMMAND}</code>, then restart the server.</p>"
        f"<ul>{files}</ul></div>"
    )
