"""What the app's lifespan releases at shutdown: the login throttle's counter (in Redis, its
connection pool) goes with the rest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from auth.service import AuthService
from auth.throttle import LoginThrottle, MemoryFailureCounter, ThrottlePolicy
from config.settings import Settings
from graph.app import create_app
from graph.wiring import build_services
from persistence.database import create_engine
from tests.conftest import ON_POSTGRES


class ClosableCounter(MemoryFailureCounter):
    """The memory counter, counting how often it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = 0

    async def close(self) -> None:
        """Count the call."""
        self.closed += 1


async def test_given_a_running_app_when_it_shuts_down_then_the_login_counter_is_closed(
    settings: Settings, tmp_path: Path
) -> None:
    # Given an app whose login throttle counts failures in a counter of the test's own
    # (and an engine of its own: the lifespan disposes it, which would empty in-memory SQLite)
    if not ON_POSTGRES:
        settings = settings.model_copy(
            update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}"}
        )
    engine = create_engine(settings)
    counter = ClosableCounter()
    services = build_services(settings)
    auth = services.auth
    throttle = LoginThrottle(counter, ThrottlePolicy())
    services = replace(
        services, auth=AuthService(codec=auth.codec, hasher=auth.hasher, throttle=throttle)
    )
    app = create_app(settings, engine=engine, services=services)
    try:
        # When the app starts and then shuts down
        async with app.router.lifespan_context(app):
            assert counter.closed == 0

        # Then the counter was closed, once.
        assert counter.closed == 1
    finally:
        await engine.dispose()
