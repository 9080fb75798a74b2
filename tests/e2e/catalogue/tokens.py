"""Who is asking: bad bearer tokens, no token, and tokens without the permission.

Tokens are made when the module's data exists (they need the app's secret and a real
user): a case names one as `<<jwt:name>>` and `TOKENS[name](settings, user_id)` makes it.
The forged ones carry a valid signature, so only the claim each changes is wrong; they
must all be UNAUTHENTICATED, never SERVICE_UNAVAILABLE or a masked error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from config.settings import Settings
from tests.e2e.catalogue import FORBIDDEN, UNAUTHENTICATED, Case, op
from tests.e2e.catalogue import operations as ops
from tests.e2e.catalogue.operations import (
    customer_input,
    product_input,
    role_input,
    task_input,
    user_input,
)
from tests.e2e.test_jwt_attacks import BAD_TOKENS, claims, forge

TokenFactory = Callable[[Settings, int], str]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_payload(settings: Settings, payload: bytes) -> str:
    """A token whose payload is exactly `payload`, correctly signed with the app's secret."""
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{_b64url(payload)}"
    secret = settings.jwt_secret.get_secret_value().encode()
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


def by_hand(**changes: Any) -> TokenFactory:
    """Like `claim`, for claims PyJWT refuses to encode."""
    return lambda settings, user_id: signed_payload(
        settings, json.dumps(claims(settings, user_id, **changes)).encode()
    )


def claim(**changes: Any) -> TokenFactory:
    """A correctly signed token for the user, with `changes` to its claims."""
    return lambda settings, user_id: forge(settings, user_id, **changes)


IMPOSSIBLE_CLAIMS: dict[str, TokenFactory] = {
    "sub-past-int32-10-digits": claim(sub="9999999999"),
    "sub-just-past-int32": claim(sub="2147483648"),
    "sub-huge": claim(sub="9" * 400),
    "sub-negative": claim(sub="-1"),
    "sub-superscript-two": claim(sub="\u00b2"),
    "sub-arabic-indic-digits": claim(sub="\u0661\u0662"),
    "sub-leading-zeros": claim(sub="0001"),
    "sub-plus-sign": claim(sub="+1"),
    "sub-leading-space": claim(sub=" 1"),
    "sub-decimal": claim(sub="1.0"),
    "sub-empty": claim(sub=""),
    "sub-nul": claim(sub="1\x00"),
    "sub-surrogate": claim(sub="\ud800"),
    "sub-integer": lambda settings, user_id: forge(settings, user_id, sub=user_id),
    "sub-list": claim(sub=["1"]),
    "sub-object": claim(sub={"id": 1}),
    "sub-boolean": claim(sub=True),
    "jti-nul": claim(jti="a\x00b"),
    "jti-surrogate": claim(jti="\ud800"),
    "jti-huge": claim(jti="x" * 10_000),
    "jti-integer": claim(jti=123),
    "jti-empty": claim(jti=""),
    "jti-list": claim(jti=["x"]),
    "exp-string": claim(exp="tomorrow"),
    "exp-past-year-9999": claim(exp=10**20),
    "exp-nan": claim(exp=float("nan")),
    "exp-boolean": claim(exp=True),
    "iat-past-year-9999": claim(iat=10**20),
    "iat-nan": claim(iat=float("nan")),
    "iat-string": claim(iat="now"),
    "nbf-nan": claim(nbf=float("nan")),
    "aud-list-of-other": claim(aud=["someone-else"]),
    "iss-integer": by_hand(iss=1),
    "typ-upper-case": claim(typ="ACCESS"),
    "typ-missing": claim(typ=None),
    "payload-json-array": lambda settings, _: signed_payload(settings, b"[1]"),
    "payload-not-json": lambda settings, _: signed_payload(settings, b"not json"),
    "payload-invalid-utf8": lambda settings, _: signed_payload(settings, b'{"sub":"\xff"}'),
    "payload-nested-5000": lambda settings, _: signed_payload(
        settings, b'{"a":' * 5000 + b"1" + b"}" * 5000
    ),
}

TOKENS: dict[str, TokenFactory] = {
    **{name.replace(" ", "-"): factory for name, factory in BAD_TOKENS.items()},
    **IMPOSSIBLE_CLAIMS,
}


