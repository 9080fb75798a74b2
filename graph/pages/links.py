"""Which pages this app serves, as the landing page's cards and every page's top bar."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from fastapi import FastAPI

from config.settings import Settings

SCHEMA_URL = "/schema.graphql"
GUIDES_URL = "/guides"


@dataclass(frozen=True)
class Link:
    """A page, its title and a sentence (HTML) about it."""

    url: str
    title: str
    text: str


def links_for(app: FastAPI, settings: Settings) -> list[Link]:
    """The pages this environment serves: GraphiQL when enabled, the docs outside production."""
    links = []
    if settings.is_graphiql_enabled:
        links.append(
            Link(
                "/graphql",
                "Playground",
                "GraphiQL: log in, then run the example tabs (products, customers with their "
                "tasks and products, a mutation, the audit trail), with the schema docs and "
                "an explorer.",
            )
        )
    if app.openapi_url:
        links.append(
            Link(
                "/docs",
                "HTTP docs",
                'The HTTP routes in Swagger UI, and the same in <a href="/redoc">ReDoc</a>.',
            )
        )
    if not settings.is_production:
        links.append(
            Link(SCHEMA_URL, "Schema", "The GraphQL SDL of every type, query and mutation.")
        )
    return links


def nav_html(links: list[Link], *, leave_out: str = "") -> str:
    """The top bar's links: each page but `leave_out` (the page it sits on)."""
    return "".join(
        f'<a href="{escape(link.url)}">{escape(link.title)}</a>'
        for link in links
        if link.url != leave_out
    )
