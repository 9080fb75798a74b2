"""The landing page at `/`: what this server is, its version, whether it is ready, and
where to go next."""

from __future__ import annotations

from html import escape
from importlib.metadata import PackageNotFoundError, version

from graph.pages.assets import FETCH_COMMAND, AssetCatalogue
from graph.pages.links import GUIDES_URL, Link
from graph.pages.render import render


def package_version() -> str:
    """The installed `taskgraph` distribution's version (pyproject.toml)."""
    try:
        return version("taskgraph")
    except PackageNotFoundError:
        return "unknown"


def _card(link: Link) -> str:
    return (
        f'<div class="card"><h2><a href="{escape(link.url)}">{escape(link.title)}</a></h2>'
        f"<p>{link.text}</p></div>"
    )


def landing_page(
    *,
    environment: str,
    unready_reason: str | None,
    links: list[Link],
    guides: dict[str, str],
    assets: AssetCatalogue,
) -> str:
    """The page; `links` and `guides` are already trimmed to what this environment serves."""
    if unready_reason is None:
        database, database_class = "<strong>Ready</strong>: the database answers.", "ready"
    else:
        database = f"<strong>Not ready</strong>: {escape(unready_reason)}."
        database_class = "unready"
    cards = [_card(link) for link in links]
    if guides:
        items = "".join(
            f'<li><a href="{GUIDES_URL}/{escape(name)}">{escape(title)}</a></li>'
            for name, title in guides.items()
        )
        cards.append(f'<div class="card"><h2>Guides</h2><ul>{items}</ul></div>')
    assets_card = ""
    if assets.problems:
        assets_card = (
            '<div class="card unready"><h2>Browser files</h2><p><strong>Missing</strong>: '
            "GraphiQL and the API docs cannot load until you run "
            f"<code>{FETCH_COMMAND}</code> and restart the server.</p></div>"
        )
    return render(
        "landing.html",
        version=escape(package_version()),
        environment=escape(environment),
        database=database,
        database_class=database_class,
        assets_card=assets_card,
        links="\n".join(cards),
    )
