"""`FastExecutionContext` against graphql-core's own path: the same data, the same errors.

A small schema of its own holds every kind of field the fast path must tell apart (plain
leaves of each scalar, an enum, optional and non-null fields, objects and lists of them,
resolvers, sync and async, a permission, an interface) and objects that break each rule
(a null in a non-null field, values that do not coerce). Every query runs on a schema with
the fast context and on Strawberry's default one; data and errors must be identical.
The plans of the app's own schema are checked in tests/integration/test_schema.py.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult

from graph.execution import FastExecutionContext, field_plans

# ---------------------------------------------------------------- the schema under test


@strawberry.enum
class Mood(Enum):
    """How someone feels."""

    HAPPY = "happy"
    GRUMPY = "grumpy"


class Deny(BasePermission):
    """Nobody may read the field."""

    message = "Secrets stay secret."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Named:
    """Anything with a name."""

    name: str


@strawberry.type
class Tag(Named):
    """A label with a weight."""

    name: str
    weight: float


@strawberry.type
class Person(Named):
    """Plain fields of every kind, plus resolvers and a guarded field."""

    id: strawberry.ID
    name: str
    age: int
    is_active: bool
    score: float
    mood: Mood
    nickname: str | None
    email: str
    lucky_number: int
    tags: list[Tag]
    best_friend: Person | None
    mentor: Person
    display: str = strawberry.field(name="displayName")
    secret: str = strawberry.field(permission_classes=[Deny])

    @strawberry.field
    def greeting(self, punctuation: str = "!") -> str:
        """A resolver with an argument."""
        return f"Hello {self.name}{punctuation}"

    @strawberry.field
    async def age_next_year(self) -> int:
        """An async resolver that really suspends."""
        await asyncio.sleep(0)
        return self.age + 1

    @strawberry.field
    async def flaky(self) -> str | None:
        """An async resolver that fails, in a nullable field."""
        await asyncio.sleep(0)
        raise ValueError(f"flaky failed for {self.name}")

    @strawberry.field
    async def fragile(self) -> str:
        """An async resolver that fails, in a non-null field."""
        raise ValueError(f"fragile failed for {self.name}")


def person(pk: int, name: Any, **overrides: Any) -> Person:
    """A valid person, apart from `overrides` (which may break any type on purpose)."""
    values: dict[str, Any] = {
        "id": strawberry.ID(str(pk)),
        "name": name,
        "age": 30 + pk,
        "is_active": True,
        "score": 1.5 * pk,
        "mood": Mood.HAPPY,
        "nickname": None,
        "email": f"{str(name).lower()}@example.com",
        "lucky_number": pk * 7,
        "tags": [],
        "best_friend": None,
        "mentor": None,
        "display": f"{name} #{pk}",
        "secret": "s3cret",
    }
    values.update(overrides)
    return Person(**values)


def valid_people() -> list[Person]:
    """Ada and Bob, friends and each other's mentor; falsy values that are still values."""
    ada = person(
        1,
        "Ada",
        tags=[Tag(name="math", weight=2.0), Tag(name="code", weight=0.0)],
        nickname="",
        mood=Mood.GRUMPY,
    )
    bob = person(2, "Bob", age=0, is_active=False, score=0.0, lucky_number=0)
    ada.best_friend, ada.mentor = bob, bob
    bob.mentor = ada
    return [ada, bob]


def broken_people() -> list[Person | None]:
    """One broken rule per person, each after a valid one, and a missing person."""
    ada, bob = valid_people()
    return [
        ada,
        person(3, "Cy", email=None, mentor=ada),
        person(4, "Dee", lucky_number="abc", mentor=ada),
        person(5, "Eve"),  # mentor is None although the field is non-null
        person(6, "Fay", score=float("nan"), mentor=ada),
        person(7, "Gus", mood="sleepy", mentor=ada),
        person(8, "Hal", is_active="yes", mentor=ada),
        person(9, "Ivy", tags=5, mentor=ada),
        person(10, "Jo", tags=[None], mentor=ada),
        person(11, "Kim", best_friend=person(12, "Lou", email=None, mentor=ada), mentor=ada),
        # Values of another Python type that every scalar coerces the same way.
        person(13, 42, id=13, age=True, score=3, mood="happy", mentor=bob),
        None,
        bob,
    ]


