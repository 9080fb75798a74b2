"""Graceful shutdown: readiness turns 503 on SIGTERM, and the real server exits cleanly."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from graph.lifecycle import Lifecycle
from tests.e2e.servers import running_server, server_env


async def test_given_draining_when_readiness_is_asked_then_503(
    app: Any, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/readyz")).status_code == 200

    app.state.lifecycle.begin_draining()

    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "shutting down"}
    assert (await client.get("/healthz")).status_code == 200


def test_given_a_server_handler_when_sigterm_arrives_then_draining_starts_and_it_still_runs() -> (
    None
):
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: calls.append(signum))
    try:
        lifecycle = Lifecycle()
        lifecycle.install((signal.SIGTERM,))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert lifecycle.draining
        assert calls == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_given_a_running_server_when_sigterm_arrives_then_it_drains_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", shutdown_drain_seconds="0.5")
    async with running_server(env, grace_seconds=5, ready_path="/healthz") as server:
        server.process.send_signal(signal.SIGTERM)
        output = await server.exited()
    # uvicorn re-raises the signal after a clean shutdown, so supervisors see SIGTERM.
    assert server.process.returncode in (0, -signal.SIGTERM), output
    assert "draining" in output
    assert "Application shutdown complete" in output
    assert "Traceback" not in output
