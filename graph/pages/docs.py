"""The developer documentation pages: Swagger UI and ReDoc over the OpenAPI schema, and
the Markdown guides (README.md and docs/*.md) rendered as HTML. None of them loads a file
from another origin."""

from __future__ import annotations

import re
from functools import cache
from html import escape
from pathlib import PurePosixPath

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from graph.pages.assets import (
    ROOT,
    Asset,
    AssetCatalogue,
    missing_notice,
    script_tag,
    stylesheet_tag,
)
from graph.pages.links import GUIDES_URL, SCHEMA_URL
from graph.pages.render import render

SCHEMA_FILE = ROOT / "schema.graphql"


def _boot(bundle: Asset, initializer: str) -> str:
    """The pinned bundle, then this project's script that starts it."""
    return f'{script_tag(bundle)}\n<script src="{initializer}"></script>'


def swagger_page(assets: AssetCatalogue, openapi_url: str, *, nav: str) -> str:
    """Swagger UI for the HTTP routes (health, readiness, GraphQL over HTTP)."""
    script = assets.get("swagger-ui-dist", "swagger-ui-bundle.js")
    style = assets.get("swagger-ui-dist", "swagger-ui.css")
    unusable = assets.unusable(script, style)
    return render(
        "swagger.html",
        nav=nav,
        stylesheet="" if unusable else stylesheet_tag(style),
        openapi_url=escape(openapi_url),
        notice=missing_notice("Swagger UI", unusable) if unusable else "",
        scripts="" if unusable else _boot(script, "/static/swagger.js"),
    )


def redoc_page(assets: AssetCatalogue, openapi_url: str, *, nav: str) -> str:
    """ReDoc for the same OpenAPI schema."""
    script = assets.get("redoc", "bundles/redoc.standalone.js")
    unusable = assets.unusable(script)
    return render(
        "redoc.html",
        nav=nav,
        openapi_url=escape(openapi_url),
        notice=missing_notice("ReDoc", unusable) if unusable else "",
        scripts="" if unusable else _boot(script, "/static/redoc.js"),
    )


# ---------------------------------------------------------------- guides


@cache
def guides() -> dict[str, str]:
    """Each served guide's file name and its title (its first heading)."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = {}
    for file in files:
        if file.is_file():
            lines = file.read_text(encoding="utf-8").splitlines()
            title = next((line[2:].strip() for line in lines if line.startswith("# ")), "")
            found[file.name] = "README" if file.name == "README.md" else title or file.stem
    return found


def _repository_path(name: str) -> PurePosixPath:
    return PurePosixPath("README.md" if name == "README.md" else f"docs/{name}")


def _served_url(target: PurePosixPath) -> str | None:
    """Where a repository file linked from a guide is served, if it is."""
    if str(target) == "schema.graphql":
        return SCHEMA_URL
    if (str(target) == "README.md" or target.parent == PurePosixPath("docs")) and (
        target.name in guides()
    ):
        return f"{GUIDES_URL}/{target.name}"
    return None


def _resolve(source: PurePosixPath, href: str) -> str:
    """A guide's relative link to another guide, as the URL it is served at."""
    if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", href, re.IGNORECASE):
        return href
    path, _, fragment = href.partition("#")
    parts: list[str] = []
    for part in (source.parent / path).parts:
        if part == "..":
            parts = parts[:-1]
        elif part != ".":
            parts.append(part)
    url = _served_url(PurePosixPath(*parts)) if parts else None
    if url is None:
        return href
    return f"{url}#{fragment}" if fragment else url


def _slug(text: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _markdown(source: PurePosixPath) -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")

    def links_and_anchors(state: StateCore) -> None:
        tokens = state.tokens
        for index, token in enumerate(tokens):
            if token.type == "heading_open" and index + 1 < len(tokens):
                token.attrSet("id", _slug(tokens[index + 1].content))
            for child in token.children or ():
                if child.type == "link_open":
                    child.attrSet("href", _resolve(source, str(child.attrGet("href") or "")))

    parser.core.ruler.push("links_and_anchors", links_and_anchors)
    return parser


def guide_page(name: str, *, nav: str) -> str | None:
    """A guide rendered as a page; None if there is no guide of that name."""
    if name not in guides():
        return None
    source = _repository_path(name)
    text = (ROOT / source).read_text(encoding="utf-8")
    menu = "".join(
        f'<li><a href="{GUIDES_URL}/{escape(other)}">{escape(title)}</a></li>'
        for other, title in guides().items()
    )
    return render(
        "guide.html",
        nav=nav,
        title=escape(guides()[name]),
        menu=menu,
        source=escape(str(source)),
        body=_markdown(source).render(text),
    )
