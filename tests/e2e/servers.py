"""Real uvicorn processes for the scale-out tests: a migrated database of their own, a
port in 8600-8699, and GraphQL calls that may come from any client IP.

uvicorn trusts `X-Forwarded-For` from 127.0.0.1 by default, so each test can play a client
address of its own and leave the per-IP buckets of the other tests alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(8600, 8700)
PASSWORD = "scale-out-test-password"
ADMIN = "admin@example.com"
_taken: set[int] = set()


def free_port() -> int:
    """A port of 8600-8699 nothing listens on, never handed out twice in one run."""
    for port in PORTS:
        if port in _taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError("no free port in 8600-8699")


async def admin_sql(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def postgres_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database on the server of `server_url`, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin_sql(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a test server: test mode, JSON logs, a short drain."""
    return {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "LOG_FORMAT": "json",
        "SHUTDOWN_DRAIN_SECONDS": "2",
        "SEED_SUPERUSER_PASSWORD": PASSWORD,
        **extra,
    }


async def seed(database_url: str) -> None:
    """Migrate, then add the superuser, the demo roles and users, one product."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "seeds", "--migrate", "--customers", "0", "--products", "1", "--users", "0"),
        cwd=ROOT,
        env=server_env(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, output.decode()


class Server:
    """A running `uvicorn graph.app:app` and everything it has logged."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace"))

    @property
    def log(self) -> str:
        """Everything logged so far."""
        return "".join(self.lines)

    async def stop(self) -> None:
        """Kill the server and its workers (its own process group) if they still run."""
        # The group outlives a master that already exited: a worker may still hold on.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)


async def start_server(env: dict[str, str], *uvicorn_args: str) -> Server:
    """Start uvicorn on a free port and wait until `/readyz` answers 200."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "uvicorn", "graph.app:app", "--host", "127.0.0.1", "--port", str(port)),
        *("--timeout-graceful-shutdown", "2", *uvicorn_args),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=2**20,
        start_new_session=True,  # a process group of its own, workers included
    )
    server = Server(process, port)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=1) as probe:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get("/readyz")).status_code == 200:
                    return server
            if process.returncode is not None:
                break
            await asyncio.sleep(0.1)
    await server.stop()
    raise AssertionError(f"the server did not start:\n{server.log}")


@contextlib.asynccontextmanager
async def servers(env: dict[str, str], count: int, *args: str) -> AsyncIterator[list[Server]]:
    """`count` servers on the same environment, stopped afterwards."""
    started: list[Server] = []
    try:
        started.extend(await asyncio.gather(*(start_server(env, *args) for _ in range(count))))
        yield started
    finally:
        await asyncio.gather(*(server.stop() for server in started))


class Api:
    """GraphQL over HTTP to one server, as one client address."""

    def __init__(self, base_url: str, ip: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.ip = ip
        self.token = token

    def as_token(self, token: str | None) -> Api:
        """The same server and address with another token."""
        return Api(self.base_url, self.ip, token)

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        """The raw response."""
        headers = {"X-Forwarded-For": self.ip}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
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