@strawberry.type
class Query:
    """Root fields: every one a resolver, as in the app."""

    @strawberry.field
    def people(self) -> list[Person]:
        """Valid people only."""
        return valid_people()

    @strawberry.field
    async def everyone(self) -> list[Person | None]:
        """Valid and broken people; each item may be null, so errors stop there."""
        await asyncio.sleep(0)
        return broken_people()

    @strawberry.field
    def person(self, id: strawberry.ID) -> Person | None:
        """One person by id, broken or not."""
        return next((p for p in broken_people() if p is not None and p.id == id), None)

    @strawberry.field
    def named(self) -> list[Named]:
        """People and tags behind an interface."""
        ada, bob = valid_people()
        return [ada, Tag(name="misc", weight=1.25), bob]


def schemas(
    **options: Any,
) -> tuple[strawberry.Schema, strawberry.Schema]:
    """The same types, once with the fast context and once with Strawberry's own."""
    fast = strawberry.Schema(query=Query, execution_context_class=FastExecutionContext, **options)
    plain = strawberry.Schema(query=Query, **options)
    return fast, plain


FAST, PLAIN = schemas()


def observed(result: ExecutionResult) -> tuple[Any, list[dict[str, Any]]]:
    """What a client sees: the data and each error's message, locations and path."""
    errors = [dict(error.formatted) for error in result.errors or []]
    return result.data, errors


# ---------------------------------------------------------------- the queries

ALL_PLAIN = """
id name age isActive score mood nickname email luckyNumber displayName __typename
tags { name weight __typename }
"""
QUERIES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "every plain field": (
        "{ people { " + ALL_PLAIN + " bestFriend { " + ALL_PLAIN + " } mentor { name } } }",
        None,
    ),
    "broken values (null in non-null, failed coercions)": (
        "{ everyone { " + ALL_PLAIN + " bestFriend { name email } mentor { name } } }",
        None,
    ),
    "only the leaves of broken people": (
        "{ everyone { name email luckyNumber score mood isActive } }",
        None,
    ),
    "a non-null object that is null": ("{ everyone { name mentor { id } } }", None),
    "a list that is not a list, an item that is null": (
        "{ everyone { name tags { name } } }",
        None,
    ),
    "aliases, swapped names and repeated fields": (
        """{ people {
             name: age age: name
             first: greeting second: greeting(punctuation: "?")
             n1: nickname n2: nickname
             friend: bestFriend { alias: name name }
             bestFriend { id }
        } }""",
        None,
    ),
    "resolvers, sync and async, under plain objects": (
        '{ people { greeting ageNextYear bestFriend { ageNextYear greeting(punctuation: ".") } } }',
        None,
    ),
    "an async failure in a nullable field": (
        "{ people { name flaky bestFriend { flaky } } }",
        None,
    ),
    "an async failure in a non-null field under a non-null object": (
        "{ everyone { name mentor { name fragile } } }",
        None,
    ),
    "an async failure that nulls the whole response": ("{ people { name fragile } }", None),
    "a permission on a plain-looking field": ("{ people { name secret } }", None),
    "an interface with fragments and __typename": (
        """{ named { __typename name
             ... on Person { age mood bestFriend { name } }
             ... on Tag { weight } } }""",
        None,
    ),
    "named fragments, nested": (
        """query Fragments { people { ...Who bestFriend { ...Who mentor { ...Who } } } }
           fragment Who on Person { id name tags { ...Labelled } }
           fragment Labelled on Tag { name weight }""",
        None,
    ),
    "skip and include with variables (both true)": (
        """query ($skip: Boolean!, $include: Boolean!) { people {
             name @skip(if: $skip) age @include(if: $include)
             tags @include(if: $include) { name @skip(if: $skip) weight }
             ... on Person @skip(if: $skip) { email }
        } }""",
        {"skip": True, "include": True},
    ),
    "skip and include with variables (both false)": (
        """query ($skip: Boolean!, $include: Boolean!) { people {
             name @skip(if: $skip) age @include(if: $include)
             tags @include(if: $include) { name @skip(if: $skip) weight }
             ... on Person @skip(if: $skip) { email }
        } }""",
        {"skip": False, "include": False},
    ),
    "a root field with a variable argument": (
        "query ($id: ID!) { person(id: $id) { name email bestFriend { name email } } }",
        {"id": "11"},
    ),
    "a broken person by id": (
        "query ($id: ID!) { person(id: $id) { name luckyNumber mood } }",
        {"id": "4"},
    ),
    "deep nesting through cycles": (
        "{ people { bestFriend { mentor { bestFriend { mentor { name tags { name } } } } } } }",
        None,
    ),
    "typename only": ("{ people { __typename bestFriend { __typename } } }", None),
}


@pytest.mark.parametrize(("query", "variables"), list(QUERIES.values()), ids=list(QUERIES))
async def test_given_a_query_when_executed_fast_and_plain_then_data_and_errors_are_identical(
    query: str, variables: dict[str, Any] | None
) -> None:
    # Given the same types under both execution contexts; when each executes the query
    fast = await FAST.execute(query, variable_values=variables)
    plain = await PLAIN.execute(query, variable_values=variables)

    # Then the client could not tell them apart.
    assert observed(fast) == observed(plain)


