"""The committed SDL keeps the public contract. That it is the code's own SDL is checked in
tests/integration/test_schema.py (building the code's schema imports FastAPI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import BreakingChangeType, build_schema, find_breaking_changes

ROOT = Path(__file__).resolve().parents[2]
SHARED_CONTRACT = ROOT.parent / "shared" / "api-contract.graphql"
VENDORED_CONTRACT = ROOT / "docs" / "api-contract.graphql"
SHARED_SUBSCRIPTIONS = ROOT.parent / "shared" / "api-contract-subscriptions.graphql"
VENDORED_SUBSCRIPTIONS = ROOT / "docs" / "api-contract-subscriptions.graphql"
# The team's copy beside the repo is authoritative; the vendored one serves clones without it.
CONTRACT = SHARED_CONTRACT if SHARED_CONTRACT.exists() else VENDORED_CONTRACT
# The subscriptions addition names types of the main contract, so both make one schema.
SUBSCRIPTIONS = SHARED_SUBSCRIPTIONS if SHARED_SUBSCRIPTIONS.exists() else VENDORED_SUBSCRIPTIONS


def _contract_sdl() -> str:
    return CONTRACT.read_text() + "\n" + SUBSCRIPTIONS.read_text()


# Contract parts not delivered yet: empty now that the whole contract is served. The test
# below keeps the mechanism honest should a later change need to stage a contract part.
PENDING: set[tuple[BreakingChangeType, str]] = set()


def _subject(description: str) -> str:
    # graphql-core describes removals as "<Name> was removed..." or "Field <T.f> was removed.".
    words = description.replace("Standard scalar ", "").replace("Field ", "").split()
    return words[0]


def test_given_the_contract_when_compared_then_only_pending_parts_are_missing() -> None:
    contract = build_schema(_contract_sdl())
    ours = build_schema((ROOT / "schema.graphql").read_text())
    found = {(c.type, _subject(c.description)) for c in find_breaking_changes(contract, ours)}
    unexpected = found - PENDING
    delivered = PENDING - found
    assert not unexpected, f"breaking changes against the contract: {sorted(unexpected)}"
    assert not delivered, f"delivered now, remove from PENDING: {sorted(delivered)}"


def test_given_a_removed_field_when_compared_then_the_check_reports_it() -> None:
    contract = build_schema(_contract_sdl())
    sdl = (ROOT / "schema.graphql").read_text()
    product_type = "type Product implements Node {\n  id: ID!\n"
    assert product_type + "  sku: String!\n" in sdl
    broken = build_schema(sdl.replace(product_type + "  sku: String!\n", product_type, 1))
    found = {(c.type, _subject(c.description)) for c in find_breaking_changes(contract, broken)}
    assert (BreakingChangeType.FIELD_REMOVED, "Product.sku") in found


def test_given_the_shared_contract_when_present_then_the_vendored_copy_matches_it() -> None:
    if not SHARED_CONTRACT.exists():
        pytest.skip("no ../shared beside this clone; the vendored copy is used")
    assert VENDORED_CONTRACT.read_text() == SHARED_CONTRACT.read_text(), (
        "docs/api-contract.graphql is out of date: copy ../shared/api-contract.graphql over it"
    )


def test_given_the_contract_then_both_files_are_checked_and_subscriptions_are_in_it() -> None:
    contract = build_schema(_contract_sdl())
    subscription = contract.subscription_type
    assert subscription is not None
    assert set(subscription.fields) == {
        "taskChanged",
        "productChanged",
        "customerChanged",
        "auditLogAdded",
    }


def test_given_a_removed_subscription_when_compared_then_the_check_reports_it() -> None:
    contract = build_schema(_contract_sdl())
    sdl = (ROOT / "schema.graphql").read_text()
    line = (
        '  """Changes to products (PRODUCTS read)."""\n'
        "  productChanged(after: String = null): ProductChangeEvent!\n"
    )
    assert line in sdl
    broken = build_schema(sdl.replace(line, "", 1))
    found = {(c.type, _subject(c.description)) for c in find_breaking_changes(contract, broken)}
    assert (BreakingChangeType.FIELD_REMOVED, "Subscription.productChanged") in found


def test_given_the_shared_subscriptions_contract_when_present_then_the_vendored_copy_matches() -> (
    None
):
    if not SHARED_SUBSCRIPTIONS.exists():
        pytest.skip("no ../shared beside this clone; the vendored copy is used")
    assert VENDORED_SUBSCRIPTIONS.read_text() == SHARED_SUBSCRIPTIONS.read_text(), (
        "docs/api-contract-subscriptions.graphql is out of date: copy "
        "../shared/api-contract-subscriptions.graphql over it"
    )
