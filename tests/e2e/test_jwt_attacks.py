"""Forged, tampered and misplaced tokens over HTTP, and fields that need a caller.

Every bad token is refused as UNAUTHENTICATED on a protected field, while `login` in the
same request situation still works: a stale token in the client must never lock a user out
of logging in again. Tokens are forged with PyJWT and the test settings' own secret, so
only the one thing each case changes can be what the server refuses.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from tests.conftest import SUPERUSER_PASSWORD, GraphQLClient, add_login_user

# The HS512 case signs with the server's own (HS256-sized) secret on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

EMAIL = "alice@test.example"

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken user { email } }
}"""
ME = "query Me { me { email } }"


@pytest.fixture
async def alice(engine: AsyncEngine, password_hash: str) -> int:
    """An active user whose password is SUPERUSER_PASSWORD."""
    return await add_login_user(engine, email=EMAIL, password_hash=password_hash)


def claims(settings: Settings, user_id: int, **changes: Any) -> dict[str, Any]:
    """The claims of a valid access token for `user_id`, with `changes` applied."""
    now = time.time()
    values: dict[str, Any] = {
        "sub": str(user_id),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def forge(
    settings: Settings,
    user_id: int,
    *,
    key: str | None = None,
    algorithm: str = "HS256",
    **changes: Any,
) -> str:
    """A token signed like the server's (or with `key`/`algorithm` instead)."""
    secret = key if key is not None else settings.jwt_secret.get_secret_value()
    return jwt.encode(claims(settings, user_id, **changes), secret, algorithm=algorithm)


def unsigned(settings: Settings, user_id: int) -> str:
    """A token with `alg: none` and an empty signature."""
    return jwt.encode(claims(settings, user_id), "", algorithm="none")


BAD_TOKENS = {
    "alg none": lambda s, uid: unsigned(s, uid),
    "wrong audience": lambda s, uid: forge(s, uid, aud="someone-else"),
    "wrong issuer": lambda s, uid: forge(s, uid, iss="evil-issuer"),
    "expired": lambda s, uid: forge(s, uid, exp=time.time() - 60, iat=time.time() - 600),
    "nbf in the future": lambda s, uid: forge(s, uid, nbf=time.time() + 600),
    "other secret": lambda s, uid: forge(s, uid, key="another-secret-" + "x" * 40),
    "other HMAC algorithm": lambda s, uid: forge(s, uid, algorithm="HS512"),
    "refresh type": lambda s, uid: forge(s, uid, typ="refresh"),
    "no jti": lambda s, uid: forge(s, uid, jti=None),
    "no expiry": lambda s, uid: forge(s, uid, exp=None),
    "subject not a number": lambda s, uid: forge(s, uid, sub=f"{uid} OR 1=1"),
    "unknown subject": lambda s, uid: forge(s, uid, sub="999999"),
    "tampered payload": lambda s, uid: tamper(forge(s, uid)),
}


def tamper(token: str) -> str:
    """The token with its payload swapped for another user's, signature kept."""
    header, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    forged = raw.replace('"sub":"', '"sub":"1', 1)
    encoded = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    return f"{header}.{encoded}.{signature}"


MALFORMED_HEADERS = {
    "basic scheme": "Basic x",
    "bearer without token": "Bearer",
    "bearer with blank token": "Bearer    ",
    "token without scheme": "abc.def.ghi",
}


async def code_of(client: GraphQLClient, query: str, headers: dict[str, str]) -> str | None:
    """The first error code of the answer, or None when it has no errors."""
    result = await client(query, headers=headers)
    if "errors" not in result:
        return None
    code: str = result["errors"][0]["extensions"]["code"]
    return code


async def test_given_a_correctly_forged_token_when_asking_me_then_it_works(
    anonymous: GraphQLClient, settings: Settings, alice: int
) -> None:
    # The control case: the forging helper makes tokens the server accepts, so each
    # refusal below is caused by the one claim or key the case changes.
    headers = {"Authorization": f"Bearer {forge(settings, alice)}"}

    data = await anonymous.ok(ME, headers=headers)

    assert data["me"]["email"] == EMAIL


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_given_a_bad_token_when_asking_a_protected_field_then_unauthenticated(
    anonymous: GraphQLClient, settings: Settings, alice: int, case: str
) -> None:
    headers = {"Authorization": f"Bearer {BAD_TOKENS[case](settings, alice)}"}

    assert await code_of(anonymous, ME, headers) == "UNAUTHENTICATED"


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_given_a_bad_token_when_logging_in_in_that_request_then_login_works(
    anonymous: GraphQLClient, settings: Settings, alice: int, case: str
) -> None:
    headers = {"Authorization": f"Bearer {BAD_TOKENS[case](settings, alice)}"}

    data = await anonymous.ok(
        LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD}, headers=headers
    )

    assert data["login"]["user"]["email"] == EMAIL