async def test_given_broken_objects_when_executed_then_the_comparison_sees_real_errors() -> None:
    # Given the broken people; the differential test above would pass vacuously if they
    # produced no errors, so check that each rule breaks where it should.
    query = QUERIES["broken values (null in non-null, failed coercions)"][0]

    data, errors = observed(await FAST.execute(query))

    failed = {tuple(error["path"]) for error in errors}
    assert ("everyone", 1, "email") in failed
    assert ("everyone", 2, "luckyNumber") in failed
    assert ("everyone", 3, "mentor") in failed
    assert ("everyone", 4, "score") in failed
    assert ("everyone", 5, "mood") in failed
    assert ("everyone", 6, "isActive") in failed
    assert ("everyone", 7, "tags") in failed
    assert ("everyone", 8, "tags", 0) in failed
    assert ("everyone", 9, "bestFriend", "email") in failed
    assert data is not None
    people = data["everyone"]
    assert [p is None for p in people] == [False] + [True] * 8 + [False, False, True, False]
    assert people[9]["bestFriend"] is None  # a nullable object stops the null
    assert people[10]["name"] == "42"
    assert (people[10]["id"], people[10]["age"], people[10]["score"]) == ("13", 1, 3.0)
    assert people[10]["mood"] == "HAPPY"
    # Falsy values are values, not missing ones.
    bob = people[12]
    assert (bob["age"], bob["isActive"], bob["score"], bob["luckyNumber"]) == (0, False, 0.0, 0)
    assert people[0]["nickname"] == ""


# ---------------------------------------------------------------- which fields are plain


def _object(schema: strawberry.Schema, name: str) -> GraphQLObjectType:
    found = schema._schema.type_map[name]
    assert isinstance(found, GraphQLObjectType)
    return found


def test_given_the_test_schema_when_planned_then_only_attribute_fields_are_plain() -> None:
    # Given the schema; when its plans are computed
    plans = field_plans(FAST._schema)
    person_plans = plans[_object(FAST, "Person")]

    # Then leaves carry their coercion, objects and lists of objects carry none, and the
    # attribute is the Python name even when the GraphQL name differs.
    leaves = {
        "id",
        "name",
        "age",
        "isActive",
        "score",
        "mood",
        "nickname",
        "email",
        "luckyNumber",
        "displayName",
    }
    objects = {"tags", "bestFriend", "mentor"}
    assert set(person_plans) == leaves | objects
    assert all(person_plans[name][1] is not None for name in leaves)
    assert all(person_plans[name][1] is None for name in objects)
    assert person_plans["displayName"][0] == "display"
    assert person_plans["isActive"][0] == "is_active"
    # Non-null is known per field.
    assert person_plans["email"][2] is True
    assert person_plans["nickname"][2] is False
    assert person_plans["bestFriend"][2] is False
    assert person_plans["mentor"][2] is True
    # Resolvers (with or without arguments, sync or async) and guarded fields are not plain.
    for field in ("greeting", "ageNextYear", "flaky", "fragile", "secret"):
        assert field not in person_plans
    # A type whose fields all have resolvers has no plan; interfaces and introspection none.
    assert _object(FAST, "Query") not in plans
    assert {t.name for t in plans} == {"Person", "Tag"}
    # Computed once per schema.
    assert field_plans(FAST._schema) is plans


def test_given_plain_leaves_when_coerced_by_their_plan_then_each_uses_the_type_serializer() -> None:
    person_plans = field_plans(FAST._schema)[_object(FAST, "Person")]

    def coerce(field: str, value: Any) -> Any:
        coercer = person_plans[field][1]
        assert coercer is not None
        return coercer(value)

    assert coerce("mood", Mood.GRUMPY) == "GRUMPY"
    assert coerce("mood", "happy") == "HAPPY"
    assert coerce("id", 7) == "7"
    assert coerce("name", "Ada") == "Ada"
    assert coerce("age", True) == 1
    with pytest.raises(Exception, match="Int cannot represent"):
        coerce("luckyNumber", "abc")
    with pytest.raises(Exception, match="sleepy"):
        coerce("mood", "sleepy")


# ---------------------------------------------------------------- when the fast path applies


