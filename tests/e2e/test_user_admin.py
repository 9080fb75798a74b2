"""User and role administration over HTTP, as a superuser: CRUD, validation and not-found."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import gid, pk_of, raw_id
from tests.conftest import SUPERUSER_EMAIL, GraphQLClient
from tests.rbac_helpers import (
    People,
    grants_of,
    normalized,
    role_ids_of,
    role_row,
    user_row,
)

USER_FIELDS = "id email fullName isActive isSuperuser roles { name grants { module actions } }"
CREATE_USER = (
    "mutation($input: CreateUserInput!) { createUser(input: $input) { user { "
    + USER_FIELDS
    + " } } }"
)
UPDATE_USER = (
    "mutation($id: ID!, $input: UpdateUserInput!) "
    "{ updateUser(id: $id, input: $input) { user { " + USER_FIELDS + " } } }"
)
ROLE_FIELDS = "id name description grants { module actions }"
CREATE_ROLE = (
    "mutation($input: CreateRoleInput!) { createRole(input: $input) { role { "
    + ROLE_FIELDS
    + " } } }"
)
UPDATE_ROLE = (
    "mutation($id: ID!, $input: UpdateRoleInput!) "
    "{ updateRole(id: $id, input: $input) { role { " + ROLE_FIELDS + " } } }"
)
DELETE_ROLE = "mutation($id: ID!) { deleteRole(id: $id) { deletedId } }"
ASSIGN = (
    "mutation($u: ID!, $r: ID!) "
    "{ assignRole(userId: $u, roleId: $r) { user { id roles { name } } } }"
)
UNASSIGN = (
    "mutation($u: ID!, $r: ID!) "
    "{ unassignRole(userId: $u, roleId: $r) { user { id roles { name } } } }"
)
PASSWORD = "a-long-enough-password"
MISSING = 987_654


@pytest.fixture
def people(gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str) -> People:
    """Roles and users for the test; `gql` makes the superuser exist too."""
    return People(engine=engine, app=app, http=gql.http, password_hash=password_hash)


def _new_user(**overrides: Any) -> dict[str, Any]:
    return {"input": {"email": "new@admin.test", "password": PASSWORD, **overrides}}


# ---------------------------------------------------------------- users


async def test_given_roles_when_creating_a_user_then_it_is_returned_with_its_roles(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    role = await people.role({"TASKS": ["UPDATE"]}, name="tasker")

    created = await gql.ok(
        CREATE_USER,
        _new_user(email=" New@Admin.TEST ", fullName="Newcomer", roleIds=[gid("Role", role)]),
    )

    user = created["createUser"]["user"]
    assert user == {
        "id": user["id"],
        "email": "new@admin.test",
        "fullName": "Newcomer",
        "isActive": True,
        "isSuperuser": False,
        "roles": [{"name": "tasker", "grants": [{"module": "TASKS", "actions": ["UPDATE"]}]}],
    }
    assert await role_ids_of(engine, pk_of(user["id"])) == {role}


async def test_given_a_created_user_when_logging_in_then_the_roles_grant_their_permissions(
    gql: GraphQLClient, anonymous: GraphQLClient, people: People
) -> None:
    role = await people.role({"PRODUCTS": []})
    await gql.ok(CREATE_USER, _new_user(roleIds=[gid("Role", role)]))

    login = await anonymous.ok(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        {"e": "new@admin.test", "p": PASSWORD},
    )
    member = anonymous.as_token(login["login"]["accessToken"])

    assert (await member.ok("{ products { totalCount } }"))["products"]["totalCount"] == 0
    denied = await member.error("{ tasks { totalCount } }")
    assert denied["extensions"]["code"] == "FORBIDDEN"


async def test_given_an_existing_email_in_another_case_when_creating_a_user_then_conflict(
    gql: GraphQLClient, people: People
) -> None:
    await people.user(email="taken@admin.test")

    error = await gql.error(CREATE_USER, _new_user(email="Taken@Admin.test"))

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["fields"] == {"email": "is taken"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short-pass1"}, "password"),
        ({"roleIds": [gid("Role", MISSING)]}, "roleIds"),
        ({"roleIds": [gid("User", 1)]}, "roleIds"),
    ],
    ids=["invalid-email", "password-under-12", "unknown-role", "id-of-another-type"],
)
async def test_given_invalid_input_when_creating_a_user_then_bad_user_input_and_no_user(
    gql: GraphQLClient, engine: AsyncEngine, overrides: dict[str, Any], field: str
) -> None:
    users_before = (await gql.ok("{ users { totalCount } }"))["users"]["totalCount"]

    error = await gql.error(CREATE_USER, _new_user(**overrides))

    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert field in error["extensions"]["fields"], error
    assert (await gql.ok("{ users { totalCount } }"))["users"]["totalCount"] == users_before


async def test_given_a_user_when_renaming_then_only_the_name_changes(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    member = await people.user(email="rename@admin.test")

    updated = await gql.ok(UPDATE_USER, {"id": member.gid, "input": {"fullName": "Renamed"}})

    assert updated["updateUser"]["user"]["fullName"] == "Renamed"
    assert await user_row(engine, member.id) == {
        "email": "rename@admin.test",
        "full_name": "Renamed",
        "is_active": True,
        "is_superuser": False,
    }


async def test_given_a_deactivated_user_when_using_their_token_then_unauthenticated(
    gql: GraphQLClient, people: People
) -> None:
    member = await people.user({"PRODUCTS": []})

    updated = await gql.ok(UPDATE_USER, {"id": member.gid, "input": {"isActive": False}})

    assert updated["updateUser"]["user"]["isActive"] is False
    error = await member.gql.error("{ me { id } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_four_users_when_paginating_users_then_pages_follow_in_order(
    gql: GraphQLClient, people: People
) -> None:
    for n in range(3):
        await people.user(email=f"page{n}@admin.test")
    query = (
        "query($after: String) { users(first: 2, after: $after) { totalCount "
        "pageInfo { hasNextPage endCursor } edges { node { email } } } }"
    )

    first = (await gql.ok(query))["users"]
    second = (await gql.ok(query, {"after": first["pageInfo"]["endCursor"]}))["users"]

    assert first["totalCount"] == second["totalCount"] == 4
    assert first["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["hasNextPage"] is False
    emails = [edge["node"]["email"] for page in (first, second) for edge in page["edges"]]
    assert emails == [SUPERUSER_EMAIL, "page0@admin.test", "page1@admin.test", "page2@admin.test"]


async def test_given_a_user_id_when_reading_one_user_then_it_is_returned_and_missing_is_null(
    gql: GraphQLClient, people: People
) -> None:
    member = await people.user({"CUSTOMERS": []}, email="one@admin.test")
    query = "query($id: ID!) { user(id: $id) { email roles { grants { module } } } }"

    found = await gql.ok(query, {"id": member.gid})
    missing = await gql.ok(query, {"id": gid("User", MISSING)})

    assert found["user"] == {
        "email": "one@admin.test",
        "roles": [{"grants": [{"module": "CUSTOMERS"}]}],
    }
    assert missing == {"user": None}


# ---------------------------------------------------------------- roles


async def test_given_grants_when_creating_a_role_then_it_is_returned_with_them(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    created = await gql.ok(
        CREATE_ROLE,
        {
            "input": {
                "name": "sales",
                "description": "Sells things",
                "grants": [
                    {"module": "CUSTOMERS", "actions": ["DELETE", "CREATE"]},
                    {"module": "PRODUCTS"},
                ],
            }
        },
    )

    role = created["createRole"]["role"]
    assert role["name"] == "sales"
    assert role["description"] == "Sells things"
    assert normalized(role["grants"]) == {"CUSTOMERS": {"CREATE", "DELETE"}, "PRODUCTS": set()}
    assert await grants_of(engine, pk_of(role["id"])) == normalized(role["grants"])


async def test_given_a_module_twice_when_creating_a_role_then_bad_user_input_and_no_role(
    gql: GraphQLClient,
) -> None:
    error = await gql.error(
        CREATE_ROLE,
        {
            "input": {
                "name": "twice",
                "grants": [{"module": "TASKS"}, {"module": "TASKS", "actions": ["DELETE"]}],
            }
        },
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "grants" in error["extensions"]["fields"]
    assert (await gql.ok("{ roles { name } }"))["roles"] == []


async def test_given_a_role_name_in_another_case_when_creating_a_role_then_conflict(
    gql: GraphQLClient, people: People
) -> None:
    await people.role(name="editors")

    error = await gql.error(CREATE_ROLE, {"input": {"name": "Editors"}})

    assert error["extensions"]["code"] == "CONFLICT"
    assert (await gql.ok("{ roles { name } }"))["roles"] == [{"name": "editors"}]


async def test_given_a_role_when_updating_grants_then_the_whole_set_is_replaced(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    role = await people.role({"PRODUCTS": ["CREATE", "UPDATE"], "TASKS": []}, name="old")

    updated = await gql.ok(
        UPDATE_ROLE,
        {
            "id": gid("Role", role),
            "input": {
                "name": "new",
                "description": "Renamed",
                "grants": [{"module": "CUSTOMERS", "actions": ["UPDATE"]}],
            },
        },
    )

    assert updated["updateRole"]["role"] == {
        "id": gid("Role", role),
        "name": "new",
        "description": "Renamed",
        "grants": [{"module": "CUSTOMERS", "actions": ["UPDATE"]}],
    }
    assert await grants_of(engine, role) == {"CUSTOMERS": {"UPDATE"}}


async def test_given_a_role_when_updating_only_its_name_then_grants_stay(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    role = await people.role({"TASKS": ["DELETE"]}, name="before")

    await gql.ok(UPDATE_ROLE, {"id": gid("Role", role), "input": {"name": "after"}})

    assert await role_row(engine, role) == {"name": "after", "description": None}
    assert await grants_of(engine, role) == {"TASKS": {"DELETE"}}


async def test_given_another_role_name_when_renaming_a_role_to_it_then_conflict(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    await people.role(name="first")
    second = await people.role(name="second")

    error = await gql.error(UPDATE_ROLE, {"id": gid("Role", second), "input": {"name": "FIRST"}})

    assert error["extensions"]["code"] == "CONFLICT"
    assert (await role_row(engine, second) or {})["name"] == "second"


async def test_given_a_held_role_when_deleted_then_its_holders_lose_it_and_its_permissions(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    role = await people.role({"PRODUCTS": []}, name="doomed")
    kept = await people.role({"TASKS": []}, name="kept")
    member = await people.user(role_ids=[role, kept])

    deleted = await gql.ok(DELETE_ROLE, {"id": gid("Role", role)})

    assert deleted == {"deleteRole": {"deletedId": gid("Role", role)}}
    assert await role_row(engine, role) is None
    assert await grants_of(engine, role) == {}
    assert await role_ids_of(engine, member.id) == {kept}
    found = await gql.ok("query($id: ID!) { user(id: $id) { roles { name } } }", {"id": member.gid})
    assert found["user"]["roles"] == [{"name": "kept"}]
    fresh = people.client(member.id)
    denied = await fresh.error("{ products { totalCount } }")
    assert denied["extensions"]["permission"] == "products:read"


async def test_given_a_held_role_when_deleted_then_no_sqlalchemy_warning(
    gql: GraphQLClient, people: People, recwarn: pytest.WarningsRecorder
) -> None:
    role = await people.role({"PRODUCTS": []})
    await people.user(role_ids=[role])

    await gql.ok(DELETE_ROLE, {"id": gid("Role", role)})

    assert [str(w.message) for w in recwarn if issubclass(w.category, SAWarning)] == []


async def test_given_roles_when_listing_then_they_come_by_name_with_grants(
    gql: GraphQLClient, people: People
) -> None:
    await people.role({"USERS": ["UPDATE"], "AUDIT": []}, name="bravo")
    await people.role(name="alpha", description="Nothing yet")
    await people.role({"TASKS": ["CREATE", "DELETE"]}, name="charlie")

    roles = (await gql.ok("{ roles { name description grants { module actions } } }"))["roles"]

    assert [role["name"] for role in roles] == ["alpha", "bravo", "charlie"]
    assert roles[0] == {"name": "alpha", "description": "Nothing yet", "grants": []}
    assert normalized(roles[1]["grants"]) == {"AUDIT": set(), "USERS": {"UPDATE"}}
    assert roles[2]["grants"] == [{"module": "TASKS", "actions": ["CREATE", "DELETE"]}]


# ---------------------------------------------------------------- assignments


async def test_given_a_role_when_assigned_twice_then_the_user_holds_it_once(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    role = await people.role({"CUSTOMERS": []}, name="viewer")
    member = await people.user()
    variables = {"u": member.gid, "r": gid("Role", role)}

    first = await gql.ok(ASSIGN, variables)
    second = await gql.ok(ASSIGN, variables)

    assert first["assignRole"]["user"]["roles"] == [{"name": "viewer"}]
    assert second == first
    assert await role_ids_of(engine, member.id) == {role}


async def test_given_a_held_role_when_unassigned_then_only_it_goes_and_again_is_harmless(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    gone = await people.role(name="gone")
    stays = await people.role(name="stays")
    member = await people.user(role_ids=[gone, stays])
    variables = {"u": member.gid, "r": gid("Role", gone)}

    first = await gql.ok(UNASSIGN, variables)
    again = await gql.ok(UNASSIGN, variables)

    assert first["unassignRole"]["user"]["roles"] == [{"name": "stays"}]
    assert again == first
    assert await role_ids_of(engine, member.id) == {stays}


# ---------------------------------------------------------------- not found


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (UPDATE_USER, lambda u, r: {"id": gid("User", MISSING), "input": {"fullName": "X"}}),
        (UPDATE_ROLE, lambda u, r: {"id": gid("Role", MISSING), "input": {"name": "x"}}),
        (DELETE_ROLE, lambda u, r: {"id": gid("Role", MISSING)}),
        (ASSIGN, lambda u, r: {"u": gid("User", MISSING), "r": r}),
        (ASSIGN, lambda u, r: {"u": u, "r": gid("Role", MISSING)}),
        (UNASSIGN, lambda u, r: {"u": gid("User", MISSING), "r": r}),
        (UNASSIGN, lambda u, r: {"u": u, "r": gid("Role", MISSING)}),
    ],
    ids=[
        "updateUser",
        "updateRole",
        "deleteRole",
        "assignRole-user",
        "assignRole-role",
        "unassignRole-user",
        "unassignRole-role",
    ],
)
async def test_given_a_missing_id_when_administering_then_not_found(
    gql: GraphQLClient, people: People, query: str, variables: Any
) -> None:
    role = await people.role()
    member = await people.user()

    error = await gql.error(query, variables(member.gid, gid("Role", role)))

    assert error["extensions"]["code"] == "NOT_FOUND", error


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (UPDATE_USER, {"id": gid("Role", 1), "input": {"fullName": "X"}}),
        (DELETE_ROLE, {"id": gid("User", 1)}),
        (ASSIGN, {"u": raw_id("garbage"), "r": gid("Role", 1)}),
    ],
    ids=["user-id-of-a-role", "role-id-of-a-user", "malformed"],
)
async def test_given_an_id_of_the_wrong_kind_when_administering_then_bad_user_input(
    gql: GraphQLClient, query: str, variables: dict[str, Any]
) -> None:
    error = await gql.error(query, variables)

    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
