"""The GraphiQL playground at GET /graphql, served from this app's own files.

Strawberry's stock page loads React, GraphiQL and the explorer from a CDN, so offline it
never renders. The project's router (`graph.http.JSONGraphQLRouter.render_graphql_ide`,
Strawberry's hook for a custom page) answers with this one instead: it loads the pinned
copies in `var/assets/`, adds a login form that fills the Authorization header, and opens
one example tab per module.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import strawberry
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from graphql import GraphQLSchema, parse, validate
from strawberry.schema.base import BaseSchema

from config.settings import Settings
from graph.pages.assets import (
    AssetCatalogue,
    default_catalogue,
    missing_notice,
    script_tag,
    stylesheet_tag,
)
from graph.pages.links import links_for, nav_html
from graph.pages.render import render

EXAMPLES = Path(__file__).with_name("examples")
DEMO_ACCOUNTS = (
    "manager@example.com",
    "viewer@example.com",
    "auditor@example.com",
    "admin.demo@example.com",
)


def example_tabs(schema: GraphQLSchema | None, directory: Path = EXAMPLES) -> list[dict[str, str]]:
    """GraphiQL tabs from `examples/*.graphql` (and `<name>.variables.json`), in name order.

    An example the served schema does not accept is left out, so a tab for a feature not
    served yet (subscriptions, before they land) appears by itself once it is.
    """
    tabs = []
    for file in sorted(directory.glob("*.graphql")):
        query = file.read_text(encoding="utf-8")
        if schema is not None and validate(schema, parse(query)):
            continue
        tab = {"query": query}
        variables = file.with_suffix(".variables.json")
        if variables.exists():
            tab["variables"] = variables.read_text(encoding="utf-8")
        tabs.append(tab)
    return tabs


def playground_page(
    assets: AssetCatalogue, tabs: list[dict[str, str]], *, nav: str, show_demo_accounts: bool
) -> str:
    """The whole GraphiQL page, or a notice saying which of its files are missing."""
    scripts = [
        assets.get("react", "umd/react.production.min.js"),
        assets.get("react-dom", "umd/react-dom.production.min.js"),
        assets.get("graphiql", "graphiql.min.js"),
        assets.get("@graphiql/plugin-explorer", "dist/index.umd.js"),
    ]
    styles = [
        assets.get("graphiql", "graphiql.min.css"),
        assets.get("@graphiql/plugin-explorer", "dist/style.css"),
    ]
    unusable = assets.unusable(*scripts, *styles)
    accounts = DEMO_ACCOUNTS if show_demo_accounts else ()
    # `</` would end the JSON's script element early; JSON reads `<\/` as `</`.
    config = json.dumps({"tabs": tabs}).replace("</", "<\\/")
    return render(
        "playground.html",
        nav=nav,
        stylesheets="" if unusable else "\n".join(stylesheet_tag(style) for style in styles),
        demo_accounts="".join(f'<option value="{escape(email)}">' for email in accounts),
        notice=missing_notice("The GraphiQL playground", unusable) if unusable else "",
        config=config,
        scripts="" if unusable else "\n".join(script_tag(script) for script in scripts),
    )


def playground_response(schema: BaseSchema, app: FastAPI) -> HTMLResponse:
    """The page for GET /graphql, once the router has decided a browser gets GraphiQL."""
    settings: Settings = app.state.settings
    graphql_schema = schema._schema if isinstance(schema, strawberry.Schema) else None
    page = playground_page(
        default_catalogue(),
        example_tabs(graphql_schema),
        nav=nav_html(links_for(app, settings), leave_out="/graphql"),
        # Production may enable GraphiQL, but never suggests the demo accounts.
        show_demo_accounts=not settings.is_production,
    )
    return HTMLResponse(page)
