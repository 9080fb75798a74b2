"""The browser pages over HTTP: what each environment serves, that no page refers to another
origin, that the Content-Security-Policy admits this origin only, and the landing page.

The same pages in a real browser, offline: tests/e2e/test_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from html.parser import HTMLParser
from importlib.metadata import version
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from graph.pages.assets import ROOT, default_catalogue

PAGES = ["/", "/graphql", "/docs", "/redoc", "/guides/README.md", "/guides/SECURITY.md"]
UNREACHABLE_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
# What a policy source may be: nothing that names a host or a scheme of another origin.
_LOCAL_SOURCE = re.compile(r"^('self'|'none'|'unsafe-inline'|'sha256-[A-Za-z0-9+/=]+'|data:)$")
_FOREIGN_CSS = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*(?:[a-z][a-z0-9+.-]*:)?//""")

Build = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def app_for(database_url: str, engine: AsyncEngine) -> AsyncIterator[Build]:
    """An HTTP client of the real app in an environment, with settings changed."""
    async with AsyncExitStack() as stack:

        async def build(environment: str, **overrides: Any) -> httpx.AsyncClient:
            settings = Settings(
                environment=environment,  # type: ignore[arg-type]
                jwt_secret="s" * 40,  # type: ignore[arg-type]
                database_url=overrides.pop("database_url", database_url),
                log_format="json",
                _env_file=None,  # type: ignore[call-arg]
                **overrides,
            )
            on = None if settings.database_url == UNREACHABLE_DB else engine
            app = create_app(settings, engine=on)
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            return await stack.enter_async_context(http)

        yield build


class Page(HTMLParser):
    """What an HTML page loads (scripts, styles, images, frames) and where it links."""

    LOADS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "embed": "src"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.loads: list[tuple[str, str | None]] = []  # (url, integrity)
        self.links: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self.LOADS and values.get(self.LOADS[tag]):
            self.loads.append((values[self.LOADS[tag]] or "", values.get("integrity")))
        elif tag == "link" and values.get("href"):
            self.loads.append((values["href"] or "", values.get("integrity")))
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")


def is_same_origin(url: str) -> bool:
    """A path on this server (or an inline data: URL), not a URL of another origin."""
    return url.startswith("data:") or (url.startswith("/") and not url.startswith("//"))


async def get_page(http: httpx.AsyncClient, path: str) -> httpx.Response:
    response = await http.get(path, headers={"accept": "text/html"})
    assert response.status_code == 200, (path, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    return response


# ---------------------------------------------------------------- no other origin


@pytest.mark.parametrize("path", PAGES)
async def test_given_a_page_when_served_then_everything_it_loads_is_from_this_server(
    client: httpx.AsyncClient, path: str
) -> None:
    page = Page((await get_page(client, path)).text)
    assert page.loads, "every page loads at least its stylesheet"
    foreign = [url for url, _ in page.loads if not is_same_origin(url)]
    assert foreign == []


@pytest.mark.parametrize("path", PAGES)
async def test_given_a_page_when_served_then_its_csp_names_no_other_origin(
    client: httpx.AsyncClient, path: str
) -> None:
    policy = (await get_page(client, path)).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    for name, sources in directives.items():
        for source in sources.split():
            assert _LOCAL_SOURCE.match(source), f"{name} admits {source}"
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]


@pytest.mark.parametrize("path", ["/graphql", "/docs", "/redoc"])
async def test_given_a_page_when_its_files_are_fetched_then_each_is_served_as_pinned(
    client: httpx.AsyncClient, path: str
) -> None:
    if default_catalogue().problems:
        pytest.skip("the browser assets are not installed: run python3 scripts/assets.py")
    page = Page((await get_page(client, path)).text)
    for url, integrity in page.loads:
        if url.startswith("data:"):
            continue
        response = await client.get(url)
        assert response.status_code == 200, url
        if integrity:
            digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
            assert integrity == f"sha384-{digest}", url
        if url.endswith(".css"):
            assert not _FOREIGN_CSS.search(response.text), f"{url} loads from another origin"


# ---------------------------------------------------------------- the landing page


async def test_given_a_ready_database_when_the_landing_page_is_opened_then_it_says_what_and_ready(
    client: httpx.AsyncClient,
) -> None:
    text = (await get_page(client, "/")).text
    assert "Task Graph API" in text
    assert f"v{version('taskgraph')}" in text
    assert "<strong>Ready</strong>" in text


async def test_given_the_landing_page_when_each_link_is_followed_then_it_answers(
    client: httpx.AsyncClient,
) -> None:
    page = Page((await get_page(client, "/")).text)
    expected = {"/graphql", "/docs", "/redoc", "/schema.graphql", "/healthz", "/readyz"}
    assert expected <= set(page.links)
    assert "/guides/SECURITY.md" in page.links
    for link in page.links:
        assert is_same_origin(link), link
        response = await client.get(link, headers={"accept": "text/html"})
        assert response.status_code == 200, link


async def test_given_the_database_is_down_when_the_landing_page_is_opened_then_not_ready(
    app_for: Build,
) -> None:
    http = await app_for("development", database_url=UNREACHABLE_DB)
    text = (await get_page(http, "/")).text
    assert "<strong>Not ready</strong>: database unavailable" in text
    assert f"v{version('taskgraph')}" in text


# ---------------------------------------------------------------- schema and guides


async def test_given_the_schema_url_when_asked_then_the_committed_sdl_is_plain_text(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/schema.graphql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == (ROOT / "schema.graphql").read_text(encoding="utf-8")


async def test_given_a_guide_when_rendered_then_its_links_point_at_the_served_pages(
    client: httpx.AsyncClient,
) -> None:
    security = Page((await get_page(client, "/guides/SECURITY.md")).text)
    assert "/guides/AUTHENTICATION_GUIDE.md" in security.links
    assert "/guides/README.md#shutdown" in security.links
    readme = await get_page(client, "/guides/README.md")
    assert "/guides/RBAC_GUIDE.md" in Page(readme.text).links
    assert "/schema.graphql" in Page(readme.text).links
    assert '<h2 id="logging-in">' in readme.text


@pytest.mark.parametrize("path", ["/guides/NOPE.md", "/guides/..%2Fpyproject.toml"])
async def test_given_an_unknown_guide_when_asked_then_404(
    client: httpx.AsyncClient, path: str
) -> None:
    assert (await client.get(path)).status_code == 404


# ---------------------------------------------------------------- production


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/schema.graphql", "/guides/README.md"])
async def test_given_production_when_a_developer_page_is_asked_then_404(
    app_for: Build, path: str
) -> None:
    http = await app_for("production")
    assert (await http.get(path)).status_code == 404


async def test_given_production_when_the_landing_page_is_opened_then_no_developer_links(
    app_for: Build,
) -> None:
    http = await app_for("production")
    response = await get_page(http, "/")
    assert f"v{version('taskgraph')}" in response.text
    assert "<strong>Ready</strong>" in response.text
    assert set(Page(response.text).links) == {"/healthz", "/readyz"}


async def test_given_production_with_graphiql_enabled_when_opened_then_no_demo_accounts(
    app_for: Build,
) -> None:
    http = await app_for("production", graphiql_enabled=True)
    response = await get_page(http, "/graphql")
    assert 'id="login"' in response.text
    assert "manager@example.com</option>" not in response.text
    assert 'value="manager@example.com"' not in response.text
    assert 'href="/docs"' not in response.text
