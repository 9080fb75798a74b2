"""Database overload and outages leave the adapters as domain errors.

The session gate (every statement of a request) and the trusted documents' reader turn an
exhausted pool, a server-side timeout or a database out of reach into `ServiceUnavailable`
or `TimedOut`, the original kept as the cause; every other error passes unchanged, so
`graph/` maps failures without knowing SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from audit.capture import audited_session_factory
from domain.errors import ServiceUnavailable, TimedOut
from domain.products.model import ProductFilter
from domain.products.service import count_products, create_product
from persistence.failures import BUSY, TOO_SLOW, UNREACHABLE, unavailable
from persistence.gate import SessionGate
from persistence.trusted_documents import SqlTrustedDocuments
from persistence.unit_of_work import SqlAlchemyUnitOfWork


class _Timeout(Exception):
    """What asyncpg raises when `statement_timeout` cancels a statement."""

    sqlstate = "57014"


@pytest.fixture
async def unreachable(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a SQLite file in a folder that does not exist: every connect fails."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'app.db'}")
    yield engine
    await engine.dispose()


async def test_given_an_unreachable_database_when_a_service_reads_then_service_unavailable(
    unreachable: AsyncEngine,
) -> None:
    uow = SqlAlchemyUnitOfWork(audited_session_factory(unreachable))

    with pytest.raises(ServiceUnavailable) as raised:
        await count_products(uow, ProductFilter())
    await uow.close()

    assert raised.value.message == UNREACHABLE
    assert isinstance(raised.value.__cause__, sa_exc.OperationalError)


async def test_given_an_unreachable_database_when_a_service_writes_then_service_unavailable(
    unreachable: AsyncEngine,
) -> None:
    uow = SqlAlchemyUnitOfWork(audited_session_factory(unreachable))

    with pytest.raises(ServiceUnavailable):
        await create_product(uow, sku="SKU-1", name="Lamp", price=Decimal("1.00"))
    await uow.close()


async def test_given_an_unreachable_database_when_a_trusted_document_is_read_then_unavailable(
    unreachable: AsyncEngine,
) -> None:
    documents = SqlTrustedDocuments(audited_session_factory(unreachable))

    with pytest.raises(ServiceUnavailable):
        await documents.get("0" * 64)


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (sa_exc.TimeoutError("QueuePool limit reached"), ServiceUnavailable, BUSY),
        (sa_exc.DBAPIError("SELECT", {}, _Timeout()), TimedOut, TOO_SLOW),
        (ConnectionRefusedError("refused"), ServiceUnavailable, UNREACHABLE),
    ],
    ids=["pool-exhausted", "statement-timeout", "connection-refused"],
)
async def test_given_an_outage_in_a_gated_statement_when_run_then_a_domain_error(
    error: Exception, expected: type[Exception], message: str
) -> None:
    async def statement() -> None:
        raise error

    with pytest.raises(expected) as raised:
        await SessionGate().run(statement)

    assert str(raised.value) == message
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    "error",
    [sa_exc.IntegrityError("INSERT", {}, Exception("UNIQUE")), RuntimeError("a bug")],
    ids=["constraint", "bug"],
)
async def test_given_any_other_failure_in_a_gated_statement_when_run_then_it_passes_unchanged(
    error: Exception,
) -> None:
    async def statement() -> None:
        raise error

    assert unavailable(error) is None
    with pytest.raises(type(error)) as raised:
        await SessionGate().run(statement)
    assert raised.value is error
