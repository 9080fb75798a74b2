"""The package structure: layers without cycles, and graph/ reaching the adapters only
through its composition root.

The contracts are `[tool.importlinter]` in pyproject.toml (`lint-imports` checks the same);
docs/ARCHITECTURE.md draws them. The imports are read from the source (grimp parses it),
so nothing is imported or run.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import configuration
from importlinter.application.use_cases import read_user_options
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_TYPES: dict[str, type[Contract]] = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}


@pytest.fixture(scope="module")
def options() -> Any:
    """The import-linter settings of pyproject.toml, read as `lint-imports` reads them."""
    configuration.configure()
    return read_user_options(str(ROOT / "pyproject.toml"))


@pytest.fixture(scope="module")
def imports(options: Any) -> grimp.ImportGraph:
    """Every import of the project's packages, as the source has it."""
    session = options.session_options
    return grimp.build_graph(
        *session["root_packages"],
        include_external_packages=session["include_external_packages"] == "True",
        cache_dir=None,
    )


@pytest.fixture(scope="module")
def contracts(options: Any) -> dict[str, Contract]:
    """The configured contracts, by id."""
    return {
        contract["id"]: CONTRACT_TYPES[contract["type"]](
            name=contract["name"],
            session_options=options.session_options,
            contract_options=contract,
        )
        for contract in options.contracts_options
    }


def broken(contract: Contract, imports: grimp.ImportGraph) -> dict[str, Any] | None:
    """What `contract` finds wrong with `imports`, or None when it is kept."""
    check = contract.check(deepcopy(imports), verbose=False)  # a check may drop ignored edges
    return None if check.kept else dict(check.metadata)


def test_given_the_code_when_its_imports_are_checked_then_every_contract_is_kept(
    contracts: dict[str, Contract], imports: grimp.ImportGraph
) -> None:
    assert set(contracts) == {"layers", "acyclic-modules", "graph-ports"}

    found = {name: broken(contract, imports) for name, contract in contracts.items()}

    assert {name: problem for name, problem in found.items() if problem} == {}


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        # persistence importing audit again: the persistence <-> audit cycle.
        ("persistence.database", "audit.capture", "layers"),
        # auth's use cases reaching the adapters that implement their ports.
        ("auth.service", "persistence.unit_of_work", "layers"),
        # The adapter rings may not reach up into graph/ (observability did, via limits).
        ("observability.operations", "graph.limits", "layers"),
        # archive and verify importing each other.
        ("audit.archive", "audit.verify", "acyclic-modules"),
        # A resolver-side module typed against the concrete unit of work.
        ("graph.context", "persistence.unit_of_work", "graph-ports"),
        # Driver exceptions caught in graph/ instead of translated by the adapter.
        ("graph.errors", "sqlalchemy", "graph-ports"),
        ("graph.ratelimit", "redis", "graph-ports"),
    ],
)
def test_given_a_forbidden_import_when_checked_then_its_contract_breaks(
    contracts: dict[str, Contract],
    imports: grimp.ImportGraph,
    importer: str,
    imported: str,
    contract: str,
) -> None:
    bad = deepcopy(imports)
    bad.add_import(importer=importer, imported=imported)

    assert broken(contracts[contract], bad) is not None
    assert broken(contracts[contract], imports) is None


def test_given_the_composition_root_when_it_imports_an_adapter_then_that_is_allowed(
    contracts: dict[str, Contract], imports: grimp.ImportGraph
) -> None:
    wired = deepcopy(imports)
    wired.add_import(importer="graph.app", imported="persistence.unit_of_work")
    wired.add_import(importer="graph.wiring", imported="sqlalchemy")

    assert broken(contracts["graph-ports"], wired) is None
