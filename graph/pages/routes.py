"""The routes of the browser pages, and which of them each environment serves.

- `/` (always): the landing page.
- `/static/` (always): this project's own CSS, scripts and icon.
- `/assets/` (always): the pinned third-party files in `var/assets/`.
- `/docs` and `/redoc`: whenever the app serves `/openapi.json` (not in production).
- `/schema.graphql` and `/guides/<name>.md`: not in production, where introspection is
  off and the schema is not published.

GraphiQL itself is at GET /graphql, served by `PlaygroundRouter` when it is enabled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from config.settings import Settings
from graph.pages.assets import URL_PREFIX, default_catalogue
from graph.pages.docs import SCHEMA_FILE, guide_page, guides, redoc_page, swagger_page
from graph.pages.landing import landing_page
from graph.pages.links import GUIDES_URL, SCHEMA_URL, links_for, nav_html

STATIC = Path(__file__).with_name("static")

Readiness = Callable[[], Awaitable[str | None]]


def add_pages(app: FastAPI, settings: Settings, *, readiness: Readiness) -> None:
    """Serve the landing page, the static files and the developer pages (see above).

    `readiness` tells why the app is not ready (None when it is), as /readyz does.
    """
    assets = default_catalogue()
    links = links_for(app, settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if assets.directory.is_dir():
        app.mount(URL_PREFIX, StaticFiles(directory=assets.directory), name="assets")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def landing() -> str:
        return landing_page(
            environment=settings.environment,
            unready_reason=await readiness(),
            links=links,
            guides={} if settings.is_production else guides(),
            assets=assets,
        )

    openapi_url = app.openapi_url
    if openapi_url:

        @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
        async def swagger_ui() -> str:
            return swagger_page(assets, openapi_url, nav=nav_html(links, leave_out="/docs"))

        @app.get("/redoc", response_class=HTMLResponse, include_in_schema=False)
        async def redoc() -> str:
            return redoc_page(assets, openapi_url, nav=nav_html(links))

    if settings.is_production:
        return

    @app.get(SCHEMA_URL, response_class=PlainTextResponse, include_in_schema=False)
    async def schema() -> str:
        return SCHEMA_FILE.read_text(encoding="utf-8")

    @app.get(GUIDES_URL + "/{name}", response_class=HTMLResponse, include_in_schema=False)
    async def guide(name: str) -> str:
        page = guide_page(name, nav=nav_html(links))
        if page is None:
            raise HTTPException(status_code=404, detail="No such guide.")
        return page
