"""Real `uvicorn graph.app:app` processes on loopback ports 8400-8499, and seeded databases
of their own (a SQLite file, or a new PostgreSQL database when TEST_DATABASE_URL is set).

For tests that drive the server from outside Python: Apollo Client in Node, the README's
curl commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(8400, 8500)
# Handed out already: a server started alongside another has not bound its port yet.
_handed_out: set[int] = set()


def free_port() -> int:
    """A free port of the range these tests may use, never the same one twice."""
    for port in PORTS:
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port in 8400-8499")


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a test server: `settings` are upper-cased into variables."""
    return {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "LOG_FORMAT": "json",
        "SHUTDOWN_DRAIN_SECONDS": "0",
        **{name.upper(): value for name, value in settings.items()},
    }


async def _admin(statement: str) -> None:
    engine = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def seeded_database(
    directory: Path, *seed_args: str, superuser_password: str | None = None
) -> AsyncIterator[str]:
    """A migrated database seeded by `python -m seeds --migrate SEED_ARGS`; yields its URL."""
    name = f"test_live_{uuid.uuid4().hex[:12]}"
    if ON_POSTGRES:
        await _admin(f'CREATE DATABASE "{name}"')
        url = make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite+aiosqlite:///{directory / f'{name}.db'}"
    env = server_env(url)
    if superuser_password:
        env["SEED_SUPERUSER_PASSWORD"] = superuser_password
    try:
        seed = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "seeds", "--migrate", *seed_args),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(seed.communicate(), 120)
        assert seed.returncode == 0, output.decode()
        yield url
    finally:
        if ON_POSTGRES:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def running_server(database_url: str, **settings: str) -> AsyncIterator[str]:
    """A server on a free port with `settings`; yields its base URL, stops it afterwards."""
    port = free_port()
    # A file, not a pipe: nobody reads the log while the test runs, and a full pipe would
    # block the server.
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "uvicorn", "graph.app:app", "--host", "127.0.0.1", "--port", str(port)),
            cwd=ROOT,
            env=server_env(database_url, **settings),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await _ready(process, f"http://127.0.0.1:{port}", log)
            yield f"http://127.0.0.1:{port}"
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _ready(process: asyncio.subprocess.Process, base_url: str, log: IO[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=1) as probe:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get("/readyz")).status_code == 200:
                    return
            if process.returncode is not None:
                break
            await asyncio.sleep(0.1)
    log.seek(0)
    raise AssertionError(f"the server did not become ready:\n{log.read().decode()}")
