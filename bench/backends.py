"""The CPU time a server's PostgreSQL backends spend on its behalf.

PostgreSQL runs one backend process per connection, and a server that pushes work into
SQL (PostGraphile builds one JSON document per query in the database) would look cheap
if only its own process were timed. So every measured window also samples the backends
of the server's connections:

1. the local ports of the server's established TCP connections to the database's port,
   from its open sockets (`/proc/<pid>/fd`) and the socket table (`/proc/<pid>/net/tcp`);
2. the backends serving those ports, from `pg_stat_activity.client_port` (the benchmark's
   own monitoring connection is not among them);
3. each backend's utime + stime from `/proc/<backend pid>/stat`, which needs the database
   on this machine, in the same process namespace.

A backend is keyed by its pid and start time, so a pid reused by a new connection starts
from zero. What a window costs is the growth of every backend seen at its end over the
start (all of it for a backend that appeared during the window). A backend that closed
before the window's end is lost, so servers keep their pools open; PostgreSQL's parallel
workers, short-lived processes of their own, are not counted either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from bench import procfs

ACTIVITY = """
SELECT pid, backend_start::text FROM pg_stat_activity
WHERE client_port = ANY($1::int[]) AND backend_type = 'client backend'
"""


@dataclass(frozen=True, slots=True)
class Backend:
    """One PostgreSQL backend: its pid and when it started (pids are reused)."""

    pid: int
    started: str


Sample = Mapping[Backend, procfs.CpuTimes]


def attribute(before: Sample | None, after: Sample | None) -> procfs.CpuTimes | None:
    """The backends' CPU time over a window: each backend's growth from `before` to
    `after`, all of it for one not seen before. None when either sample is missing."""
    if before is None or after is None:
        return None
    total = procfs.CpuTimes(0.0, 0.0)
    for backend, times in after.items():
        grown = times - before.get(backend, procfs.CpuTimes(0.0, 0.0))
        total = procfs.CpuTimes(total.user_s + grown.user_s, total.system_s + grown.system_s)
    return total


def database_port(database_url: str) -> int | None:
    """The TCP port of a PostgreSQL URL (5432 when unsaid); None for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.port or 5432


class BackendMonitor:
    """Samples the backends of server processes through one monitoring connection."""

    def __init__(self, database_url: str) -> None:
        port = database_port(database_url)
        if port is None:
            raise ValueError(f"not a PostgreSQL URL: {database_url}")
        self.port = port
        self._dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._runner = asyncio.Runner()
        self._connection: Any = None

    async def _rows(self, ports: list[int]) -> list[Any]:
        import asyncpg

        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self._dsn)
        return list(await self._connection.fetch(ACTIVITY, ports))

    def sample(self, pid: int) -> dict[Backend, procfs.CpuTimes] | None:
        """The CPU times so far of every backend serving a connection of `pid`; None when
        the backends are not processes of this machine (a remote database)."""
        ports = sorted(procfs.database_client_ports(pid, self.port))
        if not ports:
            return {}
        rows = self._runner.run(self._rows(ports))
        found: dict[Backend, procfs.CpuTimes] = {}
        for row in rows:
            backend_pid = int(row[0])
            if procfs.command_name(backend_pid) != "postgres":
                continue  # not a local PostgreSQL process: a remote server, or gone
            times = procfs.process_cpu(backend_pid)
            if times is not None:
                found[Backend(backend_pid, str(row[1]))] = times
        return found if found or not rows else None

    def close(self) -> None:
        """Close the monitoring connection and its event loop."""
        if self._connection is not None:
            self._runner.run(self._connection.close())
            self._connection = None
        self._runner.close()
