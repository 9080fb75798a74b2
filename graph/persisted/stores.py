"""Where persisted documents live, by the SHA-256 (hex) of their exact text.

- `DocumentStore` is the automatic persisted queries' cache: any client may add to it, so
  it is bounded and may forget. `MemoryDocumentStore` is one process's LRU;
  `persistence.redis_stores.RedisDocumentStore` is shared by every instance when
  REDIS_URL is set, and its keys expire a day after they were written.
- `TrustedDocuments` is the registered list (`python -m graph.persisted add`); only an
  operator adds to it. `CachedTrustedDocuments` keeps the rows it has read: a row never
  changes, so a cached one is never stale.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Protocol

import structlog

log = structlog.get_logger("graph.persisted")

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def document_hash(document: str) -> str:
    """The SHA-256 (lower-case hex) of a document's exact UTF-8 text, as Apollo computes it."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class DocumentStore(Protocol):
    """Documents by hash; it may forget any of them at any time."""

    async def get(self, sha256: str) -> str | None:
        """The document stored under `sha256`, or None."""
        ...

    async def put(self, sha256: str, document: str) -> None:
        """Store `document` under `sha256`."""
        ...

    async def close(self) -> None:
        """Release connections, if any."""
        ...


class TrustedDocuments(Protocol):
    """The registered documents (persistence/trusted_documents.py is the adapter)."""

    async def get(self, sha256: str) -> str | None:
        """The document registered under `sha256`, or None."""
        ...


class MemoryDocumentStore:
    """At most `max_entries` documents of one process; the least recently used go first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        """The document, now the most recently used; None when unknown or forgotten."""
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    async def put(self, sha256: str, document: str) -> None:
        """Store it, forgetting the least recently used beyond the bound."""
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        while len(self._documents) > self._max_entries:
            self._documents.popitem(last=False)

    async def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._documents)


class CachedTrustedDocuments:
    """The registered documents, each read from the database once per process."""

    def __init__(self, source: TrustedDocuments, *, max_entries: int) -> None:
        self._source = source
        self._cache = MemoryDocumentStore(max_entries)

    async def get(self, sha256: str) -> str | None:
        """The registered document; an unknown hash is asked again next time."""
        document = await self._cache.get(sha256)
        if document is None:
            document = await self._source.get(sha256)
            if document is not None:
                await self._cache.put(sha256, document)
        return document
