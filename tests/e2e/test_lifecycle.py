"""Graceful shutdown: readiness turns 503 on SIGTERM, and the real server exits cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.lifecycle import Lifecycle

ROOT = Path(__file__).resolve().parents[2]


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_given_a_running_server_when_sigterm_arrives_then_it_drains_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "LOG_FORMAT": "json",
        "SHUTDOWN_DRAIN_SECONDS": "0.5",
    }
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "uvicorn",
            "graph.app:app",
            "--port",
            str(port),
            "--timeout-graceful-shutdown",
            "5",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
    # uvicorn re-raises the signal after a clean shutdown, so supervisors see SIGTERM.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "draining" in output
    assert "Application shutdown complete" in output
    assert "Traceback" not in output
