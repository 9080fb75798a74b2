"""Role x operation matrix over HTTP: each operation needs exactly one permission.

For every operation of every module, a user whose single role grants exactly that
permission may run it; a user missing it (the same module without that action, other
modules only, AUDIT only, or no role at all) gets FORBIDDEN naming the permission,
and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import (
    add_customers,
    add_products,
    add_tasks,
    customers_t,
    gid,
    products_t,
    tasks_t,
)
from tests.conftest import SUPERUSER_PASSWORD, GraphQLClient
from tests.rbac_helpers import (
    MODULES,
    WRITE_ACTIONS,
    Grants,
    People,
    assert_forbidden,
    permission,
    roles_t,
    user_roles_t,
    users_t,
)


@dataclass(frozen=True)
class World:
    """One object of each kind for the operations to act on."""

    product: int
    customer: int
    task: int
    target_user: int
    spare_role: int
    held_role: int


@pytest.fixture
def people(gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str) -> People:
    """Roles and users for the test; `gql` makes the superuser exist too."""
    return People(engine=engine, app=app, http=gql.http, password_hash=password_hash)


@pytest.fixture
async def world(engine: AsyncEngine, people: People) -> World:
    """A product, a customer, a task, a user holding an empty role, and a spare empty role."""
    (product,) = await add_products(engine, {"sku": "RBAC-1"})
    (customer,) = await add_customers(engine, {"email": "rbac@customer.test"})
    (task,) = await add_tasks(engine, {"title": "RBAC task"})
    spare_role = await people.role(name="spare")
    held_role = await people.role(name="held")
    target = await people.user(role_ids=[held_role], email="target@rbac.test")
    return World(product, customer, task, target.id, spare_role, held_role)


@dataclass(frozen=True)
class Op:
    """One GraphQL operation, the permission it needs and the variables it runs with."""

    name: str
    module: str
    action: str
    query: str
    variables: Callable[[World], dict[str, Any]] = lambda _w: {}

    @property
    def root(self) -> str:
        """The root field the operation selects."""
        return self.name


def _by_id(type_name: str, attribute: str) -> Callable[[World], dict[str, Any]]:
    return lambda w: {"id": gid(type_name, getattr(w, attribute))}


def _crud(module: str, one: str, many: str, create_input: str) -> list[Op]:
    type_name = one[0].upper() + one[1:]
    update_input = '{title: "Renamed"}' if one == "task" else '{name: "Renamed"}'
    return [
        Op(many, module, "READ", f"{{ {many} {{ totalCount }} }}"),
        Op(
            one,
            module,
            "READ",
            f"query($id: ID!) {{ {one}(id: $id) {{ id }} }}",
            _by_id(type_name, one),
        ),
        Op(
            f"create{type_name}",
            module,
            "CREATE",
            f"mutation {{ create{type_name}(input: {create_input}) {{ {one} {{ id }} }} }}",
        ),
        Op(
            f"update{type_name}",
            module,
            "UPDATE",
            f"mutation($id: ID!) {{ update{type_name}(id: $id, input: {update_input}) "
            f"{{ {one} {{ id }} }} }}",
            _by_id(type_name, one),
        ),
        Op(
            f"delete{type_name}",
            module,
            "DELETE",
            f"mutation($id: ID!) {{ delete{type_name}(id: $id) {{ deletedId }} }}",
            _by_id(type_name, one),
        ),
    ]


OPS: list[Op] = [
    *_crud("PRODUCTS", "product", "products", '{sku: "RBAC-NEW", name: "New", price: "1.00"}'),
    *_crud("CUSTOMERS", "customer", "customers", '{name: "New", email: "new@customer.test"}'),
    *_crud("TASKS", "task", "tasks", '{title: "New"}'),
    Op("users", "USERS", "READ", "{ users { totalCount } }"),
    Op(
        "user",
        "USERS",
        "READ",
        "query($id: ID!) { user(id: $id) { id } }",
        _by_id("User", "target_user"),
    ),
    Op("roles", "USERS", "READ", "{ roles { id } }"),
    Op(
        "createUser",
        "USERS",
        "CREATE",
        'mutation { createUser(input: {email: "new@rbac.test", password: "long-enough-password"})'
        " { user { id } } }",
    ),
    Op(
        "updateUser",
        "USERS",
        "UPDATE",
        'mutation($id: ID!) { updateUser(id: $id, input: {fullName: "Renamed"}) { user { id } } }',
        _by_id("User", "target_user"),
    ),
    Op(
        "createRole",
        "USERS",
        "CREATE",
        'mutation { createRole(input: {name: "new-role"}) { role { id } } }',
    ),
    Op(
        "updateRole",
        "USERS",
        "UPDATE",
        'mutation($id: ID!) { updateRole(id: $id, input: {name: "renamed"}) { role { id } } }',
        _by_id("Role", "spare_role"),
    ),
    Op(
        "deleteRole",
        "USERS",
        "DELETE",
        "mutation($id: ID!) { deleteRole(id: $id) { deletedId } }",
        _by_id("Role", "spare_role"),
    ),
    Op(
        "assignRole",
        "USERS",
        "UPDATE",
        "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) { user { id } } }",
        lambda w: {"u": gid("User", w.target_user), "r": gid("Role", w.spare_role)},
    ),
    Op(
        "unassignRole",
        "USERS",
        "UPDATE",
        "mutation($u: ID!, $r: ID!) { unassignRole(userId: $u, roleId: $r) { user { id } } }",
        lambda w: {"u": gid("User", w.target_user), "r": gid("Role", w.held_role)},
    ),
]
OP_IDS = [op.name for op in OPS]


def exactly(op: Op) -> Grants:
    """The one grant that gives `op`'s permission and nothing else on its module."""
    return {op.module: [] if op.action == "READ" else [op.action]}


