"""Trusted documents: the GraphQL operations an operator registered ahead of time.

`graph.persisted` serves them by hash; `persistence.trusted_documents` stores them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrustedDocument:
    """One registered document, keyed by the SHA-256 (hex) of its exact text."""

    sha256: str
    document: str
    operation_name: str | None = None
    source: str | None = None
