"""GraphiQL, Swagger UI, ReDoc and the landing page in a real headless Chromium, offline.

A real uvicorn (tests/e2e/servers.py) serves a migrated, seeded SQLite file. Chromium
(Debian's /usr/bin/chromium, driven by Playwright for Python) may reach 127.0.0.1 only: a
route aborts any other request, and every test asserts that none was even attempted, and
that the browser logged no error (a script error, or a load the Content-Security-Policy
refused). Screenshots go to /tmp/taskgraph-browser/ for a person to look at; the
assertions are on the page's text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from graph.pages.assets import FETCH_COMMAND, default_catalogue
from tests.conftest import ON_POSTGRES
from tests.e2e.servers import running_server, seeded_database, server_env

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is not installed (pip install playwright)"
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path("/tmp/taskgraph-browser")  # noqa: S108 - for a person to look at, not the repo
EMAIL = "manager@example.com"
PASSWORD = "demo-dev-password"  # the development default of the seeded demo users
# ReDoc's sidebar always shows Redocly's logo from their CDN; the page's CSP refuses it
# before any request is made, and ReDoc then drops the image (graph/pages/static/redoc.js).
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
    ),
    pytest.mark.skipif(
        bool(default_catalogue().problems),
        reason=f"the browser assets are not installed: run {FETCH_COMMAND}",
    ),
    pytest.mark.skipif(
        ON_POSTGRES, reason="the pages do not depend on the database; the SQLite run covers them"
    ),
]


@pytest.fixture(scope="module")
async def base_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A real server on a migrated SQLite file seeded with the demo data and accounts."""
    folder = tmp_path_factory.mktemp("browser")
    seed = ("--customers", "20", "--products", "30")
    async with (
        seeded_database(folder, *seed, prefix="browser", environment="development") as url,
        running_server(server_env(url, environment="development")) as server,
    ):
        yield server.base_url


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless."""
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@dataclass
class Watch:
    """Everything a page tried that it should not have."""

    elsewhere: list[str] = field(default_factory=list)  # requests to another host
    errors: list[str] = field(default_factory=list)  # console errors and page errors
    websockets: list[str] = field(default_factory=list)
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)  # connection_ack

    def errors_except(self, *allowed: str) -> list[str]:
        """The errors that mention none of `allowed`."""
        return [e for e in self.errors if not any(text in e for text in allowed)]


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[tuple[Any, Watch]]:
    """A fresh browser tab that may talk to 127.0.0.1 only, and what it attempted."""
    watch = Watch()
    context = await browser.new_context(viewport={"width": 1400, "height": 900})

    async def loopback_only(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            watch.elsewhere.append(route.request.url)
            await route.abort()

    await context.route("**/*", loopback_only)
    tab = await context.new_page()
    tab.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda error: watch.errors.append(str(error)))

    def on_websocket(socket: Any) -> None:
        watch.websockets.append(socket.url)

        def on_frame(payload: Any) -> None:
            if "connection_ack" in str(payload):
                watch.acknowledged.set()

        socket.on("framereceived", on_frame)

    tab.on("websocket", on_websocket)
    yield tab, watch
    await context.close()


async def screenshot(tab: Any, name: str) -> None:
    await tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def log_in_on_the_page(tab: Any) -> None:
    await tab.fill("#login input[name=email]", EMAIL)
    await tab.fill("#login input[name=password]", PASSWORD)
    await tab.click("#login button[type=submit]")
    await tab.wait_for_selector(f"#session:has-text('Logged in as {EMAIL}')")


async def headers_editor_text(tab: Any) -> str:
    return str(await tab.inner_text(".graphiql-editor-tool"))


async def open_tab(tab: Any, name: str) -> None:
    await tab.click(f".graphiql-tab:has-text('{name}')")
    await tab.wait_for_selector(f".graphiql-tab-active:has-text('{name}')")


async def result_text(tab: Any) -> str:
    return str(await tab.inner_text(".result-window"))


async def api_token(base_url: str) -> str:
    login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }"
    async with httpx.AsyncClient(base_url=base_url) as http:
        answer = await http.post(
            "/graphql", json={"query": login, "variables": {"e": EMAIL, "p": PASSWORD}}
        )
    return str(answer.json()["data"]["login"]["accessToken"])


async def api(base_url: str, token: str, query: str, **variables: Any) -> Any:
    async with httpx.AsyncClient(base_url=base_url) as http:
        answer = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


BEARER_HEADER = re.compile(r'"Authorization": "Bearer [\w-]+\.[\w-]+\.[\w-]+"')


async def test_given_the_playground_offline_when_logged_in_then_a_nested_query_shows_data(
    base_url: str, page: tuple[Any, Watch]
) -> None:
    tab, watch = page
    # Given GraphiQL renders from this server's files alone, with the headers editor open
    await tab.goto(f"{base_url}/graphql")
    await tab.wait_for_selector(".graphiql-container .graphiql-tab:has-text('CustomersWithTasks')")
    tabs = await tab.locator(".graphiql-tab").all_inner_texts()
    assert {"Me", "Products", "CustomersWithTasks", "CreateProduct", "AuditTrail"} <= {
        t.strip() for t in tabs
    }
    assert await tab.locator(".graphiql-editor-tool").is_visible()
    assert "Authorization" not in await headers_editor_text(tab)

    # When the developer logs in with the form on the page
    await log_in_on_the_page(tab)

    # Then the Authorization header is in the headers editor, in every tab they open
    assert BEARER_HEADER.search(await headers_editor_text(tab))
    await open_tab(tab, "CustomersWithTasks")
    assert BEARER_HEADER.search(await headers_editor_text(tab))

    # And the authenticated nested query, run from the page, shows the server's data
    await tab.click(".graphiql-execute-button")
    await tab.wait_for_selector(".result-window:has-text('totalCount')")
    token = await api_token(base_url)
    first = await api(
        base_url,
        token,
        "{ customers(first: 1, orderBy: [{field: NAME}]) { edges { node { name } } } }",
    )
    shown = await result_text(tab)
    assert first["customers"]["edges"][0]["node"]["name"] in shown
    for field_name in ('"customers"', '"tasks"', '"products"', '"sku"'):
        assert field_name in shown
    assert "UNAUTHENTICATED" not in shown
    await screenshot(tab, "playground")

    assert watch.elsewhere == []
    assert watch.errors == []


async def test_given_subscriptions_are_served_when_the_task_changes_tab_runs_then_a_change_arrives(
    base_url: str, page: tuple[Any, Watch]
) -> None:
    tab, watch = page
    await tab.goto(f"{base_url}/graphql")
    await tab.wait_for_selector(".graphiql-container .graphiql-tab:has-text('Me')")
    if not await tab.locator(".graphiql-tab:has-text('TaskChanges')").count():
        pytest.skip("the schema serves no taskChanged subscription yet")
    await log_in_on_the_page(tab)
    await open_tab(tab, "TaskChanges")

    # When the subscription runs from the page and a task changes elsewhere
    await tab.click(".graphiql-execute-button")
    await asyncio.wait_for(watch.acknowledged.wait(), 10)
    token = await api_token(base_url)
    tasks = await api(base_url, token, "{ tasks(first: 1) { edges { node { id } } } }")
    task_id = tasks["tasks"]["edges"][0]["node"]["id"]
    rename = """mutation($id: ID!, $t: String!) {
      updateTask(id: $id, input: {title: $t}) { task { id } }
    }"""
    await api(base_url, token, rename, id=task_id, t="Renamed in the browser test")

    # Then the event arrives over graphql-transport-ws on ws://<host>/graphql
    await tab.wait_for_selector(".result-window:has-text('Renamed in the browser test')")
    assert watch.websockets == [f"{base_url.replace('http', 'ws', 1)}/graphql"]
    assert '"UPDATED"' in await result_text(tab)
    await screenshot(tab, "subscription")
    assert watch.elsewhere == []
    assert watch.errors == []


async def test_given_swagger_ui_offline_when_opened_then_it_lists_the_routes(
    base_url: str, page: tuple[Any, Watch]
) -> None:
    tab, watch = page
    await tab.goto(f"{base_url}/docs")
    await tab.wait_for_selector(".swagger-ui .info .title")
    await tab.wait_for_selector(".swagger-ui .opblock-summary-path:has-text('/readyz')")
    text = await tab.inner_text("body")
    assert "Task Graph API" in text
    for path in ("/graphql", "/healthz", "/readyz"):
        assert path in text
    await screenshot(tab, "swagger")
    assert watch.elsewhere == []
    assert watch.errors == []


async def test_given_redoc_offline_when_opened_then_it_describes_the_routes(
    base_url: str, page: tuple[Any, Watch]
) -> None:
    tab, watch = page
    await tab.goto(f"{base_url}/redoc")
    await tab.wait_for_selector("#redoc h1:has-text('Task Graph API')")
    assert "Readyz" in await tab.inner_text("#redoc")
    await screenshot(tab, "redoc")
    assert watch.elsewhere == []
    assert watch.errors_except(REDOC_LOGO) == []


async def test_given_the_landing_page_when_opened_then_it_shows_version_and_readiness(
    base_url: str, page: tuple[Any, Watch]
) -> None:
    tab, watch = page
    await tab.goto(f"{base_url}/")
    text = await tab.inner_text("body")
    assert f"v{version('taskgraph')}" in text
    assert "Ready: the database answers." in text
    for title in ("Playground", "HTTP docs", "Schema", "Guides"):
        assert title in text
    await screenshot(tab, "landing")
    assert watch.elsewhere == []
    assert watch.errors == []
