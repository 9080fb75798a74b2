"""Metrics, traces and log correlation: how an operator sees the running server.

Like `audit/`, this package is cross-cutting: it holds its own ASGI middleware, a
Strawberry extension (operation-level hooks only, so the execution fast path stays on)
and SQLAlchemy engine listeners, and `create_app()` wires them with one `Observability`.
Nothing in `domain/`, `auth/` or `persistence/` knows about it.
"""