@pytest.mark.parametrize("case", sorted(MALFORMED_HEADERS))
async def test_given_a_malformed_authorization_header_when_asking_me_then_unauthenticated(
    anonymous: GraphQLClient, alice: int, case: str
) -> None:
    headers = {"Authorization": MALFORMED_HEADERS[case]}

    assert await code_of(anonymous, ME, headers) == "UNAUTHENTICATED"


@pytest.mark.parametrize("case", sorted(MALFORMED_HEADERS))
async def test_given_a_malformed_authorization_header_when_logging_in_then_it_works(
    anonymous: GraphQLClient, alice: int, case: str
) -> None:
    headers = {"Authorization": MALFORMED_HEADERS[case]}

    data = await anonymous.ok(
        LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD}, headers=headers
    )

    assert data["login"]["user"]["email"] == EMAIL


async def test_given_a_refresh_token_as_bearer_when_asking_me_then_unauthenticated(
    anonymous: GraphQLClient, alice: int
) -> None:
    data = await anonymous.ok(LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD})
    headers = {"Authorization": f"Bearer {data['login']['refreshToken']}"}

    assert await code_of(anonymous, ME, headers) == "UNAUTHENTICATED"


async def test_given_a_refresh_token_as_bearer_when_logging_in_then_it_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    data = await anonymous.ok(LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD})
    headers = {"Authorization": f"Bearer {data['login']['refreshToken']}"}

    again = await anonymous.ok(
        LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD}, headers=headers
    )

    assert again["login"]["user"]["email"] == EMAIL


# ---------------------------------------------------------------- fields that need a caller

A_NODE_ID = base64.b64encode(b"Product:1").decode()

PROTECTED = {
    "products": "query { products(first: 1) { totalCount } }",
    "product": f'query {{ product(id: "{A_NODE_ID}") {{ id }} }}',
    "customers": "query { customers(first: 1) { totalCount } }",
    "tasks": "query { tasks(first: 1) { totalCount } }",
    "users": "query { users(first: 1) { totalCount } }",
    "roles": "query { roles { id } }",
    "me": "query { me { id } }",
    "node": f'query {{ node(id: "{A_NODE_ID}") {{ id }} }}',
    "createProduct": (
        'mutation { createProduct(input: {sku: "AB-1", name: "W", price: "1.00"})'
        " { product { id } } }"
    ),
    "createRole": 'mutation { createRole(input: {name: "Admins"}) { role { id } } }',
    "logout": "mutation { logout }",
    "changePassword": (
        'mutation { changePassword(currentPassword: "a-password-123",'
        ' newPassword: "b-password-456") }'
    ),
}


@pytest.mark.parametrize("field", sorted(PROTECTED))
async def test_given_no_token_when_a_protected_root_field_is_asked_then_unauthenticated(
    anonymous: GraphQLClient, field: str
) -> None:
    result = await anonymous(PROTECTED[field])

    errors = result.get("errors") or []
    assert [error["extensions"]["code"] for error in errors] == ["UNAUTHENTICATED"]
    assert errors[0]["path"] == [field]


async def test_given_no_token_when_logging_in_then_it_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    data = await anonymous.ok(LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD})

    assert data["login"]["user"]["email"] == EMAIL


async def test_given_no_token_when_refreshing_then_it_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    data = await anonymous.ok(LOGIN, {"email": EMAIL, "password": SUPERUSER_PASSWORD})

    again = await anonymous.ok(
        "mutation R($t: String!) { refreshToken(refreshToken: $t) { user { email } } }",
        {"t": data["login"]["refreshToken"]},
    )

    assert again["refreshToken"]["user"]["email"] == EMAIL
