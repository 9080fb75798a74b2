"""PostGraphile 4 as a peer: installed with npm, run with Node, asked the same operations.

PostGraphile serves the database's tables under its own names. With the pinned
`@graphile-contrib/pg-simplify-inflector`, `products`, `customers` and a customer's `tasks`
are named as ours; a task's products come through the link table, as
`taskProducts { nodes { product { ... } } }`; PostGraphile's global ID is `nodeId`,
the base64 of `["customers", 1]`, where ours is the base64 of `Customer:1`. So each of our
documents has a PostGraphile twin that asks for the same rows in the same order (primary key
order, as ours), with `id: nodeId` so both compute a global ID, and its answers are renamed
back (`rename`) before they are compared with ours.

PostGraphile runs without authentication (no JWT, no pgSettings, no row-level security):
everything it exposes, it exposes to anyone. It listens on loopback only, for the run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy.engine import make_url

from bench import operations as ops
from bench.checks import BenchFailure, check_same, graphql
from bench.processes import HOST, ServerProcess, clean_environment, run_checked

NAME: Final = "postgraphile"
PACKAGE_DIR: Final = Path(__file__).resolve().parent / "postgraphile"
# What `npm ci` needs and what it runs; copied next to node_modules in var/bench/postgraphile/.
PACKAGE_FILES: Final = ("package.json", "package-lock.json", "server.js")
INSTALLED_STAMP: Final = ".installed-lock.sha256"
# PostGraphile's table names and our GraphQL type names.
TYPE_NAMES: Final = {"products": "Product", "customers": "Customer", "tasks": "Task"}
TABLE_NAMES: Final = {type_name: table for table, type_name in TYPE_NAMES.items()}
MIN_NODE_MAJOR: Final = 18

FLAT_QUERY: Final = (
    f"{{ products(first: {ops.FLAT_PAGE_SIZE}, orderBy: PRIMARY_KEY_ASC)"
    " { edges { node { id: nodeId sku name price } } } }"
)
_TASKS_SELECTION: Final = (
    f"tasks(first: {ops.TASKS_PER_CUSTOMER_PAGE}, orderBy: PRIMARY_KEY_ASC)"
    " { edges { node { id: nodeId title status"
    " products: taskProducts(orderBy: PRODUCT_ID_ASC)"
    " { nodes { product { id: nodeId name price } } } } } }"
)
CUSTOMER_QUERY: Final = (
    "query ($id: ID!) { node(nodeId: $id) { ... on Customer { id: nodeId name email "
    + _TASKS_SELECTION
    + " } } }"
)


def nested_query(page_size: int) -> str:
    """Q2 for a page of `page_size` customers, in PostGraphile's naming."""
    return (
        f"{{ customers(first: {page_size}, orderBy: PRIMARY_KEY_ASC)"
        " { edges { node { id: nodeId name email " + _TASKS_SELECTION + " } } } }"
    )


def node_id(table: str, pk: int) -> str:
    """PostGraphile's global ID of row `pk` of `table`: base64 of `["table", pk]`."""
    return base64.b64encode(json.dumps([table, pk], separators=(",", ":")).encode()).decode()


def our_id(peer_id: str) -> str:
    """Our global ID of the row PostGraphile's `peer_id` names."""
    try:
        table, pk = json.loads(base64.b64decode(peer_id, validate=True))
    except ValueError as error:
        raise ValueError(f"not a PostGraphile node ID: {peer_id!r}") from error
    if table not in TYPE_NAMES or not isinstance(pk, int):
        raise ValueError(f"not a node ID of {', '.join(TYPE_NAMES)}: {peer_id!r}")
    return ops.global_id(TYPE_NAMES[table], pk)


def peer_id(our: str) -> str:
    """PostGraphile's global ID of the row our global ID `our` names."""
    type_name, pk = ops.decode_global_id(our)
    if type_name not in TABLE_NAMES:
        raise ValueError(f"no PostGraphile table for {type_name}")
    return node_id(TABLE_NAMES[type_name], pk)


def _documents() -> dict[str, str]:
    documents = {ops.FLAT_QUERY: FLAT_QUERY, ops.CUSTOMER_QUERY: CUSTOMER_QUERY}
    for size in ops.PAGE_SIZES:
        documents[ops.nested_query(size)] = nested_query(size)
    return documents


DOCUMENTS: Final = _documents()


def translate_body(body: bytes) -> bytes:
    """Our request body as PostGraphile's: its document, and its IDs in the variables."""
    payload = orjson.loads(body)
    query = DOCUMENTS.get(payload["query"])
    if query is None:
        raise ValueError(f"no PostGraphile twin for the document {payload['query'][:80]!r}")
    variables = dict(payload.get("variables") or {})
    if "id" in variables:
        variables["id"] = peer_id(variables["id"])
    return ops.body(query, variables)


def translate(workload: ops.Workload) -> ops.Workload:
    """The same workload (operation, page size, order of bodies) in PostGraphile's terms."""
    return ops.Workload(
        workload.operation, tuple(translate_body(b) for b in workload.bodies), workload.page_size
    )


