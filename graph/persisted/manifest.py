"""Reading the documents a client team registers: Apollo manifests and `.graphql` files.

- An Apollo persisted-query manifest (what `npx generate-persisted-query-manifest` writes):
  `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
  "name", "type", "body"}]}`. Each `id` must be the SHA-256 of its `body`, the generator's
  default, because that is the hash Apollo's persisted-query link sends.
- A `.graphql` (or `.gql`) file is one document, registered byte for byte: a client must
  send exactly that text (its hash is that of the whole file).

Every document must parse, fit the schema and the size limit, so a typo fails at
registration rather than in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate

from domain.documents import TrustedDocument
from graph.persisted.stores import document_hash

APOLLO_FORMAT = "apollo-persisted-query-manifest"
GRAPHQL_SUFFIXES = (".graphql", ".gql")
MAX_NAME_CHARS = 256


class ManifestError(ValueError):
    """A file that cannot be registered, and why."""


def _operation_names(document: str) -> str | None:
    try:
        parsed = parse(document)
    except GraphQLError:
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    names = [operation.name.value for operation in operations if operation.name]
    return ", ".join(names)[:MAX_NAME_CHARS] or None


def _from_apollo_manifest(path: Path, manifest: object) -> list[TrustedDocument]:
    if not isinstance(manifest, dict) or manifest.get("format") != APOLLO_FORMAT:
        raise ManifestError(f"{path}: not an Apollo manifest (format {APOLLO_FORMAT!r})")
    if manifest.get("version") != 1:
        raise ManifestError(f"{path}: only version 1 of the manifest format is known")
    operations = manifest.get("operations")
    if not isinstance(operations, list):
        raise ManifestError(f"{path}: `operations` must be a list")
    documents = []
    for index, operation in enumerate(operations):
        where = f"{path}: operations[{index}]"
        if not isinstance(operation, dict) or not isinstance(operation.get("body"), str):
            raise ManifestError(f"{where}: needs a string `body`")
        body: str = operation["body"]
        if operation.get("id") != document_hash(body):
            raise ManifestError(
                f"{where}: `id` must be the SHA-256 of `body` ({document_hash(body)}), the hash"
                " Apollo's persisted-query link sends"
            )
        name = operation.get("name")
        documents.append(
            TrustedDocument(
                sha256=operation["id"],
                document=body,
                operation_name=name[:MAX_NAME_CHARS] if isinstance(name, str) else None,
                source=path.name[:MAX_NAME_CHARS],
            )
        )
    return documents


def read_documents(path: Path) -> list[TrustedDocument]:
    """The documents of one manifest or `.graphql` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    if path.suffix in GRAPHQL_SUFFIXES:
        return [
            TrustedDocument(
                sha256=document_hash(text),
                document=text,
                operation_name=_operation_names(text),
                source=path.name[:MAX_NAME_CHARS],
            )
        ]
    if path.suffix == ".json":
        try:
            manifest = json.loads(text)
        except ValueError as error:
            raise ManifestError(f"{path}: not JSON ({error})") from None
        return _from_apollo_manifest(path, manifest)
    raise ManifestError(f"{path}: expected an Apollo manifest (.json) or a .graphql file")


def check_documents(
    documents: Iterable[TrustedDocument], schema: GraphQLSchema, *, max_chars: int
) -> None:
    """Refuse documents that would never run: too long, not parsing, not fitting the schema."""
    problems = []
    for document in documents:
        label = f"{document.source}: {document.operation_name or document.sha256[:12]}"
        if len(document.document) > max_chars:
            problems.append(f"{label}: longer than GRAPHQL_MAX_DOCUMENT_CHARS ({max_chars})")
            continue
        try:
            errors = validate(schema, parse(document.document))
        except GraphQLError as error:
            errors = [error]
        problems += [f"{label}: {error.message}" for error in errors]
    if problems:
        raise ManifestError("\n".join(problems))
