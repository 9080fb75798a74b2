"""Where persisted documents live, by the SHA-256 (hex) of their exact text.

- `DocumentStore` is the automatic persisted queries' cache: any client may add to it, so
  it is bounded and may forget. `MemoryDocumentStore` is one process's LRU;
  `RedisDocumentStore` is shared by every instance when REDIS_URL is set, and its keys
  expire a day after they were written.
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

DEFAULT_REDIS_PREFIX = "taskgraph:apq:"
REDIS_TTL_SECONDS = 24 * 3600
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


class RedisDocumentStore:
    """Documents in Redis strings that expire, shared by every instance with the prefix.

    Redis trouble never fails a request: a failed read is a miss (the client sends the
    document again) and a failed write is skipped, each with a warning.
    """

    def __init__(
        self, url: str, *, prefix: str = DEFAULT_REDIS_PREFIX, ttl_seconds: int = REDIS_TTL_SECONDS
    ) -> None:
        from redis.asyncio import Redis

        # Short timeouts, as for the rate limiter: a slow Redis must not hold requests up.
        self._redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._ttl_seconds = ttl_seconds

    async def get(self, sha256: str) -> str | None:
        """The document, or None when unknown, expired or Redis failed."""
        try:
            value = await self._redis.get(self._prefix + sha256)
        except Exception:
            log.warning("persisted query store failed; treating it as a miss", exc_info=True)
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else value

    async def put(self, sha256: str, document: str) -> None:
        """Store it for a day."""
        try:
            await self._redis.set(self._prefix + sha256, document, ex=self._ttl_seconds)
        except Exception:
            log.warning("persisted query store failed; the document was not kept", exc_info=True)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._redis.aclose()


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
