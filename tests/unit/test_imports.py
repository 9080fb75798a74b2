"""Importing any module of the product does no I/O: no folder is made, no socket opened,
and `graph.app` and `graph.schema` build their app and schema only when asked for them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter, from an empty folder, with sockets refused: every module of
# every product package is imported (command-line `__main__` modules excepted).
PROBE = textwrap.dedent(
    """
    import importlib, os, pkgutil, socket, sys

    def refuse(*args, **kwargs):
        raise AssertionError(f"a socket was opened at import: {args!r}")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    packages = ["config", "domain", "persistence", "auth", "audit", "graph", "observability",
                "realtime", "seeds"]
    imported = []
    for package in packages:
        module = importlib.import_module(package)
        imported.append(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if info.name.rsplit(".", 1)[-1] == "__main__":
                continue
            importlib.import_module(info.name)
            imported.append(info.name)
    app_module = sys.modules["graph.app"]
    schema_module = sys.modules["graph.schema"]
    assert "app" not in vars(app_module), "graph.app built its app at import"
    assert "schema" not in vars(schema_module), "graph.schema built its schema at import"
    assert os.listdir(".") == [], f"importing wrote {os.listdir('.')}"
    print(len(imported))
    """
)


def test_given_every_product_module_when_imported_then_no_io_happens(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DATABASE_URL", None)

    done = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip().splitlines()[-1]) > 50  # the walk really imported modules


def test_given_the_entry_point_when_asked_for_app_then_it_is_built_once() -> None:
    import graph.app

    first = graph.app.app
    second = graph.app.app

    assert first is second
    assert first.title == "Task Graph API"
