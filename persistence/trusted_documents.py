"""The trusted documents table: the SQLAlchemy adapter behind `graph.persisted`'s port.

Rows are written only by `python -m graph.persisted add` and never change (the key is the
SHA-256 of the text), so the server only reads them, one primary-key lookup per hash it has
not seen yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.documents import TrustedDocument
from persistence.failures import translated
from persistence.models import TrustedDocumentModel


class SqlTrustedDocuments:
    """Trusted documents in the application's database: shared by every instance."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def get(self, sha256: str) -> str | None:
        """The document registered under `sha256`, or None."""
        statement = select(TrustedDocumentModel.document).where(
            TrustedDocumentModel.sha256 == sha256
        )
        with translated():
            async with self._session_factory() as session:
                return (await session.execute(statement)).scalar_one_or_none()

    async def add(self, documents: Iterable[TrustedDocument]) -> list[TrustedDocument]:
        """Register the documents not registered yet, in one transaction; returns those added."""
        wanted = {document.sha256: document for document in documents}
        if not wanted:
            return []
        async with self._session_factory() as session, session.begin():
            known = set(
                (
                    await session.execute(
                        select(TrustedDocumentModel.sha256).where(
                            TrustedDocumentModel.sha256.in_(wanted)
                        )
                    )
                ).scalars()
            )
            added = [document for sha256, document in wanted.items() if sha256 not in known]
            session.add_all(
                TrustedDocumentModel(
                    sha256=document.sha256,
                    document=document.document,
                    operation_name=document.operation_name,
                    source=document.source,
                )
                for document in added
            )
        return added

    async def all(self) -> Sequence[TrustedDocument]:
        """Every registered document, oldest first."""
        async with self._session_factory() as session:
            rows = await session.execute(
                select(TrustedDocumentModel).order_by(
                    TrustedDocumentModel.created_at, TrustedDocumentModel.sha256
                )
            )
            return [
                TrustedDocument(row.sha256, row.document, row.operation_name, row.source)
                for row in rows.scalars()
            ]
