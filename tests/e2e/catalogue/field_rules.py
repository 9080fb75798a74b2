"""Text that misleads a reader or breaks a field's rules.

Invisible and reordering characters and control characters in single-line fields, and
strings over their length limit or out of their format, are BAD_USER_INPUT.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.catalogue import BAD_USER_INPUT, Build, Case, op
from tests.e2e.catalogue import operations as ops
from tests.e2e.catalogue.operations import (
    customer_input,
    product_input,
    role_input,
    task_input,
    user_input,
)


def refused(case_id: str, query: str, variables: dict[str, Any]) -> Case:
    """A request whose text must be refused as BAD_USER_INPUT."""
    return op(case_id, query, variables, code=BAD_USER_INPUT)


# Characters that hide or reorder text, and control characters, in single-line fields.
INVISIBLE = {
    "zero-width-space-only": "\u200b\u200b",
    "right-to-left-override": "Safe\u202eeman",
    "left-to-right-isolate": "Inv\u2066isible",
    "pop-directional-isolate": "Inv\u2069isible",
    "byte-order-mark": "\ufeffBOM",
    "soft-hyphen-only": "\u00ad\u00ad",
    "word-joiner": "Word\u2060joiner",
    "left-to-right-mark": "a\u200eb",
    "mongolian-vowel-separator": "a\u180eb",
    "bell": "Bell\u0007",
    "escape-sequence": "\u001b[31mred",
    "delete": "Del\u007f",
    "newline": "Two\nlines",
    "carriage-return": "Two\rlines",
    "next-line": "Two\u0085lines",
    "line-separator": "Two\u2028lines",
    "whitespace-only": "   ",
    "combining-marks-only": "\u0301\u0301",
}
FEW = ("zero-width-space-only", "right-to-left-override", "bell", "byte-order-mark")


def invisible(case_id: str, query: str, build: Build, names: tuple[str, ...] = FEW) -> list[Case]:
    """One case per kind of hiding character: `build(text)` -> variables."""
    return [refused(f"{case_id}-{name}", query, build(INVISIBLE[name])) for name in names]


LOOKS = [
    *invisible(
        "create-product-name",
        ops.CREATE_PRODUCT,
        lambda t: {"input": product_input(name=t)},
        tuple(INVISIBLE),
    ),
    *invisible("create-task-title", ops.CREATE_TASK, lambda t: {"input": task_input(title=t)}),
    *invisible(
        "create-product-sku",
        ops.CREATE_PRODUCT,
        lambda t: {"input": product_input(sku=f"AB{t}C")},
        ("zero-width-space-only", "right-to-left-override", "bell"),
    ),
    refused(
        "create-product-sku-sharp-s",
        ops.CREATE_PRODUCT,
        {"input": product_input(sku="stra\u00dfe")},
    ),
    *invisible(
        "create-customer-name",
        ops.CREATE_CUSTOMER,
        lambda t: {"input": customer_input(name=t)},
        ("zero-width-space-only", "right-to-left-override", "bell"),
    ),
    *invisible(
        "create-customer-company",
        ops.CREATE_CUSTOMER,
        lambda t: {"input": customer_input(company=t)},
        ("left-to-right-isolate", "bell", "newline"),
    ),
    *invisible("create-role-name", ops.CREATE_ROLE, lambda t: {"input": role_input(name=t)}),
    *invisible(
        "create-user-full-name",
        ops.CREATE_USER,
        lambda t: {"input": user_input(fullName=t)},
        ("right-to-left-override", "bell"),
    ),
    *invisible(
        "update-product-name",
        ops.UPDATE_PRODUCT,
        lambda t: {"id": "<<product>>", "input": {"name": t}},
        ("right-to-left-override", "whitespace-only"),
    ),
    *invisible(
        "update-customer-company",
        ops.UPDATE_CUSTOMER,
        lambda t: {"id": "<<customer>>", "input": {"company": t}},
        ("bell",),
    ),
    *invisible(
        "update-task-title",
        ops.UPDATE_TASK,
        lambda t: {"id": "<<task>>", "input": {"title": t}},
        ("zero-width-space-only",),
    ),
    *invisible(
        "update-role-name",
        ops.UPDATE_ROLE,
        lambda t: {"id": "<<role>>", "input": {"name": t}},
        ("left-to-right-isolate",),
    ),
    *invisible(
        "create-product-description",
        ops.CREATE_PRODUCT,
        lambda t: {"input": product_input(description=t)},
        ("right-to-left-override",),
    ),
]

# Lengths and formats.
LIMITS = [
    refused(
        "create-product-name-201-chars",
        ops.CREATE_PRODUCT,
        {"input": product_input(name="n" * 201)},
    ),
    refused(
        "create-product-description-5001-chars",
        ops.CREATE_PRODUCT,
        {"input": product_input(description="d" * 5001)},
    ),
    refused(
        "create-product-sku-33-chars", ops.CREATE_PRODUCT, {"input": product_input(sku="S" * 33)}
    ),
    refused("create-product-sku-2-chars", ops.CREATE_PRODUCT, {"input": product_input(sku="AB")}),
    refused(
        "create-product-sku-with-space", ops.CREATE_PRODUCT, {"input": product_input(sku="AB C")}
    ),
    refused("create-product-blank-name", ops.CREATE_PRODUCT, {"input": product_input(name="")}),
    refused(
        "create-customer-name-201-chars",
        ops.CREATE_CUSTOMER,
        {"input": customer_input(name="n" * 201)},
    ),
    refused(
        "create-customer-email-over-254-chars",
        ops.CREATE_CUSTOMER,
        {"input": customer_input(email="e" * 250 + "@catalogue.test")},
    ),
    refused(
        "create-customer-email-malformed",
        ops.CREATE_CUSTOMER,
        {"input": customer_input(email="not-an-email")},
    ),
    refused(
        "create-customer-phone-33-chars",
        ops.CREATE_CUSTOMER,
        {"input": customer_input(phone="1" * 33)},
    ),
    refused("create-task-title-201-chars", ops.CREATE_TASK, {"input": task_input(title="t" * 201)}),
    refused("create-role-name-65-chars", ops.CREATE_ROLE, {"input": role_input(name="r" * 65)}),
    refused(
        "create-role-description-501-chars",
        ops.CREATE_ROLE,
        {"input": role_input(description="d" * 501)},
    ),
    refused(
        "create-user-password-11-chars", ops.CREATE_USER, {"input": user_input(password="p" * 11)}
    ),
    refused(
        "create-user-password-129-chars", ops.CREATE_USER, {"input": user_input(password="p" * 129)}
    ),
    refused("create-user-email-malformed", ops.CREATE_USER, {"input": user_input(email="x@y")}),
    refused("products-search-201-chars", ops.PRODUCTS, {"f": {"search": "s" * 201}}),
    refused("customers-search-201-chars", ops.CUSTOMERS, {"f": {"search": "s" * 201}}),
    refused("tasks-search-control-char", ops.TASKS, {"f": {"search": "a\u0007b"}}),
]

CASES = [*LOOKS, *LIMITS]
