"""Authentication over HTTP through the real app: login, refresh rotation, logout,
password change, revocation on admin changes, and keeping secrets out of answers and logs.

Users are inserted with the session's precomputed hash of SUPERUSER_PASSWORD, so a test
pays for argon2 only where the server itself hashes or verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.passwords import PasswordHasher
from auth.tokens import TokenCodec
from persistence.models import RefreshTokenModel, UserModel
from tests.conftest import SUPERUSER_PASSWORD, GraphQLClient, add_login_user

users_t: Table = UserModel.__table__  # type: ignore[assignment]
refresh_t: Table = RefreshTokenModel.__table__  # type: ignore[assignment]

EMAIL = "alice@test.example"
OTHER_EMAIL = "bob@test.example"
NEW_PASSWORD = "a-brand-new-password-42"

PAIR = "accessToken refreshToken tokenType expiresIn user { id email }"
LOGIN = f"""
mutation Login($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ {PAIR} }}
}}"""
REFRESH = f"""
mutation Refresh($token: String!) {{ refreshToken(refreshToken: $token) {{ {PAIR} }} }}"""
LOGOUT = "mutation Logout($token: String) { logout(refreshToken: $token) }"
CHANGE_PASSWORD = """
mutation Change($current: String!, $new: String!) {
  changePassword(currentPassword: $current, newPassword: $new)
}"""
ME = "query Me { me { id email } }"
CREATE_ROLE = """
mutation CreateRole($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }"""
UPDATE_ROLE = """
mutation UpdateRole($id: ID!, $input: UpdateRoleInput!) {
  updateRole(id: $id, input: $input) { role { id } }
}"""
ASSIGN = """
mutation Assign($userId: ID!, $roleId: ID!) {
  assignRole(userId: $userId, roleId: $roleId) { user { id } }
}"""
UNASSIGN = """
mutation Unassign($userId: ID!, $roleId: ID!) {
  unassignRole(userId: $userId, roleId: $roleId) { user { id } }
}"""
UPDATE_USER = """
mutation UpdateUser($id: ID!, $input: UpdateUserInput!) {
  updateUser(id: $id, input: $input) { user { id isActive } }
}"""


@pytest.fixture
async def alice(engine: AsyncEngine, password_hash: str) -> int:
    """An active, unprivileged user whose password is SUPERUSER_PASSWORD."""
    return await add_login_user(engine, email=EMAIL, password_hash=password_hash)


@pytest.fixture
async def bob(engine: AsyncEngine, password_hash: str) -> int:
    """A second unprivileged user with the same password."""
    return await add_login_user(engine, email=OTHER_EMAIL, password_hash=password_hash)


async def login(
    client: GraphQLClient, email: str = EMAIL, password: str = SUPERUSER_PASSWORD
) -> dict[str, Any]:
    """A successful login's payload."""
    data = await client.ok(LOGIN, {"email": email, "password": password})
    payload: dict[str, Any] = data["login"]
    return payload


async def refresh(client: GraphQLClient, token: str) -> dict[str, Any]:
    """A successful refresh's payload."""
    data = await client.ok(REFRESH, {"token": token})
    payload: dict[str, Any] = data["refreshToken"]
    return payload


async def refresh_error(client: GraphQLClient, token: str) -> dict[str, Any]:
    """The error of a refresh that must fail."""
    return await client.error(REFRESH, {"token": token})


async def login_error(
    client: GraphQLClient, email: str = EMAIL, password: str = SUPERUSER_PASSWORD
) -> dict[str, Any]:
    """The error of a login that must fail."""
    return await client.error(LOGIN, {"email": email, "password": password})


async def me_code(client: GraphQLClient, token: str) -> str | None:
    """The error code `me` answers with this token, or None when it works."""
    result = await client.as_token(token)(ME)
    if "errors" not in result:
        assert result["data"]["me"] is not None
        return None
    code: str = result["errors"][0]["extensions"]["code"]
    return code


async def stored_hash(engine: AsyncEngine, user_id: int) -> str | None:
    """users.password_hash as stored."""
    async with engine.connect() as conn:
        value: str | None = (
            await conn.execute(select(users_t.c.password_hash).where(users_t.c.id == user_id))
        ).scalar_one()
    return value


async def set_user(engine: AsyncEngine, user_id: int, **values: Any) -> None:
    """Change a user's row behind the API's back."""
    async with engine.begin() as conn:
        await conn.execute(update(users_t).where(users_t.c.id == user_id).values(**values))