def denials() -> list[Any]:
    """(op, grant sets) for each way of lacking `op`'s permission (AUDIT-only: see below)."""
    cases: list[Any] = []
    for op in OPS:
        others = {m: WRITE_ACTIONS for m in MODULES if m != op.module}
        variants: list[tuple[str, list[Grants]]] = [
            ("other-modules", [others]),
            ("no-roles", []),
        ]
        if op.action != "READ":
            rest = [a for a in WRITE_ACTIONS if a != op.action]
            variants.append(("same-module-other-actions", [{op.module: rest}]))
        cases += [pytest.param(op, grants, id=f"{op.name}-{label}") for label, grants in variants]
    return cases


async def _snapshot(engine: AsyncEngine) -> dict[str, list[str]]:
    """What an operation of the matrix could change: every row's name, and the assignments."""
    columns = (
        products_t.c.name,
        customers_t.c.name,
        tasks_t.c.title,
        users_t.c.full_name,
        roles_t.c.name,
        user_roles_t.c.user_id,
    )
    snapshot: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for column in columns:
            rows = await conn.execute(select(column))
            snapshot[f"{column.table}.{column.name}"] = sorted(str(row[0]) for row in rows)
    return snapshot


async def _assert_allowed(client: GraphQLClient, op: Op, world: World) -> None:
    data = await client.ok(op.query, op.variables(world))
    assert data[op.root] is not None, data


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
async def test_given_a_role_granting_exactly_the_permission_when_operating_then_allowed(
    people: People, world: World, op: Op
) -> None:
    member = await people.user(exactly(op))

    await _assert_allowed(member.gql, op, world)


@pytest.mark.parametrize(("op", "grant_sets"), denials())
async def test_given_the_permission_missing_when_operating_then_forbidden_and_nothing_changes(
    people: People, world: World, engine: AsyncEngine, op: Op, grant_sets: list[Grants]
) -> None:
    member = await people.user(*grant_sets)
    before = await _snapshot(engine)

    result = await member.gql(op.query, op.variables(world))

    errors = result.get("errors") or []
    assert len(errors) == 1, result
    assert_forbidden(errors[0], permission(op.module, op.action))
    assert errors[0]["path"] == [op.root]
    assert result["data"] is None or result["data"][op.root] is None
    assert await _snapshot(engine) == before


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
async def test_given_a_superuser_without_roles_when_operating_then_allowed(
    gql: GraphQLClient, world: World, op: Op
) -> None:
    await _assert_allowed(gql, op, world)


