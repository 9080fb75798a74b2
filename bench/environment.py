"""What a result was measured with: library versions and the machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = (
    "strawberry-graphql",
    "graphql-core",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "starlette",
    "aiosqlite",
    "asyncpg",
    "orjson",
    "uvloop",
    "httptools",
)


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that matter here, and Python's and SQLite's."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    versions["sqlite"] = sqlite3.sqlite_version
    return versions


def cpu_model(cpuinfo: str) -> str | None:
    """The `model name` line of /proc/cpuinfo."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name":
            return value.strip()
    return None


def memory_total_kib(meminfo: str) -> int | None:
    """MemTotal of /proc/meminfo, in KiB."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def tool_version(executable: str | None) -> str | None:
    """The first line `wrk -v` prints (wrk has no --version)."""
    if executable is None:
        return None
    try:
        completed = subprocess.run(  # noqa: S603 - a fixed probe of a found executable
            [executable, "-v"], capture_output=True, text=True, timeout=5, check=False
        )
    except OSError:
        return None
    lines = (completed.stdout or completed.stderr).splitlines()
    return lines[0].split(" Copyright")[0].strip() if lines else None


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory and kernel of this machine."""
    memory = memory_total_kib(_read("/proc/meminfo"))
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(_read("/proc/cpuinfo")),
        "memory_gib": None if memory is None else round(memory / 1024 / 1024, 1),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python_executable": sys.executable,
    }
