"""Apollo Client's persisted-query link (tests/js/apollo.mjs) against real servers.

Needs Node 20+ and `npm ci --prefix tests/js`; skipped with the reason otherwise. Each run
seeds a database of its own (SQLite file, or PostgreSQL with TEST_DATABASE_URL) and starts
two servers on it: the defaults (automatic persisted queries) and trusted documents
required.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.persisted.stores import document_hash
from tests.e2e.servers import (
    ADMIN,
    PASSWORD,
    ROOT,
    running_server,
    seeded_database,
    server_env,
)

JS = ROOT / "tests" / "js"
NODE = shutil.which("node")

if NODE is None:
    pytest.skip("needs Node.js 20 or newer on PATH (`node`)", allow_module_level=True)
if not (JS / "node_modules" / "@apollo" / "client").is_dir():
    pytest.skip(
        "needs the JavaScript test dependencies: run `npm ci --prefix tests/js`",
        allow_module_level=True,
    )


@dataclass(frozen=True)
class Servers:
    """Two servers on one seeded database, and a superuser's token."""

    database_url: str
    automatic: str
    trusted: str
    token: str


@pytest.fixture(scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    """The database and both servers, shared by the tests of this module."""
    directory = tmp_path_factory.mktemp("apollo")
    seed = ("--no-demo-users", "--customers", "0", "--products", "3", "--users", "0")
    async with (
        seeded_database(directory, *seed, prefix="apollo") as database_url,
        AsyncExitStack() as stack,
    ):
        # Started side by side: each takes seconds to import the app.
        automatic, trusted = await asyncio.gather(
            stack.enter_async_context(running_server(server_env(database_url))),
            stack.enter_async_context(
                running_server(server_env(database_url, graphql_trusted_documents="required"))
            ),
        )
        login = 'mutation { login(email: "%s", password: "%s") { accessToken } }'
        async with httpx.AsyncClient(base_url=automatic.base_url) as http:
            answer = await http.post("/graphql", json={"query": login % (ADMIN, PASSWORD)})
        token = answer.json()["data"]["login"]["accessToken"]
        yield Servers(database_url, automatic.base_url, trusted.base_url, token)


async def apollo(scenario: str, url: str, token: str) -> Any:
    """Run a scenario of tests/js/apollo.mjs; what it printed, parsed."""
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        *("apollo.mjs", scenario, f"{url}/graphql", token),
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output, errors = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, errors.decode()
    return json.loads(output)


def shape(requests: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Each request as (method, whether it carried the document)."""
    return [(request["method"], request["document"] is not None) for request in requests]


async def test_given_apollos_link_when_a_query_runs_twice_then_only_the_first_sends_the_document(
    servers: Servers,
) -> None:
    outcome = await apollo("apq", servers.automatic, servers.token)

    first, later = outcome["first"], outcome["later"]
    # A miss, the document, then the hash alone; a new client starts with the hash alone.
    assert shape(first["requests"]) == [("POST", False), ("POST", True), ("POST", False)]
    assert shape(later["requests"]) == [("POST", False)]
    assert all(request["hash"] for request in first["requests"] + later["requests"])
    assert all(request["status"] == 200 for request in first["requests"])
    products = [result["data"]["products"] for result in first["results"] + later["results"]]
    assert [connection["totalCount"] for connection in products] == [3, 3, 3]


async def test_given_hashed_queries_over_get_when_the_hash_is_known_then_cache_headers_come_back(
    servers: Servers,
) -> None:
    outcome = await apollo("get", servers.automatic, servers.token)

    requests = outcome["first"]["requests"] + outcome["later"]["requests"]
    # The miss over GET, the document over POST (the link switches), then GET by hash.
    assert shape(requests) == [("GET", False), ("POST", True), ("GET", False), ("GET", False)]
    miss, _, hit, later = requests
    assert miss["cacheControl"] == "no-store"
    assert hit["cacheControl"] == later["cacheControl"] == "private, no-cache"
    assert hit["etag"]
    assert hit["etag"] == later["etag"]
    assert outcome["later"]["results"][0]["data"]["products"]["totalCount"] == 3


async def test_given_trusted_documents_required_when_apollo_sends_an_unknown_query_then_refused(
    servers: Servers, tmp_path: Path
) -> None:
    documents = await apollo("print", servers.automatic, servers.token)
    body = documents["Products"]
    operation = {"id": document_hash(body), "name": "Products", "type": "query", "body": body}
    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [operation]}
        )
    )
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "graph.persisted", "add", str(manifest), "--database-url", servers.database_url),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    printed, _ = await asyncio.wait_for(command.communicate(), 120)
    assert command.returncode == 0, printed.decode()

    outcome = await apollo("trusted", servers.trusted, servers.token)

    registered, unregistered = outcome["results"]
    assert registered["data"]["products"]["totalCount"] == 3
    assert unregistered == {"codes": ["PERSISTED_QUERY_NOT_ALLOWED"]}
    # The registered one ran on its hash alone; the other was unknown, then refused in full.
    assert shape(outcome["requests"]) == [("POST", False), ("POST", False), ("POST", True)]