def unauthenticated(case_id: str, authorization: str, query: str = ops.ME) -> Case:
    """`query` with this Authorization header is refused as UNAUTHENTICATED."""
    return op(
        case_id,
        query,
        code=UNAUTHENTICATED,
        caller=None,
        headers={"authorization": authorization},
    )


HEADERS = {
    "garbage": "Bearer garbage",
    "three-garbage-segments": "Bearer a.b.c",
    "four-segments": "Bearer <<admin>>.extra",
    "signature-changed": "Bearer <<admin>>x",
    "very-long": "Bearer " + "A" * 20_000,
    "latin-1-bytes": "Bearer \u00e9\u00ff",
    "two-tokens": "Bearer <<admin>> Bearer <<admin>>",
    "scheme-only": "Bearer",
    "blank-token": "Bearer    ",
    "basic-scheme": "Basic YWRtaW46YWRtaW4=",
    "other-scheme": "Token <<admin>>",
    "no-scheme": "<<admin>>",
}

BAD_BEARERS = [
    *(unauthenticated(f"token-{name}", f"Bearer <<jwt:{name}>>") for name in TOKENS),
    *(unauthenticated(f"authorization-{name}", value) for name, value in HEADERS.items()),
    unauthenticated(
        "token-expired-on-a-mutation",
        "Bearer <<jwt:expired>>",
        'mutation { createProduct(input: {sku: "EXP-0001", name: "E", price: "1"})'
        " { product { id } } }",
    ),
    unauthenticated(
        "token-alg-none-on-a-mutation",
        "Bearer <<jwt:alg-none>>",
        'mutation { deleteProduct(id: "UHJvZHVjdDox") { deletedId } }',
    ),
    unauthenticated(
        "token-jti-nul-on-products", "Bearer <<jwt:jti-nul>>", "{ products { totalCount } }"
    ),
    unauthenticated(
        "token-sub-superscript-on-products",
        "Bearer <<jwt:sub-superscript-two>>",
        "{ products { totalCount } }",
    ),
]


def anonymous(case_id: str, query: str, variables: dict[str, Any] | None = None) -> Case:
    """A field that needs a caller, asked without a token."""
    return op(case_id, query, variables, code=UNAUTHENTICATED, caller=None)


NO_TOKEN = [
    anonymous("anonymous-products", "{ products { totalCount } }"),
    anonymous("anonymous-customers", "{ customers { totalCount } }"),
    anonymous("anonymous-tasks", "{ tasks { totalCount } }"),
    anonymous("anonymous-users", "{ users { totalCount } }"),
    anonymous("anonymous-roles", "{ roles { id } }"),
    anonymous("anonymous-audit-logs", "{ auditLogs { totalCount } }"),
    anonymous("anonymous-access-logs", "{ accessLogs { totalCount } }"),
    anonymous("anonymous-verify-audit-chain", "{ verifyAuditChain { ok } }"),
    anonymous("anonymous-me", ops.ME),
    anonymous("anonymous-node", ops.NODE, {"id": "<<product>>"}),
    anonymous("anonymous-create-product", ops.CREATE_PRODUCT, {"input": product_input()}),
    anonymous(
        "anonymous-update-product",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"name": "Stolen"}},
    ),
    anonymous("anonymous-delete-product", ops.DELETE_PRODUCT, {"id": "<<product2>>"}),
    anonymous("anonymous-create-customer", ops.CREATE_CUSTOMER, {"input": customer_input()}),
    anonymous("anonymous-create-task", ops.CREATE_TASK, {"input": task_input()}),
    anonymous("anonymous-create-user", ops.CREATE_USER, {"input": user_input()}),
    anonymous(
        "anonymous-update-user",
        ops.UPDATE_USER,
        {"id": "<<viewer_user>>", "input": {"isSuperuser": True}},
    ),
    anonymous("anonymous-create-role", ops.CREATE_ROLE, {"input": role_input()}),
    anonymous("anonymous-delete-role", ops.DELETE_ROLE, {"id": "<<role>>"}),
    anonymous(
        "anonymous-assign-role", ops.ASSIGN_ROLE, {"user": "<<viewer_user>>", "role": "<<role>>"}
    ),
    anonymous(
        "anonymous-unassign-role",
        ops.UNASSIGN_ROLE,
        {"user": "<<viewer_user>>", "role": "<<viewer_role>>"},
    ),
    anonymous(
        "anonymous-change-password",
        ops.CHANGE_PASSWORD,
        {"current": "a-long-enough-password", "new": "another-long-password"},
    ),
    anonymous("anonymous-logout", ops.LOGOUT, {"token": None}),
]


