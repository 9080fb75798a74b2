"""Role aggregation into permissions, the principal's checks, and permission names."""

from __future__ import annotations

import pytest

from auth.rbac import Action, Grant, Module, Principal, aggregate, permission_name


def principal(*grants: Grant, is_superuser: bool = False) -> Principal:
    """A caller holding the union of `grants`."""
    return Principal(
        user_id=1,
        email="user@example.com",
        is_superuser=is_superuser,
        permissions=aggregate(grants),
    )


# ---------------------------------------------------------------- aggregate


def test_given_no_grants_when_aggregated_then_no_permissions() -> None:
    assert aggregate([]) == frozenset()


def test_given_a_module_without_write_actions_when_aggregated_then_read_only() -> None:
    assert aggregate([Grant(Module.AUDIT)]) == {(Module.AUDIT, Action.READ)}


def test_given_grants_from_two_roles_when_aggregated_then_their_union_with_read_implied() -> None:
    editor = [Grant(Module.TASKS, frozenset({Action.CREATE, Action.UPDATE}))]
    cleaner = [
        Grant(Module.TASKS, frozenset({Action.DELETE})),
        Grant(Module.PRODUCTS, frozenset({Action.UPDATE})),
    ]

    permissions = aggregate([*editor, *cleaner])

    assert permissions == {
        (Module.TASKS, Action.READ),
        (Module.TASKS, Action.CREATE),
        (Module.TASKS, Action.UPDATE),
        (Module.TASKS, Action.DELETE),
        (Module.PRODUCTS, Action.READ),
        (Module.PRODUCTS, Action.UPDATE),
    }


def test_given_the_same_grant_twice_when_aggregated_then_counted_once() -> None:
    grant = Grant(Module.CUSTOMERS, frozenset({Action.CREATE}))

    assert aggregate([grant, grant]) == aggregate([grant])


def test_given_a_generator_of_grants_when_aggregated_then_every_grant_counts() -> None:
    grants = (Grant(module) for module in Module)

    assert aggregate(grants) == {(module, Action.READ) for module in Module}


# ---------------------------------------------------------------- can


def test_given_a_granted_action_when_checked_then_allowed() -> None:
    caller = principal(Grant(Module.TASKS, frozenset({Action.UPDATE})))

    assert caller.can(Module.TASKS, Action.UPDATE)
    assert caller.can(Module.TASKS, Action.READ)
    assert caller.can(Module.TASKS)  # READ is the default action


@pytest.mark.parametrize(
    ("module", "action"),
    [
        (Module.TASKS, Action.DELETE),
        (Module.TASKS, Action.CREATE),
        (Module.PRODUCTS, Action.READ),
        (Module.USERS, Action.UPDATE),
    ],
)
def test_given_an_action_not_granted_when_checked_then_refused(
    module: Module, action: Action
) -> None:
    caller = principal(Grant(Module.TASKS, frozenset({Action.UPDATE})))

    assert not caller.can(module, action)


def test_given_no_grants_when_checked_then_not_even_read_is_allowed() -> None:
    caller = principal()

    assert not any(caller.can(module, action) for module in Module for action in Action)


def test_given_a_superuser_without_grants_when_checked_then_everything_is_allowed() -> None:
    caller = principal(is_superuser=True)

    assert all(caller.can(module, action) for module in Module for action in Action)


# ---------------------------------------------------------------- covers


def test_given_grants_that_are_a_subset_when_covered_then_true() -> None:
    caller = principal(
        Grant(Module.TASKS, frozenset({Action.CREATE, Action.UPDATE})),
        Grant(Module.PRODUCTS),
    )

    assert caller.covers([Grant(Module.TASKS, frozenset({Action.UPDATE}))])
    assert caller.covers([Grant(Module.TASKS), Grant(Module.PRODUCTS)])
    assert caller.covers([])


@pytest.mark.parametrize(
    "wanted",
    [
        [Grant(Module.TASKS, frozenset({Action.DELETE}))],  # a new action on a held module
        [Grant(Module.USERS)],  # a module the caller cannot even read
        [Grant(Module.PRODUCTS, frozenset({Action.UPDATE}))],  # write where the caller reads
        [Grant(Module.TASKS), Grant(Module.AUDIT)],  # one held, one not
    ],
)
def test_given_grants_beyond_the_callers_when_covered_then_false_so_no_escalation(
    wanted: list[Grant],
) -> None:
    caller = principal(
        Grant(Module.TASKS, frozenset({Action.CREATE, Action.UPDATE})),
        Grant(Module.PRODUCTS),
    )

    assert not caller.covers(wanted)


def test_given_a_superuser_when_covering_any_grants_then_true() -> None:
    everything = [Grant(module, frozenset(Action)) for module in Module]

    assert principal(is_superuser=True).covers(everything)


# ---------------------------------------------------------------- names


def test_given_tasks_and_update_when_named_then_tasks_colon_update() -> None:
    assert permission_name(Module.TASKS, Action.UPDATE) == "tasks:update"


def test_given_every_permission_when_named_then_names_are_distinct_lowercase_pairs() -> None:
    names = [permission_name(module, action) for module in Module for action in Action]

    assert len(set(names)) == len(Module) * len(Action)
    assert all(name == name.lower() and name.count(":") == 1 for name in names)
    assert permission_name(Module.AUDIT, Action.READ) == "audit:read"