async def create_role(gql: GraphQLClient, name: str, grants: list[dict[str, Any]]) -> str:
    """A role created by the superuser; returns its ID."""
    data = await gql.ok(CREATE_ROLE, {"input": {"name": name, "grants": grants}})
    role_id: str = data["createRole"]["role"]["id"]
    return role_id


# ---------------------------------------------------------------- login


async def test_given_valid_credentials_when_logging_in_then_a_bearer_pair_and_the_user_return(
    anonymous: GraphQLClient, alice: int
) -> None:
    payload = await login(anonymous)

    assert payload["tokenType"] == "Bearer"
    assert payload["expiresIn"] == 900
    assert payload["accessToken"]
    assert payload["refreshToken"]
    assert payload["accessToken"] != payload["refreshToken"]
    assert payload["user"]["email"] == EMAIL


async def test_given_a_fresh_access_token_when_asking_me_then_it_is_the_logged_in_user(
    anonymous: GraphQLClient, alice: int
) -> None:
    payload = await login(anonymous)

    data = await anonymous.as_token(payload["accessToken"]).ok(ME)

    assert data["me"] == payload["user"]


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "inactive account"])
async def test_given_bad_credentials_when_logging_in_then_unauthenticated_with_one_message(
    anonymous: GraphQLClient, engine: AsyncEngine, password_hash: str, case: str
) -> None:
    await add_login_user(
        engine, email="inactive@test.example", password_hash=password_hash, is_active=False
    )
    await add_login_user(engine, email=EMAIL, password_hash=password_hash)
    reference = await login_error(anonymous, "nobody@test.example")
    attempt = {
        "unknown email": ("someone-else@test.example", SUPERUSER_PASSWORD),
        "wrong password": (EMAIL, "not-the-right-password"),
        # The right password: an inactive account must not be told apart from a bad guess.
        "inactive account": ("inactive@test.example", SUPERUSER_PASSWORD),
    }[case]

    error = await login_error(anonymous, *attempt)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert reference["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == reference["message"]


@pytest.mark.parametrize("password", ["", SUPERUSER_PASSWORD])
async def test_given_a_user_without_a_password_hash_when_logging_in_then_unauthenticated(
    anonymous: GraphQLClient, engine: AsyncEngine, alice: int, password: str
) -> None:
    await set_user(engine, alice, password_hash=None)

    error = await login_error(anonymous, password=password)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_a_corrupt_stored_hash_when_logging_in_then_unauthenticated_not_500(
    anonymous: GraphQLClient, engine: AsyncEngine, alice: int
) -> None:
    await set_user(engine, alice, password_hash="$argon2id$v=19$garbage")

    error = await login_error(anonymous)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert anonymous.last_response is not None
    assert "argon2" not in anonymous.last_response.text


async def test_given_the_email_in_other_case_and_spaces_when_logging_in_then_it_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    payload = await login(anonymous, email="  ALICE@Test.Example ")

    assert payload["user"]["email"] == EMAIL


async def test_given_a_one_megabyte_password_when_logging_in_then_unauthenticated_not_500(
    anonymous: GraphQLClient, alice: int
) -> None:
    # A million characters: past any sane password, yet under the 1 MiB body limit, so
    # it is login itself that has to refuse it.
    huge = SUPERUSER_PASSWORD + "x" * (1_000_000 - len(SUPERUSER_PASSWORD))

    error = await login_error(anonymous, password=huge)

    assert anonymous.last_response is not None
    assert anonymous.last_response.status_code == 200
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_a_hash_with_outdated_params_when_logging_in_then_it_is_rehashed(
    anonymous: GraphQLClient, engine: AsyncEngine
) -> None:
    old_hash = PasswordHasher(time_cost=1).hash(SUPERUSER_PASSWORD)
    user_id = await add_login_user(engine, email=EMAIL, password_hash=old_hash)
    assert ",t=1," in old_hash

    await login(anonymous)

    new_hash = await stored_hash(engine, user_id)
    assert new_hash is not None
    assert new_hash != old_hash
    assert ",t=2," in new_hash
    # The new hash is of the same password: the user still gets in.
    await login(anonymous)


# ---------------------------------------------------------------- refresh rotation


async def test_given_a_refresh_token_when_refreshing_then_a_new_working_pair_returns(
    anonymous: GraphQLClient, alice: int
) -> None:
    first = await login(anonymous)

    second = await refresh(anonymous, first["refreshToken"])

    assert second["tokenType"] == "Bearer"
    assert second["expiresIn"] == 900
    assert second["user"]["email"] == EMAIL
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert await me_code(anonymous, second["accessToken"]) is None


async def test_given_a_refreshed_token_when_presented_again_then_unauthenticated(
    anonymous: GraphQLClient, alice: int
) -> None:
    first = await login(anonymous)
    await refresh(anonymous, first["refreshToken"])

    error = await refresh_error(anonymous, first["refreshToken"])

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_a_spent_token_reused_when_the_newer_token_is_presented_then_it_fails_too(
    anonymous: GraphQLClient, alice: int
) -> None:
    first = await login(anonymous)
    second = await refresh(anonymous, first["refreshToken"])
    await refresh_error(anonymous, first["refreshToken"])

    error = await refresh_error(anonymous, second["refreshToken"])

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_a_reused_token_in_one_family_when_another_session_refreshes_then_it_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    stolen = await login(anonymous)
    other_device = await login(anonymous)
    await refresh(anonymous, stolen["refreshToken"])
    await refresh_error(anonymous, stolen["refreshToken"])

    payload = await refresh(anonymous, other_device["refreshToken"])

    assert payload["user"]["email"] == EMAIL


@pytest.mark.parametrize("token", ["", "garbage", "x" * 5000, "Bearer abc.def.ghi"])
async def test_given_an_unknown_refresh_token_when_refreshing_then_unauthenticated(
    anonymous: GraphQLClient, token: str
) -> None:
    error = await refresh_error(anonymous, token)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_an_expired_refresh_token_when_refreshing_then_unauthenticated(
    anonymous: GraphQLClient, engine: AsyncEngine, alice: int
) -> None:
    token = (await login(anonymous))["refreshToken"]
    async with engine.begin() as conn:
        await conn.execute(
            update(refresh_t)
            .where(refresh_t.c.token_hash == TokenCodec.hash_refresh_token(token))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    error = await refresh_error(anonymous, token)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_a_user_deactivated_after_login_when_refreshing_then_unauthenticated(
    anonymous: GraphQLClient, engine: AsyncEngine, alice: int
) -> None:
    token = (await login(anonymous))["refreshToken"]
    # Behind the API's back, so only the refresh's own is-active check can stop it.
    await set_user(engine, alice, is_active=False)

    error = await refresh_error(anonymous, token)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------- logout


async def test_given_a_logged_out_access_token_when_asking_me_then_unauthenticated(
    anonymous: GraphQLClient, alice: int
) -> None:
    access = (await login(anonymous))["accessToken"]

    data = await anonymous.as_token(access).ok(LOGOUT)

    assert data["logout"] is True
    assert await me_code(anonymous, access) == "UNAUTHENTICATED"


async def test_given_a_logout_when_another_session_of_the_user_asks_me_then_it_still_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    leaving = (await login(anonymous))["accessToken"]
    staying = (await login(anonymous))["accessToken"]

    await anonymous.as_token(leaving).ok(LOGOUT)

    assert await me_code(anonymous, staying) is None


async def test_given_a_logout_with_its_refresh_token_when_refreshing_then_unauthenticated(
    anonymous: GraphQLClient, alice: int
) -> None:
    session = await login(anonymous)

    await anonymous.as_token(session["accessToken"]).ok(LOGOUT, {"token": session["refreshToken"]})

    error = await refresh_error(anonymous, session["refreshToken"])
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_a_logout_without_refresh_token_when_refreshing_then_the_family_lives(
    anonymous: GraphQLClient, alice: int
) -> None:
    session = await login(anonymous)

    await anonymous.as_token(session["accessToken"]).ok(LOGOUT)

    assert (await refresh(anonymous, session["refreshToken"]))["user"]["email"] == EMAIL


async def test_given_no_token_when_logging_out_then_unauthenticated(
    anonymous: GraphQLClient,
) -> None:
    error = await anonymous.error(LOGOUT)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_another_users_refresh_token_when_i_log_out_then_it_is_not_revoked(
    anonymous: GraphQLClient, alice: int, bob: int
) -> None:
    mine = await login(anonymous)
    theirs = await login(anonymous, OTHER_EMAIL)

    await anonymous.as_token(mine["accessToken"]).ok(LOGOUT, {"token": theirs["refreshToken"]})

    assert (await refresh(anonymous, theirs["refreshToken"]))["user"]["email"] == OTHER_EMAIL


# ---------------------------------------------------------------- change password


async def change_password(
    anonymous: GraphQLClient, access: str, current: str, new: str
) -> dict[str, Any]:
    """The whole answer of a changePassword call."""
    return await anonymous.as_token(access)(CHANGE_PASSWORD, {"current": current, "new": new})


async def test_given_a_wrong_current_password_when_changing_then_bad_user_input_on_it(
    anonymous: GraphQLClient, alice: int
) -> None:
    access = (await login(anonymous))["accessToken"]

    result = await change_password(anonymous, access, "not-my-password-at-all", NEW_PASSWORD)

    error = result["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"currentPassword"}


async def test_given_an_eleven_character_new_password_when_changing_then_bad_user_input(
    anonymous: GraphQLClient, alice: int
) -> None:
    access = (await login(anonymous))["accessToken"]

    result = await change_password(anonymous, access, SUPERUSER_PASSWORD, "x" * 11)

    error = result["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert set(error["extensions"]["fields"]) == {"newPassword"}
    # Nothing changed: the old password still works.
    await login(anonymous)


async def test_given_a_changed_password_when_the_old_access_token_is_used_then_refused(
    anonymous: GraphQLClient, alice: int
) -> None:
    access = (await login(anonymous))["accessToken"]

    result = await change_password(anonymous, access, SUPERUSER_PASSWORD, NEW_PASSWORD)

    assert result == {"data": {"changePassword": True}}
    assert await me_code(anonymous, access) == "UNAUTHENTICATED"


async def test_given_a_changed_password_when_the_old_refresh_token_is_used_then_refused(
    anonymous: GraphQLClient, alice: int
) -> None:
    session = await login(anonymous)

    await change_password(anonymous, session["accessToken"], SUPERUSER_PASSWORD, NEW_PASSWORD)

    error = await refresh_error(anonymous, session["refreshToken"])
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_a_changed_password_when_logging_in_with_the_new_one_then_it_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    access = (await login(anonymous))["accessToken"]

    await change_password(anonymous, access, SUPERUSER_PASSWORD, NEW_PASSWORD)

    session = await login(anonymous, password=NEW_PASSWORD)
    assert await me_code(anonymous, session["accessToken"]) is None


async def test_given_a_changed_password_when_logging_in_with_the_old_one_then_refused(
    anonymous: GraphQLClient, alice: int
) -> None:
    access = (await login(anonymous))["accessToken"]

    await change_password(anonymous, access, SUPERUSER_PASSWORD, NEW_PASSWORD)

    error = await login_error(anonymous)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------- revocation on admin changes


async def test_given_a_user_deactivated_by_a_superuser_when_their_token_is_used_then_refused(
    gql: GraphQLClient, anonymous: GraphQLClient, alice: int
) -> None:
    session = await login(anonymous)

    await gql.ok(UPDATE_USER, {"id": session["user"]["id"], "input": {"isActive": False}})

    assert await me_code(anonymous, session["accessToken"]) == "UNAUTHENTICATED"


async def test_given_a_role_assigned_when_the_earlier_token_is_used_then_refused(
    gql: GraphQLClient, anonymous: GraphQLClient, alice: int
) -> None:
    before = await login(anonymous)
    role_id = await create_role(gql, "Sales", [{"module": "PRODUCTS", "actions": []}])

    await gql.ok(ASSIGN, {"userId": before["user"]["id"], "roleId": role_id})

    assert await me_code(anonymous, before["accessToken"]) == "UNAUTHENTICATED"
    assert (await refresh_error(anonymous, before["refreshToken"]))["extensions"][
        "code"
    ] == "UNAUTHENTICATED"


async def test_given_a_role_assigned_when_logging_in_again_then_the_new_token_has_the_role(
    gql: GraphQLClient, anonymous: GraphQLClient, alice: int
) -> None:
    user_id = (await login(anonymous))["user"]["id"]
    role_id = await create_role(gql, "Sales", [{"module": "PRODUCTS", "actions": []}])

    await gql.ok(ASSIGN, {"userId": user_id, "roleId": role_id})

    after = anonymous.as_token((await login(anonymous))["accessToken"])
    data = await after.ok("query { me { email } products(first: 1) { totalCount } }")
    assert data["me"]["email"] == EMAIL


async def test_given_a_role_unassigned_when_the_earlier_token_is_used_then_refused(
    gql: GraphQLClient, anonymous: GraphQLClient, alice: int
) -> None:
    user_id = (await login(anonymous))["user"]["id"]
    role_id = await create_role(gql, "Sales", [{"module": "PRODUCTS", "actions": []}])
    await gql.ok(ASSIGN, {"userId": user_id, "roleId": role_id})
    before = (await login(anonymous))["accessToken"]

    await gql.ok(UNASSIGN, {"userId": user_id, "roleId": role_id})

    assert await me_code(anonymous, before) == "UNAUTHENTICATED"
    after = anonymous.as_token((await login(anonymous))["accessToken"])
    error = await after.error("query { products(first: 1) { totalCount } }")
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_given_a_roles_grants_changed_when_a_holders_token_is_used_then_refused(
    gql: GraphQLClient, anonymous: GraphQLClient, alice: int
) -> None:
    user_id = (await login(anonymous))["user"]["id"]
    role_id = await create_role(gql, "Sales", [{"module": "PRODUCTS", "actions": []}])
    await gql.ok(ASSIGN, {"userId": user_id, "roleId": role_id})
    before = (await login(anonymous))["accessToken"]

    await gql.ok(
        UPDATE_ROLE, {"id": role_id, "input": {"grants": [{"module": "CUSTOMERS", "actions": []}]}}
    )

    assert await me_code(anonymous, before) == "UNAUTHENTICATED"


async def test_given_a_role_only_renamed_when_a_holders_token_is_used_then_it_still_works(
    gql: GraphQLClient, anonymous: GraphQLClient, alice: int
) -> None:
    user_id = (await login(anonymous))["user"]["id"]
    role_id = await create_role(gql, "Sales", [{"module": "PRODUCTS", "actions": []}])
    await gql.ok(ASSIGN, {"userId": user_id, "roleId": role_id})
    before = (await login(anonymous))["accessToken"]

    await gql.ok(UPDATE_ROLE, {"id": role_id, "input": {"name": "Sales team"}})

    assert await me_code(anonymous, before) is None


# ---------------------------------------------------------------- secrets


async def test_given_the_user_type_when_introspected_then_no_field_exposes_a_hash(
    gql: GraphQLClient,
) -> None:
    data = await gql.ok('query { __type(name: "User") { fields { name } } }')

    names = {field["name"].lower() for field in data["__type"]["fields"]}
    assert "email" in names
    assert not {name for name in names if "hash" in name or "password" in name}


async def test_given_the_whole_schema_when_introspected_then_no_output_field_is_a_hash(
    gql: GraphQLClient,
) -> None:
    data = await gql.ok("query { __schema { types { name fields { name } } } }")

    hashes = [
        f"{kind['name']}.{field['name']}"
        for kind in data["__schema"]["types"]
        for field in kind["fields"] or []
        if "hash" in field["name"].lower()
    ]
    assert hashes == []


async def test_given_a_failed_and_a_good_login_when_logs_are_read_then_no_password_shows(
    capsys: pytest.CaptureFixture[str], anonymous: GraphQLClient, alice: int
) -> None:
    wrong = "Zebra-Wrong-Secret-77"

    await login_error(anonymous, password=wrong)
    await login(anonymous)

    captured = capsys.readouterr()
    output = captured.err + captured.out
    assert "login failed" in output
    assert EMAIL in output
    assert wrong not in output
    assert SUPERUSER_PASSWORD not in output


async def test_given_failing_auth_calls_when_answers_are_read_then_argon2_never_shows(
    anonymous: GraphQLClient, alice: int
) -> None:
    texts: list[str] = []
    await login_error(anonymous, password="wrong-password-here")
    texts.append(anonymous.last_response.text if anonymous.last_response else "")
    await login_error(anonymous, password="x" * 200)
    texts.append(anonymous.last_response.text if anonymous.last_response else "")
    access = (await login(anonymous))["accessToken"]
    await change_password(anonymous, access, "wrong-current-password", NEW_PASSWORD)
    texts.append(anonymous.last_response.text if anonymous.last_response else "")

    assert all(text and "argon2" not in text.lower() for text in texts)
