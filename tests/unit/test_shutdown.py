"""The drain's signal chain without a server: what a SIGTERM or a Ctrl-C does to readiness,
and when the server's own handler gets the signal. The cut-off middlewares that answer
the requests a shutdown interrupts are tested in tests/integration/test_cutoff.py."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

import pytest

from config.settings import Settings
from graph.lifecycle import Lifecycle, drain_seconds_for

DRAIN = 0.05


class ServerHandler:
    """Stands in for uvicorn's own signal handler: records what reached it."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)


def chained(lifecycle: Lifecycle, server: ServerHandler, drain: float = DRAIN) -> Any:
    return lifecycle.chain(server, drain_seconds=drain, loop=asyncio.get_running_loop())


# ---------------------------------------------------------------- the drain


async def test_given_a_drain_when_sigterm_arrives_then_not_ready_at_once_and_stopped_after() -> (
    None
):
    lifecycle, server = Lifecycle(), ServerHandler()

    chained(lifecycle, server)(signal.SIGTERM, None)

    assert lifecycle.draining
    assert server.received == []
    await asyncio.sleep(DRAIN * 4)
    assert server.received == [signal.SIGTERM]
    assert lifecycle.is_stopping


async def test_given_a_drain_under_way_when_a_second_signal_arrives_then_it_stops_at_once() -> None:
    lifecycle, server = Lifecycle(), ServerHandler()
    handler = chained(lifecycle, server)
    handler(signal.SIGTERM, None)

    handler(signal.SIGTERM, None)

    assert server.received == [signal.SIGTERM]
    await asyncio.sleep(DRAIN * 4)
    assert server.received == [signal.SIGTERM], "the drain's end must not stop it twice"


async def test_given_a_drain_when_ctrl_c_arrives_then_no_drain() -> None:
    lifecycle, server = Lifecycle(), ServerHandler()

    chained(lifecycle, server)(signal.SIGINT, None)

    assert server.received == [signal.SIGINT]
    assert lifecycle.draining


async def test_given_no_drain_when_sigterm_arrives_then_it_stops_at_once() -> None:
    lifecycle, server = Lifecycle(), ServerHandler()

    chained(lifecycle, server, drain=0)(signal.SIGTERM, None)

    assert server.received == [signal.SIGTERM]


async def test_given_stopping_when_ctrl_c_arrives_again_then_the_server_gets_it_to_force_quit() -> (
    None
):
    lifecycle, server = Lifecycle(), ServerHandler()
    handler = chained(lifecycle, server)
    handler(signal.SIGINT, None)

    handler(signal.SIGINT, None)

    assert server.received == [signal.SIGINT, signal.SIGINT]


@pytest.mark.parametrize(
    ("environment", "expected"), [("development", 0.0), ("test", 7.0), ("production", 7.0)]
)
def test_given_an_environment_when_asking_the_drain_then_development_has_none(
    environment: str, expected: float
) -> None:
    settings = Settings(
        environment=environment,  # type: ignore[arg-type]
        jwt_secret="s" * 40,  # type: ignore[arg-type]
        shutdown_drain_seconds=7,
        _env_file=None,  # type: ignore[call-arg]
    )
    assert drain_seconds_for(settings) == expected
