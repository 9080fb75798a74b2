"""Metric labels stay bounded whatever clients send.

The rules are pure, but `observability.metrics` and `observability.http` import Starlette
at import time (the `/metrics` endpoint and the ASGI middleware live beside the rules), so
this is an integration test until the label rules have a module of their own."""

from __future__ import annotations

from observability.http import record_errors
from observability.metrics import (
    ANONYMOUS,
    OTHER,
    OperationNames,
    error_code_label,
    operation_type_label,
)


def test_given_a_budget_of_three_when_a_thousand_names_come_then_three_labels_and_other() -> None:
    names = OperationNames(limit=3)
    labels = {names.label(f"Op{n}", is_valid=True) for n in range(1000)}
    assert labels == {"Op0", "Op1", "Op2", OTHER}


def test_given_no_name_when_labelled_then_anonymous() -> None:
    assert OperationNames(limit=3).label(None, is_valid=True) == ANONYMOUS
    assert OperationNames(limit=3).label("", is_valid=False) == ANONYMOUS


def test_given_an_invalid_operation_or_a_malformed_name_then_it_is_never_admitted() -> None:
    names = OperationNames(limit=3)
    assert names.label("Typo", is_valid=False) == OTHER
    assert names.label("x" * 65, is_valid=True) == OTHER
    assert names.label("bad name", is_valid=True) == OTHER
    # Nothing was admitted: a valid name still finds room.
    assert names.label("Good", is_valid=True) == "Good"
    assert names.label("Typo", is_valid=True) == "Typo"


def test_given_codes_and_types_from_outside_the_enum_then_they_collapse() -> None:
    assert error_code_label("FORBIDDEN") == "FORBIDDEN"
    assert error_code_label("MADE_UP_BY_A_CLIENT") == OTHER
    assert error_code_label(None) == OTHER
    assert operation_type_label("mutation") == "mutation"
    assert operation_type_label(None) == "unknown"


def test_given_errors_without_extensions_when_recorded_then_nothing_breaks() -> None:
    record_errors([{"message": "x"}, {"message": "y", "extensions": "not a dict", "path": 3}])
