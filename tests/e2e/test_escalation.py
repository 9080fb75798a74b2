"""Privilege escalation over HTTP: a user administrator cannot exceed their own grants.

The administrator holds USERS with every write action and PRODUCTS read, nothing else
and no superuser flag. Each escalation is FORBIDDEN and leaves every user, role, grant
and assignment exactly as it was; the same moves within their own grants succeed.
Superusers keep at least one of their kind active.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import gid, pk_of
from tests.conftest import GraphQLClient
from tests.rbac_helpers import (
    EVERYTHING,
    WRITE_ACTIONS,
    Member,
    People,
    grants_of,
    identity_snapshot,
    role_ids_of,
    role_row,
    user_row,
)

CREATE_USER = "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }"
UPDATE_USER = (
    "mutation($id: ID!, $input: UpdateUserInput!) "
    "{ updateUser(id: $id, input: $input) { user { id fullName isActive isSuperuser } } }"
)
CREATE_ROLE = (
    "mutation($input: CreateRoleInput!) "
    "{ createRole(input: $input) { role { id name grants { module actions } } } }"
)
UPDATE_ROLE = (
    "mutation($id: ID!, $input: UpdateRoleInput!) "
    "{ updateRole(id: $id, input: $input) { role { id name grants { module actions } } } }"
)
DELETE_ROLE = "mutation($id: ID!) { deleteRole(id: $id) { deletedId } }"
ASSIGN = (
    "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { user { id roles { id } } } }"
)
UNASSIGN = (
    "mutation($u: ID!, $r: ID!) "
    "{ unassignRole(userId: $u, roleId: $r) { user { id roles { id } } } }"
)
PASSWORD = "a-long-enough-password"


@dataclass(frozen=True)
class Scene:
    """A user administrator, a plain user, a superuser and roles within and beyond reach.

    - `admin_role`: the administrator's own role (USERS with every write, PRODUCTS read).
    - `within`: PRODUCTS read, held by the plain user and by the superuser.
    - `spare`: PRODUCTS read, held by nobody.
    - `beyond`: TASKS read, held by the plain user.
    - `more`: PRODUCTS with CREATE, held by nobody.
    """

    admin: Member
    target: Member
    root_id: int
    admin_role: int
    within: int
    spare: int
    beyond: int
    more: int

    def role(self, name: str) -> str:
        """The global ID of one of the scene's roles."""
        return gid("Role", getattr(self, name))

    def user(self, name: str) -> str:
        """The global ID of `admin`, `target` or `root`."""
        pk = self.root_id if name == "root" else getattr(self, name).id
        return gid("User", pk)


ADMIN_GRANTS = {"USERS": WRITE_ACTIONS, "PRODUCTS": ()}


@pytest.fixture
def people(gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str) -> People:
    """Roles and users for the test; `gql` makes the superuser exist too."""
    return People(engine=engine, app=app, http=gql.http, password_hash=password_hash)


@pytest.fixture
async def scene(people: People, superuser_id: int) -> Scene:
    """See `Scene`."""
    admin_role = await people.role(ADMIN_GRANTS, name="user-admin")
    within = await people.role({"PRODUCTS": []}, name="product-reader")
    spare = await people.role({"PRODUCTS": []}, name="spare-reader")
    beyond = await people.role({"TASKS": []}, name="task-reader")
    more = await people.role({"PRODUCTS": ["CREATE"]}, name="product-creator")
    admin = await people.user(role_ids=[admin_role], email="admin@rbac.test")
    target = await people.user(role_ids=[within, beyond], email="target@rbac.test")
    await people.assign(superuser_id, within)
    return Scene(admin, target, superuser_id, admin_role, within, spare, beyond, more)


Request = Callable[[Scene], tuple[str, dict[str, Any]]]


def _grants(**modules: list[str]) -> list[dict[str, Any]]:
    return [{"module": module, "actions": actions} for module, actions in modules.items()]