def forbidden(
    caller: str, case_id: str, query: str, variables: dict[str, Any] | None = None
) -> Case:
    """A field `caller`'s roles do not grant."""
    return op(f"{caller}-{case_id}", query, variables, code=FORBIDDEN, caller=caller)


NOT_ALLOWED = [
    forbidden("viewer", "create-product", ops.CREATE_PRODUCT, {"input": product_input()}),
    forbidden(
        "viewer",
        "update-product",
        ops.UPDATE_PRODUCT,
        {"id": "<<product>>", "input": {"name": "Renamed"}},
    ),
    forbidden("viewer", "delete-product", ops.DELETE_PRODUCT, {"id": "<<product2>>"}),
    forbidden("viewer", "create-customer", ops.CREATE_CUSTOMER, {"input": customer_input()}),
    forbidden(
        "viewer",
        "update-customer",
        ops.UPDATE_CUSTOMER,
        {"id": "<<customer>>", "input": {"name": "Renamed"}},
    ),
    forbidden("viewer", "delete-customer", ops.DELETE_CUSTOMER, {"id": "<<customer2>>"}),
    forbidden("viewer", "create-task", ops.CREATE_TASK, {"input": task_input()}),
    forbidden(
        "viewer", "update-task", ops.UPDATE_TASK, {"id": "<<task>>", "input": {"title": "Renamed"}}
    ),
    forbidden("viewer", "delete-task", ops.DELETE_TASK, {"id": "<<task>>"}),
    forbidden("viewer", "create-user", ops.CREATE_USER, {"input": user_input()}),
    forbidden(
        "viewer",
        "update-user-to-superuser",
        ops.UPDATE_USER,
        {"id": "<<viewer_user>>", "input": {"isSuperuser": True}},
    ),
    forbidden("viewer", "create-role", ops.CREATE_ROLE, {"input": role_input()}),
    forbidden(
        "viewer",
        "update-role",
        ops.UPDATE_ROLE,
        {"id": "<<viewer_role>>", "input": {"name": "renamed"}},
    ),
    forbidden("viewer", "delete-role", ops.DELETE_ROLE, {"id": "<<role>>"}),
    forbidden(
        "viewer",
        "assign-role-to-self",
        ops.ASSIGN_ROLE,
        {"user": "<<viewer_user>>", "role": "<<admin_role>>"},
    ),
    forbidden(
        "viewer",
        "unassign-role",
        ops.UNASSIGN_ROLE,
        {"user": "<<viewer_user>>", "role": "<<viewer_role>>"},
    ),
    forbidden("viewer", "users", "{ users { totalCount } }"),
    forbidden(
        "viewer", "user", "query U($id: ID!) { user(id: $id) { id } }", {"id": "<<admin_user>>"}
    ),
    forbidden("viewer", "audit-logs", "{ auditLogs { totalCount } }"),
    forbidden("viewer", "access-logs", "{ accessLogs { totalCount } }"),
    forbidden("viewer", "verify-audit-chain", "{ verifyAuditChain { ok } }"),
    forbidden("manager", "create-user", ops.CREATE_USER, {"input": user_input()}),
    forbidden(
        "manager",
        "update-user",
        ops.UPDATE_USER,
        {"id": "<<viewer_user>>", "input": {"isActive": False}},
    ),
    forbidden("manager", "create-role", ops.CREATE_ROLE, {"input": role_input()}),
    forbidden(
        "manager",
        "assign-role-to-self",
        ops.ASSIGN_ROLE,
        {"user": "<<manager_user>>", "role": "<<admin_role>>"},
    ),
    forbidden("manager", "audit-logs", "{ auditLogs { totalCount } }"),
    forbidden("manager", "verify-audit-chain", "{ verifyAuditChain { ok } }"),
]

CASES = [*BAD_BEARERS, *NO_TOKEN, *NOT_ALLOWED]
