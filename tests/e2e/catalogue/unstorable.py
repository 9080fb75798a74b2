"""Text no column, log or response can hold: lone surrogates and NUL.

A lone surrogate is not UTF-8: anywhere in the request (a variable, an input object, a
list, a key, the operation name, the document) it is refused at the HTTP edge as
BAD_USER_INPUT, with or without a token; escaped in a GraphQL string literal the lexer
refuses it (GRAPHQL_PARSE_FAILED). NUL is valid UTF-8 that PostgreSQL cannot store: the
field validators refuse it where text is stored or compared (BAD_USER_INPUT), a
credential holding it simply matches nothing (UNAUTHENTICATED), an operation name
holding it names no operation (400), and a comment holding it is ignored.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import SUPERUSER_PASSWORD
from tests.e2e.catalogue import (
    BAD_REQUEST,
    BAD_USER_INPUT,
    PARSE_FAILED,
    UNAUTHENTICATED,
    Build,
    Case,
    op,
)
from tests.e2e.catalogue import operations as ops
from tests.e2e.catalogue.operations import (
    customer_input,
    product_input,
    role_input,
    task_input,
    user_input,
)

SURROGATE = "\ud800"
LOW_SURROGATE = "\udfff"
NUL = "\x00"
UNSTORABLE = {"surrogate": SURROGATE, "low-surrogate": LOW_SURROGATE, "nul": NUL}


def refused(
    case_id: str, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
) -> Case:
    """A request whose text must be refused as BAD_USER_INPUT."""
    return op(case_id, query, variables, code=BAD_USER_INPUT, **kwargs)


def each(
    kinds: str,
    case_id: str,
    query: str,
    build: Build,
    *,
    nul_code: str = BAD_USER_INPUT,
    **kwargs: Any,
) -> list[Case]:
    """One case per kind of unstorable text ("surrogate nul"): `build(text)` -> variables.

    `nul_code` is what NUL gets where it is no field error (a credential matches nothing).
    """
    return [
        op(
            f"{case_id}-{kind}",
            query,
            build(UNSTORABLE[kind]),
            code=nul_code if kind == "nul" else BAD_USER_INPUT,
            **kwargs,
        )
        for kind in kinds.split()
    ]


def parse_failed(case_id: str, query: str, **kwargs: Any) -> Case:
    """A GraphQL string literal with an escaped lone surrogate: the lexer refuses it."""
    return op(case_id, query, code=PARSE_FAILED, message="Invalid Unicode escape", **kwargs)


VARIABLES = [
    *each(
        "surrogate low-surrogate nul",
        "products-search",
        ops.PRODUCTS,
        lambda t: {"f": {"search": f"a{t}"}},
    ),
    *each(
        "surrogate nul", "products-sku-filter", ops.PRODUCTS, lambda t: {"f": {"sku": f"CAT{t}"}}
    ),
    *each(
        "surrogate nul",
        "customers-company-filter",
        ops.CUSTOMERS,
        lambda t: {"f": {"company": f"Acme{t}"}},
    ),
    *each("nul", "customers-email-filter", ops.CUSTOMERS, lambda t: {"f": {"email": f"a{t}@b.co"}}),
    *each("surrogate nul", "customers-search", ops.CUSTOMERS, lambda t: {"f": {"search": t}}),
    *each("surrogate nul", "tasks-search", ops.TASKS, lambda t: {"f": {"search": t}}),
    *each("surrogate nul", "products-after-cursor", ops.PRODUCTS, lambda t: {"after": t}),
    *each("low-surrogate", "customers-after-cursor", ops.CUSTOMERS, lambda t: {"after": t}),
    *each(
        "surrogate nul",
        "products-by-name-after-cursor",
        ops.PRODUCTS_BY_NAME,
        lambda t: {"after": f"<<name_cursor>>{t}"},
    ),
    *each(
        "nul", "products-before-cursor", ops.PRODUCTS_BACKWARDS, lambda t: {"before": t, "last": 2}
    ),
    *each(
        "surrogate low-surrogate nul",
        "create-product-name",
        ops.CREATE_PRODUCT,
        lambda t: {"input": product_input(name=f"Widget {t}")},
    ),
    *each(
        "surrogate nul",
        "create-product-description",
        ops.CREATE_PRODUCT,
        lambda t: {"input": product_input(description=f"Line {t}")},
    ),
    *each(
        "nul",
        "create-product-sku",
        ops.CREATE_PRODUCT,
        lambda t: {"input": product_input(sku=f"AB{t}C")},
    ),
    *each(
        "surrogate nul",
        "update-product-name",
        ops.UPDATE_PRODUCT,
        lambda t: {"id": "<<product>>", "input": {"name": f"Widget {t}"}},
    ),
    *each(
        "nul",
        "create-customer-name",
        ops.CREATE_CUSTOMER,
        lambda t: {"input": customer_input(name=f"Name {t}")},
    ),
    *each(
        "surrogate",
        "create-customer-email",
        ops.CREATE_CUSTOMER,
        lambda t: {"input": customer_input(email=f"x{t}@catalogue.test")},
    ),
    *each(
        "surrogate",
        "create-customer-company",
        ops.CREATE_CUSTOMER,
        lambda t: {"input": customer_input(company=f"Acme {t}")},
    ),
    *each(
        "nul",
        "create-customer-phone",
        ops.CREATE_CUSTOMER,
        lambda t: {"input": customer_input(phone=f"+1 555{t}")},
    ),
    *each(
        "surrogate nul",
        "create-task-title",
        ops.CREATE_TASK,
        lambda t: {"input": task_input(title=f"Install {t}")},
    ),
    *each(
        "nul",
        "create-task-description",
        ops.CREATE_TASK,
        lambda t: {"input": task_input(description=f"Notes {t}")},
    ),
    *each(
        "surrogate nul",
        "create-role-name",
        ops.CREATE_ROLE,
        lambda t: {"input": role_input(name=f"role {t}")},
    ),
    *each(
        "nul",
        "create-role-description",
        ops.CREATE_ROLE,
        lambda t: {"input": role_input(description=f"About {t}")},
    ),
    *each(
        "surrogate",
        "update-role-name",
        ops.UPDATE_ROLE,
        lambda t: {"id": "<<role>>", "input": {"name": f"role {t}"}},
    ),
    *each(
        "surrogate nul",
        "create-user-password",
        ops.CREATE_USER,
        lambda t: {"input": user_input(password=f"a-long-password-{t}")},
    ),
    *each(
        "nul",
        "create-user-email",
        ops.CREATE_USER,
        lambda t: {"input": user_input(email=f"u{t}@catalogue.test")},
    ),
    *each(
        "surrogate",
        "create-user-full-name",
        ops.CREATE_USER,
        lambda t: {"input": user_input(fullName=f"Full {t}")},
    ),
    # The right current password, so only the new one can be refused; the caller is a user
    # of its own, whose tokens a wrongly accepted change would revoke.
    *each(
        "surrogate nul",
        "change-password-new",
        ops.CHANGE_PASSWORD,
        lambda t: {"current": SUPERUSER_PASSWORD, "new": f"a-long-password-{t}"},
        caller="changer",
    ),
    *each(
        "surrogate nul",
        "audit-logs-entity-filter",
        ops.AUDIT_LOGS,
        lambda t: {"f": {"entity": f"products{t}"}},
    ),
    *each(
        "nul", "audit-logs-entity-id-filter", ops.AUDIT_LOGS, lambda t: {"f": {"entityId": f"1{t}"}}
    ),
    *each("nul", "audit-logs-request-id-filter", ops.AUDIT_LOGS, lambda t: {"f": {"requestId": t}}),
    *each(
        "surrogate nul",
        "access-logs-request-id-filter",
        ops.ACCESS_LOGS,
        lambda t: {"f": {"requestId": t}},
    ),
    *each(
        "surrogate nul",
        "access-logs-operation-name-filter",
        ops.ACCESS_LOGS,
        lambda t: {"f": {"operationName": f"Op{t}"}},
    ),
    # Callers without a token: the text is refused before anyone is looked up.
    *each(
        "surrogate nul",
        "anonymous-login-email",
        ops.LOGIN,
        lambda t: {"email": f"root{t}@test.example", "password": "long-enough-password"},
        caller=None,
        nul_code=UNAUTHENTICATED,
    ),
    *each(
        "surrogate nul",
        "anonymous-login-password",
        ops.LOGIN,
        lambda t: {"email": "root@test.example", "password": f"long-enough-{t}"},
        caller=None,
        nul_code=UNAUTHENTICATED,
    ),
    *each(
        "surrogate low-surrogate nul",
        "anonymous-refresh-token",
        ops.REFRESH,
        lambda t: {"token": f"abc{t}"},
        caller=None,
        nul_code=UNAUTHENTICATED,
    ),
    *each(
        "surrogate nul",
        "anonymous-logout-token",
        ops.LOGOUT,
        lambda t: {"token": f"abc{t}"},
        caller=None,
        nul_code=UNAUTHENTICATED,
    ),
    # Inside lists, in keys, in the request's other members.
    *each(
        "surrogate",
        "create-task-product-ids-element",
        ops.CREATE_TASK,
        lambda t: {"input": task_input(productIds=["<<product>>", t])},
    ),
    *each(
        "surrogate nul",
        "create-user-role-ids-element",
        ops.CREATE_USER,
        lambda t: {"input": user_input(roleIds=[t])},
    ),
    *each(
        "surrogate",
        "tasks-status-list-element",
        ops.TASKS,
        lambda t: {"f": {"status": ["TODO", t]}},
    ),
    *each(
        "surrogate",
        "create-role-grant-module",
        ops.CREATE_ROLE,
        lambda t: {"input": role_input(grants=[{"module": t}])},
    ),
    *each("surrogate", "variable-name", ops.PRODUCTS, lambda t: {t: "x"}),
    *each("surrogate", "input-object-key", ops.PRODUCTS, lambda t: {"f": {t: "x"}}),
    *(
        refused(f"extensions-value-{kind}", "{ __typename }", extra={"extensions": {"x": t}})
        for kind, t in UNSTORABLE.items()
        if t != NUL  # extensions are never read or stored; NUL is left to field validators
    ),
    refused("extensions-key-surrogate", "{ __typename }", extra={"extensions": {SURROGATE: 1}}),
    *(
        refused(f"operation-name-{kind}", "query A { __typename }", operation_name=f"A{t}")
        for kind, t in UNSTORABLE.items()
        if t != NUL
    ),
    # A NUL in the operation name is valid text that names no operation.
    op(
        "operation-name-nul",
        "query A { __typename }",
        operation_name=f"A{NUL}",
        code=BAD_REQUEST,
        status=400,
        message="Unknown operation",
    ),
]

# The document itself: raw characters (sent as JSON escapes) and GraphQL escapes.


def search_literal(inside: str) -> str:
    """A products search whose string literal holds `inside` as written."""
    return '{ products(filter: {search: "' + inside + '"}) { totalCount } }'


DOCUMENT = [
    refused("document-raw-surrogate-in-literal", search_literal(SURROGATE)),
    refused("document-raw-low-surrogate-in-literal", search_literal(LOW_SURROGATE)),
    refused("document-raw-nul-in-literal", search_literal(NUL)),
    refused("document-raw-surrogate-in-comment", "{ __typename } # " + SURROGATE),
    # A comment is ignored, whatever it holds (the access record stores it cleaned).
    op("document-raw-nul-in-comment", "{ __typename } # " + NUL, code=None),
    op("document-raw-nul-outside-strings", "{ __typename }" + NUL, code=PARSE_FAILED),
    refused("document-raw-surrogate-as-name", "{ " + SURROGATE + " }"),
    refused(
        "document-raw-nul-in-block-string",
        '{ products(filter: {search: """a' + NUL + 'b"""}) { totalCount } }',
    ),
    parse_failed("document-escaped-surrogate-search", search_literal("\\ud800")),
    parse_failed("document-escaped-low-surrogate-search", search_literal("\\udfff")),
    refused("document-escaped-nul-search", search_literal("\\u0000")),
    parse_failed("document-braced-escaped-surrogate-search", search_literal("\\u{D800}")),
    parse_failed(
        "document-escaped-surrogate-sku", '{ products(filter: {sku: "\\udfff"}) { totalCount } }'
    ),
    parse_failed(
        "document-escaped-surrogate-company",
        '{ customers(filter: {company: "\\ud800"}) { totalCount } }',
    ),
    parse_failed(
        "document-escaped-surrogate-after",
        '{ products(first: 1, after: "\\ud800") { totalCount } }',
    ),
    refused(
        "document-escaped-nul-product-name",
        'mutation { createProduct(input: {sku: "LIT-0001", name: "a\\u0000b", price: "1"})'
        " { product { id } } }",
    ),
    parse_failed(
        "document-escaped-surrogate-task-title",
        'mutation { createTask(input: {title: "\\ud800"}) { task { id } } }',
    ),
    parse_failed(
        "document-escaped-surrogate-audit-entity",
        '{ auditLogs(filter: {entity: "\\ud800"}) { totalCount } }',
    ),
    refused(
        "document-escaped-nul-access-request-id",
        '{ accessLogs(filter: {requestId: "\\u0000"}) { totalCount } }',
    ),
    parse_failed(
        "anonymous-document-escaped-surrogate-login-email",
        'mutation { login(email: "\\ud800@x.io", password: "long-enough-password")'
        " { accessToken } }",
        caller=None,
    ),
    op(
        "anonymous-document-escaped-nul-refresh-token",
        'mutation { refreshToken(refreshToken: "a\\u0000") { accessToken } }',
        code=UNAUTHENTICATED,
        caller=None,
    ),
]

CASES = [*VARIABLES, *DOCUMENT]