ESCALATIONS: dict[str, Request] = {
    "create-superuser": lambda s: (
        CREATE_USER,
        {"input": {"email": "boss@rbac.test", "password": PASSWORD, "isSuperuser": True}},
    ),
    "create-user-with-a-role-of-another-module": lambda s: (
        CREATE_USER,
        {"input": {"email": "x@rbac.test", "password": PASSWORD, "roleIds": [s.role("beyond")]}},
    ),
    "create-user-with-a-role-of-more-actions": lambda s: (
        CREATE_USER,
        {"input": {"email": "x@rbac.test", "password": PASSWORD, "roleIds": [s.role("more")]}},
    ),
    "promote-another-user": lambda s: (
        UPDATE_USER,
        {"id": s.user("target"), "input": {"isSuperuser": True}},
    ),
    "promote-self": lambda s: (
        UPDATE_USER,
        {"id": s.user("admin"), "input": {"isSuperuser": True}},
    ),
    "rename-a-superuser": lambda s: (
        UPDATE_USER,
        {"id": s.user("root"), "input": {"fullName": "Pwned"}},
    ),
    "deactivate-a-superuser": lambda s: (
        UPDATE_USER,
        {"id": s.user("root"), "input": {"isActive": False}},
    ),
    "demote-a-superuser": lambda s: (
        UPDATE_USER,
        {"id": s.user("root"), "input": {"isSuperuser": False}},
    ),
    "create-role-of-another-module": lambda s: (
        CREATE_ROLE,
        {"input": {"name": "sneaky", "grants": _grants(TASKS=[])}},
    ),
    "create-role-of-more-actions": lambda s: (
        CREATE_ROLE,
        {"input": {"name": "sneaky", "grants": _grants(PRODUCTS=["CREATE"])}},
    ),
    "create-role-of-audit": lambda s: (
        CREATE_ROLE,
        {"input": {"name": "sneaky", "grants": _grants(AUDIT=[])}},
    ),
    "update-role-adding-a-module": lambda s: (
        UPDATE_ROLE,
        {"id": s.role("spare"), "input": {"grants": _grants(PRODUCTS=[], CUSTOMERS=[])}},
    ),
    "update-role-adding-an-action": lambda s: (
        UPDATE_ROLE,
        {"id": s.role("spare"), "input": {"grants": _grants(PRODUCTS=["DELETE"])}},
    ),
    "update-own-role-adding-a-module": lambda s: (
        UPDATE_ROLE,
        {
            "id": s.role("admin_role"),
            "input": {"grants": _grants(USERS=list(WRITE_ACTIONS), PRODUCTS=[], TASKS=[])},
        },
    ),
    "rename-a-role-beyond": lambda s: (
        UPDATE_ROLE,
        {"id": s.role("beyond"), "input": {"name": "renamed"}},
    ),
    "shrink-a-role-beyond": lambda s: (
        UPDATE_ROLE,
        {"id": s.role("beyond"), "input": {"grants": []}},
    ),
    "delete-a-role-of-another-module": lambda s: (DELETE_ROLE, {"id": s.role("beyond")}),
    "delete-a-role-of-more-actions": lambda s: (DELETE_ROLE, {"id": s.role("more")}),
    "assign-a-role-beyond-to-another-user": lambda s: (
        ASSIGN,
        {"u": s.user("target"), "r": s.role("more")},
    ),
    "assign-a-role-of-another-module-to-self": lambda s: (
        ASSIGN,
        {"u": s.user("admin"), "r": s.role("beyond")},
    ),
    "assign-a-role-of-more-actions-to-self": lambda s: (
        ASSIGN,
        {"u": s.user("admin"), "r": s.role("more")},
    ),
    "unassign-a-role-beyond-from-another-user": lambda s: (
        UNASSIGN,
        {"u": s.user("target"), "r": s.role("beyond")},
    ),
    "assign-a-role-within-to-a-superuser": lambda s: (
        ASSIGN,
        {"u": s.user("root"), "r": s.role("spare")},
    ),
    "unassign-a-role-within-from-a-superuser": lambda s: (
        UNASSIGN,
        {"u": s.user("root"), "r": s.role("within")},
    ),
}


@pytest.mark.parametrize("request_of", ESCALATIONS.values(), ids=ESCALATIONS.keys())
async def test_given_a_user_admin_when_escalating_then_forbidden_and_nothing_changes(
    scene: Scene, engine: AsyncEngine, request_of: Request
) -> None:
    query, variables = request_of(scene)
    before = await identity_snapshot(engine)

    error = await scene.admin.gql.error(query, variables)

    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert await identity_snapshot(engine) == before