def counting_context() -> tuple[type[FastExecutionContext], list[tuple[Any, ...]]]:
    """A fast context that records every field that reaches `execute_field`."""
    reached: list[tuple[Any, ...]] = []

    class Counting(FastExecutionContext):
        def execute_field(
            self,
            parent_type: GraphQLObjectType,
            source: Any,
            field_details_list: Any,
            path: Any,
            position_context: Any,
        ) -> Any:
            reached.append(tuple(path.as_list()))
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )

    return Counting, reached


QUERY_FOR_PATHS = "{ people { name age greeting tags { name } bestFriend { name email } } }"


async def test_given_no_middleware_when_executed_then_plain_leaves_never_reach_execute_field() -> (
    None
):
    # Given a fast context that records the fields it executes the general way
    context_class, reached = counting_context()
    schema = strawberry.Schema(query=Query, execution_context_class=context_class)

    # When a query mixes leaves, a resolver and objects
    result = await schema.execute(QUERY_FOR_PATHS)

    # Then only the root, the resolver and the object fields went through execute_field.
    assert result.errors is None
    assert set(reached) == {
        ("people",),
        *(("people", n, field) for n in (0, 1) for field in ("greeting", "tags", "bestFriend")),
    }


class PathSpy(SchemaExtension):
    """A middleware: records the path of every field it resolves."""

    def __init__(self, seen: list[tuple[Any, ...]]) -> None:
        self.seen = seen

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(tuple(info.path.as_list()))
        return _next(root, info, *args, **kwargs)


async def test_given_a_resolve_extension_when_executed_then_every_field_goes_through_it() -> None:
    # Given the same middleware on a fast and on a plain schema
    fast_seen: list[tuple[Any, ...]] = []
    plain_seen: list[tuple[Any, ...]] = []
    context_class, reached = counting_context()
    fast = strawberry.Schema(
        query=Query,
        execution_context_class=context_class,
        extensions=[lambda: PathSpy(fast_seen)],
    )
    plain = strawberry.Schema(query=Query, extensions=[lambda: PathSpy(plain_seen)])

    # When both execute the same query
    fast_result = await fast.execute(QUERY_FOR_PATHS)
    plain_result = await plain.execute(QUERY_FOR_PATHS)

    # Then the middleware saw every field, leaves included, exactly as without the fast path.
    assert observed(fast_result) == observed(plain_result)
    assert ("people", 0, "name") in fast_seen
    assert ("people", 0, "bestFriend", "email") in fast_seen
    assert sorted(fast_seen, key=repr) == sorted(plain_seen, key=repr)
    assert set(reached) == set(fast_seen)


# ---------------------------------------------------------------- divergences found


@strawberry.type
class Part:
    """A plain object with no interface (so any source passes as one)."""

    name: str
    weight: float


@strawberry.type
class Box:
    """A plain object field named like a dict method."""

    label: str
    items: list[Part]


@strawberry.type
class DictQuery:
    """Sources are dicts, read by a custom default resolver."""

    @strawberry.field
    def box(self) -> Box:
        """A dict standing in for a Box."""
        return {"label": "crate", "items": [{"name": "bolt", "weight": 0.5}]}  # type: ignore[return-value]


def _read_key(source: Any, name: str) -> Any:
    return source[name] if isinstance(source, dict) else getattr(source, name)


async def test_given_a_custom_default_resolver_when_a_plain_field_is_read_then_it_is_used() -> None:
    # Given dict sources and a default resolver that reads keys
    config = StrawberryConfig(default_resolver=_read_key)
    fast = strawberry.Schema(
        query=DictQuery, execution_context_class=FastExecutionContext, config=config
    )
    plain = strawberry.Schema(query=DictQuery, config=config)
    query = "{ box { label items { name weight } } }"

    # When both execute; then both answer from the dict's keys
    assert observed(await plain.execute(query)) == (
        {"box": {"label": "crate", "items": [{"name": "bolt", "weight": 0.5}]}},
        [],
    )
    assert observed(await fast.execute(query)) == observed(await plain.execute(query))


@strawberry.type
class Later:
    """A plain string field."""

    text: str


@strawberry.type
class LaterQuery:
    """A plain field whose attribute holds an awaitable."""

    @strawberry.field
    async def later(self) -> Later:
        """graphql-core awaits whatever a field's resolver (here getattr) returns."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        future.set_result("done")
        return Later(text=future)  # type: ignore[arg-type]


async def test_given_an_awaitable_in_a_plain_leaf_when_read_then_it_is_awaited() -> None:
    fast = strawberry.Schema(query=LaterQuery, execution_context_class=FastExecutionContext)
    plain = strawberry.Schema(query=LaterQuery)
    query = "{ later { text } }"

    assert observed(await plain.execute(query)) == ({"later": {"text": "done"}}, [])
    assert observed(await fast.execute(query)) == observed(await plain.execute(query))
