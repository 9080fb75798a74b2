"""The pyramid stays honest: no unit test imports a web framework, directly or through the
modules it tests (tests/README.md says what counts as one, and why Strawberry's core does
not). Each module is imported in a fresh interpreter, since one already loaded by another
test would hide its import; a failure names the chain of modules that pulled it in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = Path(__file__).resolve().parent

# Web frameworks, servers and HTTP clients, and Strawberry's integrations with them.
FORBIDDEN = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "websockets",
    "strawberry.fastapi",
    "strawberry.asgi",
    "strawberry.http",
    "strawberry.aiohttp",
    "strawberry.channels",
    "strawberry.django",
    "strawberry.flask",
    "strawberry.litestar",
    "strawberry.quart",
    "strawberry.sanic",
)

# Run in a fresh interpreter: a meta-path finder that only watches. When a forbidden module
# is first looked up, the modules whose top-level code is running form the import chain.
_WITNESS = textwrap.dedent(
    """
    import importlib, json, sys

    forbidden, module = json.loads(sys.argv[1]), sys.argv[2]
    found = {}

    class Witness:
        def find_spec(self, fullname, path=None, target=None):
            hit = next(
                (f for f in forbidden if fullname == f or fullname.startswith(f + ".")), None
            )
            if hit and hit not in found:
                chain, frame = [], sys._getframe(1)
                while frame is not None:
                    name = frame.f_globals.get("__name__", "?")
                    if frame.f_code.co_name == "<module>" and name != "__main__":
                        chain.append(name)
                    frame = frame.f_back
                found[hit] = [*reversed(chain), fullname]
            return None

    sys.meta_path.insert(0, Witness())
    importlib.import_module(module)
    print(json.dumps(found))
    """
)


def framework_imports(module: str, *, extra_path: Path | None = None) -> dict[str, list[str]]:
    """The forbidden modules that importing `module` loads, each with its import chain."""
    path = [str(ROOT)] + ([str(extra_path)] if extra_path else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _WITNESS, json.dumps(FORBIDDEN), module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"importing {module} failed:\n{done.stderr}"
    found: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return found


def _unit_modules() -> Iterator[str]:
    """The conftest every unit test loads, then every module under tests/unit/."""
    yield "tests.conftest"
    for path in sorted(UNIT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = list(_unit_modules())


@pytest.fixture(scope="module")
def verdicts() -> dict[str, dict[str, list[str]]]:
    """What each module imports of the forbidden ones, measured side by side."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(MODULES, pool.map(framework_imports, MODULES), strict=True))


@pytest.mark.parametrize("module", MODULES)
def test_given_a_unit_test_module_when_imported_alone_then_no_web_framework_loads(
    module: str, verdicts: dict[str, dict[str, list[str]]]
) -> None:
    found = verdicts[module]
    assert not found, (
        f"{module} imports a web framework; make it need none, or move it to "
        "tests/integration/:\n" + "\n".join(" -> ".join(chain) for chain in found.values())
    )


# ---------------------------------------------------------------- the check itself


def _package(tmp_path: Path, **modules: str) -> Path:
    """A package `probe` of `modules` (name: source) under `tmp_path`."""
    package = tmp_path / "probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in modules.items():
        (package / f"{name}.py").write_text(source)
    return tmp_path


def test_given_a_framework_imported_through_a_helper_when_checked_then_the_chain_is_named(
    tmp_path: Path,
) -> None:
    path = _package(
        tmp_path,
        helper="from starlette.types import Scope\n",
        test_indirect="from probe import helper\n",
    )

    found = framework_imports("probe.test_indirect", extra_path=path)

    assert found == {"starlette": ["probe.test_indirect", "probe.helper", "starlette"]}


def test_given_strawberrys_fastapi_integration_when_checked_then_both_are_named(
    tmp_path: Path,
) -> None:
    path = _package(tmp_path, test_context="from strawberry.fastapi import BaseContext\n")

    found = framework_imports("probe.test_context", extra_path=path)

    assert {"strawberry.fastapi", "fastapi"} <= set(found)
    assert found["strawberry.fastapi"][0] == "probe.test_context"


def test_given_only_strawberrys_core_and_graphql_core_when_checked_then_nothing_is_found(
    tmp_path: Path,
) -> None:
    source = "import graphql, strawberry\nfrom strawberry.extensions import SchemaExtension\n"
    path = _package(tmp_path, test_core=source)

    assert framework_imports("probe.test_core", extra_path=path) == {}
