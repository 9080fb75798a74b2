"""The persisted-operations step of a request, between parsing the body and running it.

Apollo's protocol: a request may carry `extensions.persistedQuery = {"version": 1,
"sha256Hash": "<hex>"}`.

- With the hash alone, the document is looked up: the trusted list first (unless it is
  off), then the automatic persisted queries' cache (unless trusted documents are
  required). Unknown: `PERSISTED_QUERY_NOT_FOUND` with Apollo's message, HTTP 200, and
  the client sends the hash again with the document.
- With the hash and the document, the hash must be the document's (else 400,
  BAD_REQUEST). The document runs and, once it has passed parsing, validation and the
  rate limit, is kept in the cache: nothing the server refused is ever stored.
- With `GRAPHQL_TRUSTED_DOCUMENTS=required`, only registered documents run, whether sent
  by hash or in full; anything else is `PERSISTED_QUERY_NOT_ALLOWED`.
- With automatic persisted queries off and no trusted list, a hash is answered
  `PERSISTED_QUERY_NOT_SUPPORTED`, on which Apollo clients stop sending hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from cross_web import HTTPException
from strawberry.http import GraphQLRequestData

from config.settings import TrustedDocumentsMode
from domain.errors import ErrorCode, ServiceUnavailable, TimedOut
from graph.http import RequestRefused
from graph.persisted.stores import SHA256_HEX, DocumentStore, TrustedDocuments, document_hash

log = structlog.get_logger("graph.persisted")

APQ_VERSION = 1
# Apollo's exact messages: Apollo clients match on them as well as on the codes.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"
NOT_ALLOWED_MESSAGE = (
    "Only registered operations run on this server; register this document with"
    " `python -m graph.persisted add` (docs/PERSISTED_QUERIES.md)."
)
HASH_MISMATCH_MESSAGE = "provided sha does not match query"
# An operation refused with one of these never ran: its document is not worth keeping.
_REFUSED_BEFORE_EXECUTION = frozenset(
    {
        ErrorCode.GRAPHQL_PARSE_FAILED,
        ErrorCode.GRAPHQL_VALIDATION_FAILED,
        ErrorCode.QUERY_TOO_LARGE,
        ErrorCode.TOO_MANY_REQUESTS,
    }
)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the step did with one operation of a request."""

    # The request sent only the hash; the document came from a store.
    is_hash_only: bool = False
    # A document to keep under `sha256` once the operation has passed validation.
    sha256: str | None = None
    document_to_keep: str | None = None


PLAIN = Resolution()


def _persisted_query(extensions: object) -> dict[str, Any] | None:
    if extensions is None:
        return None
    if not isinstance(extensions, dict):
        raise HTTPException(400, "The GraphQL operation's `extensions` must be an object.")
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise HTTPException(400, "`extensions.persistedQuery` must be an object.")
    if persisted.get("version") != APQ_VERSION:
        raise HTTPException(400, "Unsupported persisted query version; only version 1 is known.")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
        raise HTTPException(
            400, "`extensions.persistedQuery.sha256Hash` must be 64 lower-case hex digits."
        )
    return persisted


def was_refused_before_execution(errors: Sequence[Any] | None) -> bool:
    """Whether a result's errors say the operation never got past validation or the limiter."""
    return any(
        (getattr(error, "extensions", None) or {}).get("code") in _REFUSED_BEFORE_EXECUTION
        for error in errors or ()
    )


class PersistedOperations:
    """Resolves hashes to documents and keeps newly sent ones (see the module docstring)."""

    def __init__(
        self,
        *,
        cache: DocumentStore,
        trusted: TrustedDocuments | None,
        automatic: bool,
        trusted_mode: TrustedDocumentsMode,
    ) -> None:
        if trusted_mode != "off" and trusted is None:
            raise ValueError("trusted documents need a store")
        self.cache = cache
        self.trusted = trusted
        self.is_automatic = automatic and trusted_mode != "required"
        self.trusted_mode = trusted_mode

    async def resolve(self, data: GraphQLRequestData) -> Resolution:
        """Fill in `data.query` from a hash, or check the hash it came with; may refuse."""
        persisted = _persisted_query(data.extensions)
        if persisted is None:
            if self.trusted_mode == "required" and data.query is not None:
                await self._require_trusted(document_hash(data.query))
            return PLAIN
        if not self.is_automatic and self.trusted_mode == "off":
            raise RequestRefused(NOT_SUPPORTED_MESSAGE, ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED)
        sha256: str = persisted["sha256Hash"]
        if data.query is None:
            data.query = await self._lookup(sha256)
            return Resolution(is_hash_only=True)
        if document_hash(data.query) != sha256:
            raise HTTPException(400, HASH_MISMATCH_MESSAGE)
        if self.trusted_mode == "required":
            await self._require_trusted(sha256)
            return PLAIN
        if not self.is_automatic or await self._trusted(sha256) is not None:
            return PLAIN
        return Resolution(sha256=sha256, document_to_keep=data.query)

    async def keep(self, resolution: Resolution, errors: Sequence[Any] | None) -> None:
        """After the operation: keep its document unless it was refused before execution."""
        if resolution.sha256 is None or resolution.document_to_keep is None:
            return
        if not was_refused_before_execution(errors):
            await self.cache.put(resolution.sha256, resolution.document_to_keep)

    async def close(self) -> None:
        """Release the cache's connections."""
        await self.cache.close()

    async def _lookup(self, sha256: str) -> str:
        document = await self._trusted(sha256)
        if document is None and self.is_automatic:
            document = await self.cache.get(sha256)
        if document is None:
            raise RequestRefused(NOT_FOUND_MESSAGE, ErrorCode.PERSISTED_QUERY_NOT_FOUND)
        return document

    async def _require_trusted(self, sha256: str) -> None:
        if await self._trusted(sha256) is None:
            log.info("untrusted document refused", sha256=sha256)
            raise RequestRefused(NOT_ALLOWED_MESSAGE, ErrorCode.PERSISTED_QUERY_NOT_ALLOWED)

    async def _trusted(self, sha256: str) -> str | None:
        if self.trusted is None or self.trusted_mode == "off":
            return None
        try:
            return await self.trusted.get(sha256)
        except (ServiceUnavailable, TimedOut) as error:
            log.warning("trusted document lookup could not use the database")
            raise RequestRefused(error.message, error.code) from None
        except Exception:
            log.exception("trusted document lookup failed")
            raise RequestRefused(
                "Internal server error.", ErrorCode.INTERNAL_SERVER_ERROR
            ) from None
