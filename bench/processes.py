"""Server processes: one uvicorn per variant on its own loopback port, logging to a file."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import orjson

from bench import procfs
from bench.backends import Backend, BackendMonitor
from bench.statements import IN_FLIGHT_PATH, STATEMENTS_PATH

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
# Kept on, as in production, but far above what the load asks, so no request is refused.
ROOMY_LIMITS = {
    "RATE_LIMIT_REQUESTS_PER_MINUTE": "100000000",
    "RATE_LIMIT_COST_PER_MINUTE": "1000000000000",
}


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def clean_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any of the app's settings.

    A developer's exported DATABASE_ECHO or REDIS_URL must not change what is measured, so
    the servers and the seeder get the defaults plus what the benchmark sets. (Their working
    directory is not the repository either, so no `.env` file is read.)
    """
    from config.settings import Settings

    names = {name.upper() for name in Settings.model_fields}
    return {
        k: v for k, v in (os.environ if base is None else base).items() if k.upper() not in names
    }


def server_environment(
    database_url: str,
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The production environment of a server: a fresh random JWT secret for every process."""
    env = clean_environment(base)
    env.update(
        ENVIRONMENT="production",
        JWT_SECRET=secrets.token_urlsafe(48),
        DATABASE_URL=database_url,
        **ROOMY_LIMITS,
        **(extra or {}),
    )
    return env


@dataclass
class ServerProcess:
    """A running `uvicorn --factory bench.servers:<factory>`; stop it with `stop()`."""

    variant: str
    factory: str
    database_url: str
    log_path: Path
    app_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # Samples the server's PostgreSQL backends (bench/backends.py); None on SQLite.
    backends: BackendMonitor | None = None
    _log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def command(self) -> list[str]:
        """The uvicorn command line: one worker, uvloop, httptools, loopback."""
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(self.app_dir),
            "--factory",
            f"bench.servers:{self.factory}",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]

    def environment(self) -> dict[str, str]:
        """The process's environment."""
        return server_environment(self.database_url, self.extra_env)

    def start(self) -> None:
        """Start the process (in its log folder, away from any `.env`); wait for /healthz."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n== {' '.join(self.command())}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments, no shell
            self.command(),
            cwd=self.log_path.parent,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.variant} exited with {self.process.returncode} while starting;"
                    f" see {self.log_path}:\n{tail(self.log_path)}"
                )
            try:
                status, _ = self.get("/healthz", timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.variant} did not answer /healthz in time; see {self.log_path}")

    def get(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        """A GET on the server."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def post(self, body: bytes, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """A POST of a JSON body to /graphql."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=60.0)
        try:
            all_headers = {"Content-Type": "application/json", **(headers or {})}
            connection.request("POST", "/graphql", body=body, headers=all_headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def take_statements(self) -> tuple[int, dict[str, int]]:
        """Requests received and statements sent since the last call; counting restarts."""
        status, body = self.get(STATEMENTS_PATH)
        if status != 200:
            raise RuntimeError(f"{self.variant}: {STATEMENTS_PATH} answered {status}")
        taken = orjson.loads(body)
        return int(taken["requests"]), dict(taken["statements"])

    def wait_idle(self, timeout_s: float = 120.0) -> None:
        """Wait until the server has answered every request it received (a client that
        stops at a deadline, like wrk, leaves some in flight)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status, body = self.get(IN_FLIGHT_PATH)
            if status == 200 and orjson.loads(body)["in_flight"] == 0:
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.variant}: requests still in flight after {timeout_s:g} s")

    def cpu(self) -> procfs.CpuTimes:
        """CPU time used so far by the server and its children."""
        return procfs.cpu_times(self.pid)

    def backend_cpu(self) -> dict[Backend, procfs.CpuTimes] | None:
        """CPU time used so far by the database backends of the server's connections;
        None on SQLite or when they cannot be read."""
        return None if self.backends is None else self.backends.sample(self.pid)

    def peak_rss_kib(self) -> int | None:
        """The server's peak resident memory so far."""
        return procfs.peak_rss_kib(self.pid)

    def stop(self) -> None:
        """SIGINT, as Ctrl-C would; SIGKILL only if it does not exit in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def run_checked(command: list[str], *, cwd: Path, env: Mapping[str, str]) -> str:
    """Run a command to completion; its stdout, or an error with its output."""
    completed = subprocess.run(  # noqa: S603 - our own arguments, no shell
        command, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
        )
    return completed.stdout