# ---------------------------------------------------------------- within their own grants


async def test_given_a_user_admin_when_creating_a_user_with_a_role_within_then_allowed(
    scene: Scene,
) -> None:
    created = await scene.admin.gql.ok(
        "mutation($input: CreateUserInput!) "
        "{ createUser(input: $input) { user { email isSuperuser roles { name } } } }",
        {
            "input": {
                "email": "new@rbac.test",
                "password": PASSWORD,
                "roleIds": [scene.role("within")],
            }
        },
    )

    assert created["createUser"]["user"] == {
        "email": "new@rbac.test",
        "isSuperuser": False,
        "roles": [{"name": "product-reader"}],
    }


async def test_given_a_user_admin_when_creating_a_role_from_the_union_of_own_grants_then_allowed(
    scene: Scene, engine: AsyncEngine
) -> None:
    created = await scene.admin.gql.ok(
        CREATE_ROLE,
        {"input": {"name": "deputy", "grants": _grants(USERS=["CREATE"], PRODUCTS=[])}},
    )

    role = created["createRole"]["role"]
    assert role["name"] == "deputy"
    assert await grants_of(engine, pk_of(role["id"])) == {"USERS": {"CREATE"}, "PRODUCTS": set()}


async def test_given_a_user_admin_when_regranting_a_role_within_then_the_set_is_replaced(
    scene: Scene, engine: AsyncEngine
) -> None:
    updated = await scene.admin.gql.ok(
        UPDATE_ROLE,
        {"id": scene.role("spare"), "input": {"grants": _grants(USERS=["UPDATE"])}},
    )

    assert updated["updateRole"]["role"]["grants"] == [{"module": "USERS", "actions": ["UPDATE"]}]
    assert await grants_of(engine, scene.spare) == {"USERS": {"UPDATE"}}


async def test_given_a_user_admin_when_deleting_a_held_role_within_then_it_is_gone(
    scene: Scene, engine: AsyncEngine, people: People
) -> None:
    role = await people.role({"USERS": ["DELETE"], "PRODUCTS": []})
    await people.assign(scene.target.id, role)

    await scene.admin.gql.ok(DELETE_ROLE, {"id": gid("Role", role)})

    assert await role_row(engine, role) is None
    assert await role_ids_of(engine, scene.target.id) == {scene.within, scene.beyond}


async def test_given_a_user_admin_when_assigning_and_unassigning_a_role_within_then_allowed(
    scene: Scene, engine: AsyncEngine
) -> None:
    await scene.admin.gql.ok(ASSIGN, {"u": scene.user("target"), "r": scene.role("spare")})
    assert await role_ids_of(engine, scene.target.id) == {scene.within, scene.beyond, scene.spare}

    await scene.admin.gql.ok(UNASSIGN, {"u": scene.user("target"), "r": scene.role("within")})
    assert await role_ids_of(engine, scene.target.id) == {scene.beyond, scene.spare}


async def test_given_a_user_admin_when_assigning_self_a_role_within_then_allowed_and_token_renewed(
    scene: Scene, engine: AsyncEngine, people: People
) -> None:
    await scene.admin.gql.ok(ASSIGN, {"u": scene.user("admin"), "r": scene.role("within")})

    assert await role_ids_of(engine, scene.admin.id) == {scene.admin_role, scene.within}
    # A change to one's roles revokes earlier tokens; a new one works.
    stale = await scene.admin.gql.error("{ me { id } }")
    assert stale["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await people.client(scene.admin.id).ok("{ me { id } }"))["me"]["id"] == scene.user(
        "admin"
    )


async def test_given_a_user_admin_when_renaming_and_deactivating_a_plain_user_then_allowed(
    scene: Scene, engine: AsyncEngine
) -> None:
    updated = await scene.admin.gql.ok(
        UPDATE_USER, {"id": scene.user("target"), "input": {"fullName": "Ex", "isActive": False}}
    )

    assert updated["updateUser"]["user"] == {
        "id": scene.user("target"),
        "fullName": "Ex",
        "isActive": False,
        "isSuperuser": False,
    }
    assert await user_row(engine, scene.target.id) == {
        "email": "target@rbac.test",
        "full_name": "Ex",
        "is_active": False,
        "is_superuser": False,
    }


