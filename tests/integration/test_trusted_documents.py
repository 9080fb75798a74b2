"""Trusted documents in the database, and `python -m graph.persisted`, on SQLite and
PostgreSQL: what the command adds survives, is shared, and is all-or-nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.settings import Settings
from domain.documents import TrustedDocument
from graph.app import create_app
from graph.persisted.__main__ import main
from graph.persisted.stores import document_hash
from persistence.database import create_engine
from persistence.models import Base
from persistence.trusted_documents import SqlTrustedDocuments
from tests.conftest import ON_POSTGRES

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = "query Products { products(first: 1) { totalCount } }"
ME = "query Me {\n  me { email }\n}\n"


async def test_given_documents_when_added_twice_then_the_second_time_adds_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlTrustedDocuments(session_factory)
    document = TrustedDocument(document_hash(PRODUCTS), PRODUCTS, "Products", "manifest.json")

    first = await store.add([document, document])
    second = await store.add([document])

    assert first == [document]
    assert second == []
    assert await store.get(document_hash(PRODUCTS)) == PRODUCTS
    assert await store.get(document_hash(ME)) is None
    assert await store.all() == [document]


@pytest.fixture
async def command_database(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[str]:
    """A database another process can open: the run's PostgreSQL one, or a SQLite file."""
    if ON_POSTGRES:
        yield database_url  # the `engine` fixture made the tables; the run empties them
        return
    url = f"sqlite+aiosqlite:///{tmp_path / 'trusted.db'}"
    file_engine = create_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    async with file_engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await file_engine.dispose()
    yield url


async def run_command(*args: str) -> tuple[int, str]:
    """`python -m graph.persisted ARGS`: the exit code and everything it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "graph.persisted", *args),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode()


def write_manifest(path: Path, *bodies: str) -> Path:
    """An Apollo persisted-query manifest of `bodies`, ids as the generator makes them."""
    operations = [
        {"id": document_hash(body), "name": body.split()[1], "type": "query", "body": body}
        for body in bodies
    ]
    manifest = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    path.write_text(json.dumps(manifest))
    return path


async def test_given_a_manifest_and_a_graphql_file_when_the_command_adds_them_then_they_run(
    command_database: str, settings: Settings, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path / "persisted-query-manifest.json", PRODUCTS)
    (tmp_path / "me.graphql").write_text(ME)

    code, output = await run_command(
        "add", str(manifest), str(tmp_path / "me.graphql"), "--database-url", command_database
    )
    again_code, again = await run_command("add", str(manifest), "--database-url", command_database)
    _, listed = await run_command("list", "--database-url", command_database)

    assert code == 0, output
    assert "2 document(s) added, 0 already registered" in output
    assert f"added {document_hash(PRODUCTS)}  Products" in output
    assert again_code == 0
    assert "0 document(s) added, 1 already registered" in again
    assert document_hash(ME) in listed
    # A server on that database with trusted documents required runs them by hash.
    engine = create_engine(settings.model_copy(update={"database_url": command_database}))
    required = settings.model_copy(update={"graphql_trusted_documents": "required"})
    app = create_app(required, engine=engine)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(ME)}}
            answer = (await http.post("/graphql", json={"extensions": extensions})).json()
            refused = (await http.post("/graphql", json={"query": "{ __typename }"})).json()
    finally:
        await engine.dispose()
    assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"  # it ran
    assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"


def test_given_one_bad_document_when_added_by_the_command_then_nothing_is_registered(
    command_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process (the test above runs the real command): `main` is what `-m` calls.
    manifest = write_manifest(tmp_path / "manifest.json", PRODUCTS)
    (tmp_path / "typo.graphql").write_text("query Typo { products(first: 1) { totl } }")

    code = main(
        ["add", str(manifest), str(tmp_path / "typo.graphql"), "--database-url", command_database]
    )
    listed = main(["list", "--database-url", command_database])

    assert code == 1
    printed = capsys.readouterr()
    assert "nothing registered" in printed.err
    assert "typo.graphql: Typo: Cannot query field 'totl'" in printed.err
    assert listed == 0
    assert printed.out == ""  # the list is empty
