"""Edge cases found in review: login payloads, superusers and role edits, throttled
password changes, and key-pair settings outside production."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from tests.conftest import (
    SUPERUSER_EMAIL,
    SUPERUSER_PASSWORD,
    GraphQLClient,
    add_login_user,
    token_for,
)

LOGIN = """
mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken user { email roles { name } } }
}
"""


async def test_given_a_login_when_the_payload_asks_for_the_users_roles_then_they_come_back(
    anonymous: GraphQLClient, superuser_id: int
) -> None:
    data = await anonymous.ok(LOGIN, {"email": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD})

    assert data["login"]["user"] == {"email": SUPERUSER_EMAIL, "roles": []}
    assert data["login"]["accessToken"]


async def test_given_a_superuser_holding_a_role_when_an_admin_edits_it_then_their_token_lives(
    gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str
) -> None:
    role = await gql.ok(
        'mutation { createRole(input: {name: "ops", grants: [{module: PRODUCTS}]}) '
        "{ role { id } } }"
    )
    role_id = role["createRole"]["role"]["id"]
    other_root = await add_login_user(
        engine, email="root2@test.example", password_hash=password_hash, is_superuser=True
    )
    other = gql.as_token(token_for(app, other_root))
    me = await other.ok("{ me { id } }")
    await gql.ok(
        "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { user { id } } }",
        {"u": me["me"]["id"], "r": role_id},
    )
    other = gql.as_token(token_for(app, other_root))  # assigning revoked the old token

    await gql.ok(
        "mutation($r: ID!) { updateRole(id: $r, input: {grants: [{module: TASKS}]}) "
        "{ role { id } } }",
        {"r": role_id},
    )
    await gql.ok("mutation($r: ID!) { deleteRole(id: $r) { deletedId } }", {"r": role_id})

    assert await other.ok("{ me { isSuperuser } }") == {"me": {"isSuperuser": True}}


async def test_given_wrong_current_passwords_when_repeated_then_change_password_is_throttled(
    gql: GraphQLClient,
) -> None:
    change = (
        "mutation($c: String!) "
        '{ changePassword(currentPassword: $c, newPassword: "another-password-12") }'
    )
    codes = []
    for attempt in range(6):
        error = await gql.error(change, {"c": f"wrong-password-{attempt:02d}"})
        codes.append(error["extensions"]["code"])

    assert codes == ["BAD_USER_INPUT"] * 5 + ["TOO_MANY_REQUESTS"]


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_given_a_key_pair_algorithm_without_keys_when_settings_load_then_refused(
    algorithm: str,
) -> None:
    with pytest.raises(ValueError, match="JWT_PRIVATE_KEY"):
        Settings(environment="development", jwt_algorithm=algorithm, _env_file=None)  # type: ignore[call-arg, arg-type]