async def test_given_no_token_when_running_any_operation_then_unauthenticated(
    anonymous: GraphQLClient,
) -> None:
    codes = {
        op.name: (await anonymous.error(op.query, op.variables(World(1, 1, 1, 1, 1, 1))))[
            "extensions"
        ]["code"]
        for op in OPS
    }

    assert codes == dict.fromkeys(OP_IDS, "UNAUTHENTICATED")


def _op(name: str) -> Op:
    return next(op for op in OPS if op.name == name)


async def test_given_two_roles_when_operating_then_the_union_of_their_grants_applies(
    people: People, world: World
) -> None:
    member = await people.user({"PRODUCTS": ["CREATE"]}, {"TASKS": ["DELETE"]})

    for allowed in ("products", "task", "createProduct", "deleteTask"):
        await _assert_allowed(member.gql, _op(allowed), world)
    for denied, missing in (
        ("deleteProduct", "products:delete"),
        ("createTask", "tasks:create"),
        ("customers", "customers:read"),
    ):
        op = _op(denied)
        assert_forbidden(await member.gql.error(op.query, op.variables(world)), missing)


async def test_given_the_same_module_in_two_roles_when_operating_then_actions_add_up(
    people: People, world: World
) -> None:
    member = await people.user({"TASKS": ["CREATE"]}, {"TASKS": ["UPDATE"]})

    for allowed in ("createTask", "updateTask", "tasks"):
        await _assert_allowed(member.gql, _op(allowed), world)
    op = _op("deleteTask")
    assert_forbidden(await member.gql.error(op.query, op.variables(world)), "tasks:delete")


async def test_given_no_roles_when_using_own_session_then_me_login_logout_and_password_work(
    people: People, anonymous: GraphQLClient
) -> None:
    member = await people.user()

    me = await member.gql.ok("{ me { id email isSuperuser roles { id } } }")
    login = await anonymous.ok(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        {"e": member.email, "p": SUPERUSER_PASSWORD},
    )
    fresh = member.gql.as_token(login["login"]["accessToken"])
    changed = await fresh.ok(
        "mutation($c: String!, $n: String!) "
        "{ changePassword(currentPassword: $c, newPassword: $n) }",
        {"c": SUPERUSER_PASSWORD, "n": "another-long-password"},
    )
    relogin = await anonymous.ok(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        {"e": member.email, "p": "another-long-password"},
    )
    latest = member.gql.as_token(relogin["login"]["accessToken"])
    logged_out = await latest.ok("mutation { logout }")

    assert me["me"] == {"id": member.gid, "email": member.email, "isSuperuser": False, "roles": []}
    assert changed == {"changePassword": True}
    assert logged_out == {"logout": True}
    revoked = await latest.error("{ me { id } }")
    assert revoked["extensions"]["code"] == "UNAUTHENTICATED"


async def test_given_every_audit_action_when_running_any_operation_then_forbidden_but_me_works(
    people: People, world: World, engine: AsyncEngine
) -> None:
    member = await people.user({"AUDIT": WRITE_ACTIONS})
    before = await _snapshot(engine)

    for op in OPS:
        error = await member.gql.error(op.query, op.variables(world))
        assert_forbidden(error, permission(op.module, op.action))
    me = await member.gql.ok("{ me { id } }")

    assert me["me"]["id"] == member.gid
    assert await _snapshot(engine) == before


def test_the_matrix_covers_every_module_but_audit_and_every_action() -> None:
    covered = {(op.module, op.action) for op in OPS}
    assert covered == {
        (module, action)
        for module in MODULES
        if module != "AUDIT"
        for action in ("READ", *WRITE_ACTIONS)
    }
