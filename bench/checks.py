"""Correctness before timing: every server's answers, checked against the floor's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from bench import operations as ops
from bench.processes import ServerProcess
from bench.stats import canonical, first_difference


class BenchFailure(RuntimeError):
    """A server answered wrongly: an error, or data that differs from the floor's."""


def graphql(server: ServerProcess, body: bytes, headers: dict[str, str]) -> tuple[Any, int]:
    """POST one operation; its `data` and the response size. Any error fails loudly."""
    status, answer = server.post(body, headers)
    if status != 200:
        raise BenchFailure(f"{server.variant}: HTTP {status}: {answer[:500]!r}")
    payload = orjson.loads(answer)
    if payload.get("errors"):
        raise BenchFailure(f"{server.variant}: GraphQL errors: {payload['errors']}")
    return payload["data"], len(answer)


def login(server: ServerProcess, email: str, password: str) -> dict[str, str]:
    """Log in through the `login` mutation; the Authorization header of that caller."""
    data, _ = graphql(server, ops.login_body(email, password), {})
    return {"Authorization": f"Bearer {data['login']['accessToken']}"}


def check_same(
    references: dict[str, Any], key: str, variant: str, data: Any, *, is_reference: bool
) -> None:
    """Keep the floor's answer as the reference; compare any other's with it, sorted."""
    if is_reference:
        references[key] = data
        return
    expected = references.get(key)
    if expected is None:
        return
    if canonical(expected) != canonical(data):
        where = first_difference(expected, data)
        raise BenchFailure(f"{variant} answers {key} differently from the floor: {where}")


def verify_reads(
    server: ServerProcess,
    workloads: Sequence[ops.Workload],
    headers: dict[str, str],
    references: dict[str, Any],
    *,
    samples: int = 3,
    record: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Check each read against the floor (first bodies of each workload); response sizes.

    `record`, when given, keeps this server's answers by the same keys."""
    sizes: dict[str, int] = {}
    for workload in workloads:
        for index, body in enumerate(workload.bodies[:samples]):
            data, size = graphql(server, body, headers)
            check_same(
                references,
                f"{workload.key}#{index}",
                server.variant,
                data,
                is_reference=server.variant == "floor",
            )
            if record is not None:
                record[f"{workload.key}#{index}"] = data
            sizes.setdefault(workload.key, size)
    return sizes


def verify_mutation(
    server: ServerProcess, current: tuple[int, str], headers: dict[str, str]
) -> int:
    """Flip one task's status and back, checking each answer; the response size."""
    pk, status = current
    size = 0
    for wanted in (ops.STATUS_FLIP[status], status):
        body = ops.body(ops.UPDATE_MUTATION, {"id": ops.global_id("Task", pk), "status": wanted})
        data, size = graphql(server, body, headers)
        task = data["updateTask"]["task"]
        if task["id"] != ops.global_id("Task", pk) or task["status"] != wanted:
            raise BenchFailure(f"{server.variant}: M1 answered {task}, expected status {wanted}")
        if not isinstance(task["version"], int):
            raise BenchFailure(f"{server.variant}: M1 answered a non-integer version: {task}")
    return size
