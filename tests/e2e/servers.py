"""Real uvicorn servers for the end-to-end tests, and databases of their own.

Two kinds of server:
- `start_server` / `running_server` / `servers`: `uvicorn graph.app:app` as a process of
  its own, on a migrated database (`seeded_database`), for tests that need what only a real
  process has: signals, workers, several instances, a client outside Python.
- `serve`: a uvicorn server around an app object in the test's own event loop, for
  WebSocket tests that also reach into the app.

Ports: uvicorn binds port 0 and the kernel picks a free one, which the server's own log
line "Uvicorn running on ..." names; two test runs side by side can never take the same
port. Then the server is ready when its readiness (or health) endpoint answers 200.

uvicorn trusts `X-Forwarded-For` from 127.0.0.1 by default, so `Api` can play a client
address of each test's own and leave the per-IP buckets of the other tests alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin@example.com"
PASSWORD = "live-server-test-password"
# Seed arguments for a small database: the superuser, the demo roles and users, one product.
SMALL = ("--customers", "0", "--products", "1", "--users", "0")
_LISTENING = re.compile(r"Uvicorn running on (http://[0-9.]+:[0-9]+)")


# ---------------------------------------------------------------- databases


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """A test server's environment: test mode, JSON logs at INFO, no drain, the superuser's
    password `PASSWORD`; `settings` (upper-cased into variables) override any of these."""
    return {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "LOG_FORMAT": "json",
        # INFO: the readiness wait reads uvicorn's "running on" line from the log.
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_DRAIN_SECONDS": "0",
        "SEED_SUPERUSER_PASSWORD": PASSWORD,
        **{name.upper(): value for name, value in settings.items()},
    }


async def admin_sql(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def own_database(
    directory: Path, prefix: str = "test_live", *, on_postgres: bool = ON_POSTGRES
) -> AsyncIterator[str]:
    """An empty database of the caller's own: a new PostgreSQL database on the server of
    TEST_DATABASE_URL (dropped afterwards), or else a SQLite file in `directory`."""
    if not on_postgres:
        yield f"sqlite+aiosqlite:///{directory / f'{prefix}.db'}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin_sql(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin_sql(TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed(database_url: str, *seed_args: str, **settings: str) -> None:
    """`python -m seeds --migrate SEED_ARGS` in the environment of `server_env`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "seeds", "--migrate", *seed_args),
        cwd=ROOT,
        env=server_env(database_url, **settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()


@contextlib.asynccontextmanager
async def seeded_database(
    directory: Path,
    *seed_args: str,
    prefix: str = "test_live",
    on_postgres: bool = ON_POSTGRES,
    **settings: str,
) -> AsyncIterator[str]:
    """`own_database`, migrated and seeded by `seed(url, *SEED_ARGS, **SETTINGS)`."""
    async with own_database(directory, prefix, on_postgres=on_postgres) as url:
        await seed(url, *seed_args, **settings)
        yield url


# ---------------------------------------------------------------- server processes


class Server:
    """A running `uvicorn graph.app:app` and every line it has logged so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.base_url = ""
        self.lines: list[str] = []
        self._logged = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        # Read all along: nobody else drains the pipe, and a full pipe would block the server.
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace"))
            self._logged.set()
        self._logged.set()  # the end of the log wakes waiters too

    @property
    def log(self) -> str:
        """Everything logged so far."""
        return "".join(self.lines)

    async def logged(self, text: str, within: float = 10) -> str:
        """Wait until a line holding `text` is logged; returns that line."""
        async with asyncio.timeout(within):
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                if self._reader.done():
                    raise AssertionError(f"the server ended without logging {text!r}:\n{self.log}")
                self._logged.clear()
                await self._logged.wait()

    async def exited(self, within: float = 15) -> str:
        """The whole log, once the process has ended by itself (after a signal, say)."""
        await asyncio.wait_for(self.process.wait(), within)
        await asyncio.wait_for(self._reader, 5)
        return self.log

    async def stop(self, *, graceful: bool = True, within: float = 15) -> None:
        """Stop the server: SIGTERM and its graceful shutdown first when `graceful`, then
        SIGKILL for whatever of its process group (workers included) still runs."""
        if graceful and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), within)
        # The group outlives a master that already exited: a worker may still hold on.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)


async def start_server(
    env: dict[str, str],
    *uvicorn_args: str,
    grace_seconds: int = 2,
    ready_path: str = "/readyz",
    within: float = 60,
) -> Server:
    """Start `uvicorn graph.app:app UVICORN_ARGS` on a free port in `env`; return once
    `ready_path` answers 200. The caller stops it (`Server.stop`)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "uvicorn", "graph.app:app", "--host", "127.0.0.1", "--port", "0"),
        *("--timeout-graceful-shutdown", str(grace_seconds), *uvicorn_args),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=2**20,  # a log line with a stack trace is long
        start_new_session=True,  # a process group of its own, workers included
    )
    server = Server(process)
    try:
        async with asyncio.timeout(within):
            listening = _LISTENING.search(await server.logged("Uvicorn running on", within))
            assert listening is not None, server.log
            server.base_url = listening[1]
            await _until_ready(server, ready_path)
    except BaseException as error:
        await server.stop(graceful=False)
        if isinstance(error, AssertionError | TimeoutError):
            raise AssertionError(f"the server did not become ready:\n{server.log}") from error
        raise
    return server