def rename(value: Any) -> Any:
    """A PostGraphile answer in our terms: every `id` as our global ID, and a task's
    `products: { nodes: [{ product }] }` (through the link table) as the list of products."""
    if isinstance(value, list):
        return [rename(item) for item in value]
    if not isinstance(value, dict):
        return value
    renamed: dict[str, Any] = {}
    for key, item in value.items():
        if key == "id" and isinstance(item, str):
            renamed[key] = our_id(item)
        elif key == "products" and isinstance(item, dict) and "nodes" in item:
            renamed[key] = [rename(link["product"]) for link in item["nodes"]]
        else:
            renamed[key] = rename(item)
    return renamed


def verify_reads(
    server: ServerProcess,
    workloads: list[ops.Workload],
    references: Mapping[str, dict[str, Any]],
    *,
    samples: int = 3,
) -> dict[str, int]:
    """Ask PostGraphile the twins of the reads (first bodies of each workload) and compare
    its renamed answers with every reference given (ours, the floor's); response sizes."""
    sizes: dict[str, int] = {}
    for workload in workloads:
        for index, body in enumerate(workload.bodies[:samples]):
            data, size = graphql(server, translate_body(body), {})
            renamed = rename(data)
            for name, answers in references.items():
                try:
                    check_same(
                        answers,
                        f"{workload.key}#{index}",
                        server.variant,
                        renamed,
                        is_reference=False,
                    )
                except BenchFailure as failure:
                    raise BenchFailure(
                        f"{failure} (compared with {name}, after renaming)"
                    ) from None
            sizes.setdefault(workload.key, size)
    return sizes


# --- installing and running ---------------------------------------------------------


def node_major(version: str) -> int | None:
    """The major version of `node --version`'s output (`v20.20.2` -> 20)."""
    text = version.strip().removeprefix("v")
    head = text.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def unavailable(database_url: str, which: Callable[[str], str | None] = shutil.which) -> str | None:
    """Why PostGraphile cannot run here (None when it can): it needs PostgreSQL, Node and npm."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return "it serves PostgreSQL only, and this run's database is not PostgreSQL"
    node, npm = which("node"), which("npm")
    if node is None or npm is None:
        return "Node.js (node and npm) is not on PATH"
    completed = subprocess.run(  # noqa: S603 - a fixed command
        [node, "--version"], capture_output=True, text=True, check=False
    )
    major = node_major(completed.stdout)
    if major is None or major < MIN_NODE_MAJOR:
        return f"Node {completed.stdout.strip() or '?'} is older than {MIN_NODE_MAJOR}"
    return None


def install_dir(root: Path) -> Path:
    """Where the packages and the server script go: var/bench/postgraphile/."""
    return root / "var" / "bench" / NAME


def _lock_digest(source: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((source / name).read_bytes())
    return digest.hexdigest()


def install(root: Path, log: Callable[[str], None], source: Path = PACKAGE_DIR) -> Path:
    """Install the pinned packages with `npm ci` into var/bench/postgraphile/ (again only
    when the lock file changed); the folder."""
    target = install_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_FILES:
        shutil.copyfile(source / name, target / name)
    stamp = target / INSTALLED_STAMP
    digest = _lock_digest(source)
    if stamp.exists() and stamp.read_text() == digest and (target / "node_modules").is_dir():
        log(f"{NAME}: packages already installed in {target}")
        return target
    npm = shutil.which("npm")
    assert npm is not None, "unavailable() checks npm first"
    log(f"{NAME}: npm ci in {target}")
    run_checked(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=target,
        env=clean_environment(),
    )
    stamp.write_text(digest)
    return target


def versions(folder: Path) -> dict[str, str]:
    """The installed versions of the pinned packages, and Node's."""
    lock = orjson.loads((folder / "package-lock.json").read_bytes())
    pinned = orjson.loads((folder / "package.json").read_bytes())["dependencies"]
    found = {
        name: lock["packages"].get(f"node_modules/{name}", {}).get("version", "?")
        for name in pinned
    }
    node = shutil.which("node")
    if node:
        completed = subprocess.run(  # noqa: S603 - a fixed command
            [node, "--version"], capture_output=True, text=True, check=False
        )
        found["node"] = completed.stdout.strip()
    return found


@dataclass
class PostGraphileProcess(ServerProcess):
    """`node server.js` from the install folder (`app_dir`), on its own loopback port."""

    def command(self) -> list[str]:
        """Node with the peer's server script."""
        node = shutil.which("node") or "node"
        return [node, str(self.app_dir / "server.js")]

    def environment(self) -> dict[str, str]:
        """The database (as a libpq URL), host and port; nothing of the app's settings."""
        env = clean_environment()
        env.update(
            BENCH_PG_URL=libpq_url(self.database_url),
            BENCH_HOST=HOST,
            BENCH_PORT=str(self.port),
            NODE_ENV="production",
        )
        return env


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (`postgresql+asyncpg://...`) as node-postgres reads it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
