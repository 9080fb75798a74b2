"""Register trusted documents: `python -m graph.persisted add FILE...`, or `list` them.

FILE is an Apollo persisted-query manifest (.json) or a .graphql file. Every document is
checked against the schema first; then all are added in one transaction, or none. Adding a
document again changes nothing, so a deploy may run this on every release.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from audit.capture import audited_session_factory
from config.settings import Settings, get_settings
from domain.documents import TrustedDocument
from graph.persisted.manifest import ManifestError, check_documents, read_documents
from persistence.database import create_engine
from persistence.trusted_documents import SqlTrustedDocuments


def _settings(database_url: str | None) -> Settings:
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


async def _add(settings: Settings, documents: list[TrustedDocument]) -> list[TrustedDocument]:
    engine = create_engine(settings)
    try:
        return await SqlTrustedDocuments(audited_session_factory(engine)).add(documents)
    finally:
        await engine.dispose()


async def _list(settings: Settings) -> Sequence[TrustedDocument]:
    engine = create_engine(settings)
    try:
        return await SqlTrustedDocuments(audited_session_factory(engine)).all()
    finally:
        await engine.dispose()


def add(files: Sequence[Path], settings: Settings) -> int:
    """Check and register the documents of `files`; 0 on success, 1 when any is refused."""
    from graph.schema import schema

    try:
        documents = [document for path in files for document in read_documents(path)]
        check_documents(
            documents,
            schema._schema,
            max_chars=settings.graphql_max_document_chars,
        )
    except ManifestError as error:
        print(f"nothing registered:\n{error}", file=sys.stderr)
        return 1
    added = asyncio.run(_add(settings, documents))
    for document in added:
        print(f"added {document.sha256}  {document.operation_name or '(anonymous)'}")
    unique = len({document.sha256 for document in documents})
    print(f"{len(added)} document(s) added, {unique - len(added)} already registered")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--database-url", help="defaults to DATABASE_URL")
    parser = argparse.ArgumentParser(prog="python -m graph.persisted", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser(
        "add", parents=[database], help="register the documents of manifests or .graphql files"
    )
    adding.add_argument("files", nargs="+", type=Path, metavar="FILE")
    commands.add_parser(
        "list", parents=[database], help="print every registered document's hash and name"
    )
    args = parser.parse_args(argv)
    settings = _settings(args.database_url)
    if args.command == "add":
        return add(args.files, settings)
    for document in asyncio.run(_list(settings)):
        print(f"{document.sha256}  {document.operation_name or '(anonymous)'}  {document.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