async def _until_ready(server: Server, path: str) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=1) as probe:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get(path)).status_code == 200:
                    return
            assert server.process.returncode is None, "the server exited"
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_server(
    env: dict[str, str], *uvicorn_args: str, graceful: bool = True, **options: Any
) -> AsyncIterator[Server]:
    """`start_server(env, *UVICORN_ARGS, **OPTIONS)`, stopped afterwards (`graceful`: by
    SIGTERM first, else killed at once)."""
    server = await start_server(env, *uvicorn_args, **options)
    try:
        yield server
    finally:
        await server.stop(graceful=graceful)


@contextlib.asynccontextmanager
async def servers(
    env: dict[str, str], count: int, *uvicorn_args: str, **options: Any
) -> AsyncIterator[list[Server]]:
    """`count` servers on the same environment, started side by side (each takes seconds to
    import the app), killed afterwards."""
    started: list[Server | BaseException] = await asyncio.gather(
        *(start_server(env, *uvicorn_args, **options) for _ in range(count)),
        return_exceptions=True,
    )
    running = [server for server in started if isinstance(server, Server)]
    try:
        for failure in started:
            if isinstance(failure, BaseException):
                raise failure
        yield running
    finally:
        await asyncio.gather(*(server.stop(graceful=False) for server in running))


# ---------------------------------------------------------------- an app in this event loop


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 in this event loop; yields the base URL.

    The lifespan is off: it would dispose of the run's shared engine. The app's
    subscription machinery is stopped here instead."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        await app.state.realtime.stop()


# ---------------------------------------------------------------- a client


class Api:
    """GraphQL over HTTP to one server, as one client address."""

    def __init__(self, base_url: str, ip: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.ip = ip
        self.token = token

    def as_token(self, token: str | None) -> Api:
        """The same server and address with another token."""
        return Api(self.base_url, self.ip, token)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> httpx.Response:
        """The raw response; `request_id` is sent as X-Request-ID (the server keeps it)."""
        headers = {"X-Forwarded-For": self.ip}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if request_id:
            headers["X-Request-ID"] = request_id
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            return await http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The JSON body."""
        return (await self.post(query, variables)).json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """`data` of a response without errors."""
        body = await self(query, variables)
        assert "errors" not in body, body
        return body["data"]

    async def codes(self, query: str, variables: dict[str, Any] | None = None) -> Sequence[str]:
        """The error codes of a response (empty when it succeeded)."""
        body = await self(query, variables)
        return [error["extensions"]["code"] for error in body.get("errors", [])]
