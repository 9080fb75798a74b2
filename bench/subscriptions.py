"""Subscription fan-out on one worker: N idle `taskChanged` subscribers, one mutation.

    .venv/bin/python -m bench.subscriptions [--counts 1000 5000 10000] [--port 8590]
        [--no-deflate] [--ws websockets-sansio|websockets|wsproto] [--profile PATH]

`--no-deflate` runs uvicorn with `--ws-per-message-deflate false` (and the clients do not
offer it): permessage-deflate keeps a zlib compressor and decompressor per connection,
about 50 KB of the memory of an idle subscription (docs/REALTIME.md, Scaling).

For each N it starts a fresh uvicorn worker (SQLite file under var/bench-subscriptions/),
opens N WebSockets from this process (graphql-transport-ws, one subscription each), then
makes one `createTask` over HTTP and measures, per N:

- delivery latency (p50, p99): from just before the mutation is sent to each event's
  arrival (so it includes the mutation's own commit);
- server CPU per delivered event: the worker's user+system time during the fan-out / N;
- server RSS per 1,000 idle subscribers: VmRSS after subscribing minus before, per 1,000.

Client and server share the machine, so the latency includes this process's own work of
reading N frames.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "bench-subscriptions"
SUBSCRIPTION = "subscription { taskChanged { cursor action task { id title } } }"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WS_DEFAULT = "websockets-sansio"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _start_server(
    port: int, count: int, *, deflate: bool = True, ws: str = WS_DEFAULT
) -> subprocess.Popen[bytes]:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{WORK / 'bench.db'}",
        "LOG_LEVEL": "WARNING",
        "SUBSCRIPTION_MAX_PER_USER": str(count + 10),
        "RATE_LIMIT_REQUESTS_PER_MINUTE": str(10 * count + 1000),
        "RATE_LIMIT_COST_PER_MINUTE": str(1000 * count + 100_000),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "seeds",
            "--migrate",
            "--no-demo-users",
            "--customers",
            "1",
            "--tasks-per-customer",
            "1",
            "--products",
            "1",
            "--users",
            "1",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
        [
            sys.executable,
            "-m",
            "uvicorn",
            "graph.app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--ws",
            ws,
            "--no-access-log",
            *([] if deflate else ["--ws-per-message-deflate", "false"]),
        ],
        cwd=ROOT,
        env=env,
    )


async def _token(http: httpx.AsyncClient) -> str:
    for _ in range(100):
        try:
            response = await http.post(
                "/graphql",
                json={
                    "query": (
                        'mutation { login(email: "admin@example.com", '
                        'password: "admin-dev-password")'
                        " { accessToken } }"
                    )
                },
            )
            return str(response.json()["data"]["login"]["accessToken"])
        except httpx.TransportError:
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def _subscribe(url: str, token: str, *, deflate: bool = True) -> ClientConnection:
    socket = await connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=4,
        compression="deflate" if deflate else None,
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await socket.recv())
    assert ack["type"] == "connection_ack", ack
    await socket.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
    )
    return socket


async def _receive(socket: ClientConnection) -> float:
    message = json.loads(await socket.recv())
    arrived = time.time()
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return arrived


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(
    count: int,
    port: int,
    *,
    deflate: bool = True,
    ws: str = WS_DEFAULT,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One run with `count` subscribers; `profile`: py-spy's raw samples of the fan-out."""
    server = _start_server(port, count, deflate=deflate, ws=ws)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            token = await _token(http)
            await asyncio.sleep(1)
            rss_before = _rss_kb(server.pid)
            url = f"ws://127.0.0.1:{port}/graphql"
            sockets: list[ClientConnection] = []
            for start in range(0, count, 200):
                sockets += await asyncio.gather(
                    *(
                        _subscribe(url, token, deflate=deflate)
                        for _ in range(min(200, count - start))
                    )
                )
            await asyncio.sleep(2)  # every subscribe processed, the heap settled
            rss_after = _rss_kb(server.pid)
            receivers = [asyncio.create_task(_receive(socket)) for socket in sockets]
            await asyncio.sleep(0.5)
            spy = _profiler(server.pid, profile) if profile is not None else None
            cpu_before = _cpu_seconds(server.pid)
            sent = time.time()
            response = await http.post(
                "/graphql",
                json={
                    "query": 'mutation { createTask(input: {title: "fan-out"}) { task { id } } }'
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert "errors" not in response.json(), response.text
            arrivals = await asyncio.wait_for(asyncio.gather(*receivers), 120)
            cpu = _cpu_seconds(server.pid) - cpu_before
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            for socket in sockets:
                await socket.close()
        latencies = [arrived - sent for arrived in arrivals]
        return {
            "subscribers": count,
            "deflate": deflate,
            "ws": ws,
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
            "cpu_us_per_event": round(cpu / count * 1e6, 1),
            "rss_mb_per_1000": round((rss_after - rss_before) / count * 1000 / 1024, 2),
            "rss_kb_per_subscription": round((rss_after - rss_before) / count, 1),
            "rss_mb_total": round(rss_after / 1024, 1),
        }
    finally:
        server.terminate()
        server.wait(20)


def _profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy (the PY_SPY executable, else on PATH) sampling `pid` until interrupted."""
    spy = subprocess.Popen(  # noqa: S603 - a profiler of our own server
        [
            os.environ.get("PY_SPY", "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "500",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)  # attached before the mutation
    return spy


def main() -> None:
    """Run every count and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--port", type=int, default=8590)
    parser.add_argument("--no-deflate", action="store_true", help="no permessage-deflate")
    parser.add_argument(
        "--ws", default=WS_DEFAULT, help="uvicorn's WebSocket implementation (--ws)"
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy raw samples of the fan-out, to this file (+ count)"
    )
    args = parser.parse_args()
    for count in args.counts:
        profile = None if args.profile is None else args.profile.with_suffix(f".{count}.txt")
        result = asyncio.run(
            measure(count, args.port, deflate=not args.no_deflate, ws=args.ws, profile=profile)
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