async def test_given_a_user_admin_when_deactivating_self_then_bad_user_input(
    scene: Scene, engine: AsyncEngine
) -> None:
    error = await scene.admin.gql.error(
        UPDATE_USER, {"id": scene.user("admin"), "input": {"isActive": False}}
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "isActive" in error["extensions"]["fields"]
    assert (await user_row(engine, scene.admin.id) or {})["is_active"] is True


# ---------------------------------------------------------------- superusers


async def test_given_a_superuser_when_creating_promoting_and_granting_everything_then_allowed(
    gql: GraphQLClient, scene: Scene, engine: AsyncEngine
) -> None:
    created = await gql.ok(
        CREATE_USER,
        {"input": {"email": "boss@rbac.test", "password": PASSWORD, "isSuperuser": True}},
    )
    promoted = await gql.ok(
        UPDATE_USER, {"id": scene.user("target"), "input": {"isSuperuser": True}}
    )
    role = await gql.ok(
        CREATE_ROLE,
        {
            "input": {
                "name": "all",
                "grants": [{"module": m, "actions": list(a)} for m, a in EVERYTHING.items()],
            }
        },
    )
    await gql.ok(ASSIGN, {"u": scene.user("admin"), "r": role["createRole"]["role"]["id"]})

    assert (await user_row(engine, pk_of(created["createUser"]["user"]["id"])) or {})[
        "is_superuser"
    ]
    assert promoted["updateUser"]["user"]["isSuperuser"] is True
    assert len(await role_ids_of(engine, scene.admin.id)) == 2


async def test_given_two_superusers_when_deactivating_self_then_bad_user_input(
    gql: GraphQLClient, people: People, superuser_id: int, engine: AsyncEngine
) -> None:
    await people.user(is_superuser=True)

    error = await gql.error(
        UPDATE_USER, {"id": gid("User", superuser_id), "input": {"isActive": False}}
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "isActive" in error["extensions"]["fields"]
    assert (await user_row(engine, superuser_id) or {})["is_active"] is True


async def test_given_two_superusers_when_one_demotes_the_other_then_the_last_cannot_be_demoted(
    gql: GraphQLClient, people: People, superuser_id: int, engine: AsyncEngine
) -> None:
    other = await people.user(is_superuser=True)

    demoted = await gql.ok(UPDATE_USER, {"id": other.gid, "input": {"isSuperuser": False}})
    error = await gql.error(
        UPDATE_USER, {"id": gid("User", superuser_id), "input": {"isSuperuser": False}}
    )

    assert demoted["updateUser"]["user"]["isSuperuser"] is False
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await user_row(engine, superuser_id) or {})["is_superuser"] is True


async def test_given_another_active_superuser_when_deactivated_by_a_superuser_then_allowed(
    gql: GraphQLClient, people: People, engine: AsyncEngine
) -> None:
    other = await people.user(is_superuser=True)

    await gql.ok(UPDATE_USER, {"id": other.gid, "input": {"isActive": False}})

    assert (await user_row(engine, other.id) or {})["is_active"] is False


async def test_given_only_inactive_other_superusers_when_demoting_self_then_conflict(
    gql: GraphQLClient, people: People, superuser_id: int, engine: AsyncEngine
) -> None:
    await people.user(is_superuser=True, is_active=False)

    error = await gql.error(
        UPDATE_USER, {"id": gid("User", superuser_id), "input": {"isSuperuser": False}}
    )

    assert error["extensions"]["code"] == "CONFLICT"
    assert (await user_row(engine, superuser_id) or {})["is_superuser"] is True


async def test_given_a_demoted_superuser_when_using_an_old_token_then_unauthenticated(
    gql: GraphQLClient, people: People
) -> None:
    other = await people.user(is_superuser=True)

    await gql.ok(UPDATE_USER, {"id": other.gid, "input": {"isSuperuser": False}})

    error = await other.gql.error("{ users { totalCount } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
