"""A Python load generator: raw HTTP/1.1 keep-alive over asyncio streams, loopback only.

Far cheaper per request than an HTTP client library, so on a 2-core machine it leaves the
server most of a core. `closed_loop` keeps a fixed number of requests in flight; `open_loop`
sends at a fixed arrival rate and times each request from when it was due, so a server that
falls behind shows the queueing in its latency (no coordinated omission). Both stop after a
fixed time or a fixed number of requests, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import time
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

MAX_REQUESTS = 5_000_000
CONNECT_TIMEOUT_S = 5.0
RESPONSE_TIMEOUT_S = 30.0
# What a broken or stalled connection raises; counted, never fatal to the run.
TRANSPORT_ERRORS = (OSError, asyncio.IncompleteReadError, TimeoutError)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    """Where the load goes: a loopback host and port, and the request path."""

    host: str
    port: int
    path: str = "/graphql"

    def __post_init__(self) -> None:
        if not ipaddress.ip_address(self.host).is_loopback:
            raise ValueError(f"the load generator only targets loopback, not {self.host}")


@dataclass(slots=True)
class LoadResult:
    """What one run saw: per-request latencies and how many answers were failures."""

    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    http_errors: int = 0
    graphql_errors: int = 0
    transport_errors: int = 0
    body_bytes: int = 0
    first_failure: str | None = None

    @property
    def requests(self) -> int:
        """Completed requests."""
        return len(self.latencies_s)

    @property
    def errors(self) -> int:
        """Non-2xx answers, answers carrying GraphQL errors and broken connections."""
        return self.http_errors + self.graphql_errors + self.transport_errors

    @property
    def requests_per_s(self) -> float:
        """Completed requests per second of the run."""
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def note(self, status: int, body: bytes) -> None:
        """Count an answer as a failure when it is not 2xx or carries GraphQL errors."""
        self.body_bytes += len(body)
        if not 200 <= status < 300:
            self.http_errors += 1
        elif b'"errors"' in body:
            self.graphql_errors += 1
        else:
            return
        if self.first_failure is None:
            self.first_failure = f"HTTP {status}: {body[:300]!r}"

    async def exchange(self, connection: Connection, request: bytes, since: float) -> None:
        """Send `request`, wait for its answer and record it, with latency from `since`."""
        status, answer = await asyncio.wait_for(connection.exchange(request), RESPONSE_TIMEOUT_S)
        self.latencies_s.append(time.perf_counter() - since)
        self.note(status, answer)

    def transport_failed(self, error: BaseException) -> None:
        """Count a connection that broke or timed out."""
        self.transport_errors += 1
        self.first_failure = self.first_failure or f"transport: {error!r}"


def encode_request(target: Target, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 POST of a JSON body, ready to write."""
    lines = [
        f"POST {target.path} HTTP/1.1",
        f"Host: {target.host}:{target.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive HTTP/1.1 connection that sends a request and reads its answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, target: Target) -> Connection:
        """Connect to the target."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port), CONNECT_TIMEOUT_S
        )
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one request; the status and body of its answer."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            return status, await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return status, await self._chunked()
        raise ConnectionError("an answer without Content-Length or chunked encoding")

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def _cycle(requests: Sequence[bytes], limit: int) -> Iterator[bytes]:
    if not requests:
        raise ValueError("no requests to send")
    return itertools.islice(itertools.cycle(requests), limit)


async def closed_loop(
    target: Target,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    duration_s: float,
    min_requests: int = 0,
    max_requests: int = MAX_REQUESTS,
) -> LoadResult:
    """Keep `concurrency` requests in flight for `duration_s`, cycling over `requests`.

    Requests in flight at the deadline are awaited and counted. With `min_requests`, a run
    over slow operations goes on past the deadline until that many have completed.
    """
    result = LoadResult()
    pending = _cycle(requests, max_requests)
    started = time.perf_counter()
    deadline = started + duration_s
    sent_count = 0

    async def worker() -> None:
        nonlocal sent_count
        connection = await Connection.open(target)
        try:
            for request in pending:
                sent = time.perf_counter()
                if sent >= deadline and sent_count >= min_requests:
                    return
                sent_count += 1
                await result.exchange(connection, request, sent)
        except TRANSPORT_ERRORS as error:
            result.transport_failed(error)
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


async def open_loop(
    target: Target,
    requests: Sequence[bytes],
    *,
    rate_per_s: float,
    duration_s: float,
    connections: int = 32,
    max_requests: int = MAX_REQUESTS,
) -> LoadResult:
    """Send at `rate_per_s` evenly spaced arrivals; latency counts from each arrival's due time."""
    if rate_per_s <= 0:
        raise ValueError("the arrival rate must be positive")
    result = LoadResult()
    count = min(max_requests, max(1, int(rate_per_s * duration_s)))
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    pool = [await Connection.open(target) for _ in range(connections)]
    started = time.perf_counter()

    async def worker(connection: Connection) -> None:
        try:
            while (item := await queue.get()) is not None:
                due, request = item
                await result.exchange(connection, request, due)
        except TRANSPORT_ERRORS as error:
            result.transport_failed(error)
        finally:
            await connection.close()

    workers = [asyncio.create_task(worker(connection)) for connection in pool]
    for index, request in enumerate(_cycle(requests, count)):
        due = started + index / rate_per_s
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, request))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.elapsed_s = time.perf_counter() - started
    return result


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
