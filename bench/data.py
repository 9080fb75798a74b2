"""The benchmark's data sets, built with the project's seeder and reused when already right.

SQLite: one file per data set under var/bench/. PostgreSQL: the URL's database holds the
main data set and `<database>_catalogue` the large catalogue; both are created on that
server when missing (through asyncpg, connected to its `postgres` database). The seeder is
idempotent, so a data set that holds exactly the expected counts is used as it is.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.processes import clean_environment, run_checked

COUNTED_TABLES = ("products", "customers", "tasks", "task_products")
MANAGER_EMAIL = "manager@example.com"
# The seeder's development default for demo users; seeding runs with ENVIRONMENT=development.
MANAGER_PASSWORD = "demo-dev-password"  # noqa: S105


@dataclass(frozen=True, slots=True)
class DataSet:
    """A named data set: its seeder sizes and where it lives."""

    name: str
    customers: int
    tasks_per_customer: int
    products: int
    links_per_task: int
    url: str

    def expected_counts(self) -> dict[str, int]:
        """The row counts the seeder leaves in the counted tables."""
        tasks = self.customers * self.tasks_per_customer
        return {
            "products": self.products,
            "customers": self.customers,
            "tasks": tasks,
            "task_products": tasks * min(self.links_per_task, self.products),
        }

    def seeder_arguments(self) -> list[str]:
        """`python -m seeds` arguments that build this data set."""
        return [
            "--migrate",
            "--database-url",
            self.url,
            "--customers",
            str(self.customers),
            "--tasks-per-customer",
            str(self.tasks_per_customer),
            "--products",
            str(self.products),
            "--links-per-task",
            str(self.links_per_task),
        ]


def default_sqlite_url(root: Path, name: str) -> str:
    """The SQLite file of data set `name` under var/bench/."""
    return f"sqlite+aiosqlite:///{(root / 'var' / 'bench' / f'{name}.db').resolve()}"


def data_sets(main_url: str | None, root: Path) -> tuple[DataSet, DataSet]:
    """The main data set (1000 x 10 x 300 x 3) and the 100x catalogue (30,000 products)."""
    main = main_url or default_sqlite_url(root, "bench")
    parsed = make_url(main)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("SQLite data sets must be files: the servers are other processes")
        # Absolute, as the servers and the seeder run in another working directory.
        path = (root / parsed.database).resolve()
        main = parsed.set(database=str(path)).render_as_string(hide_password=False)
        catalogue = str(parsed.set(database=str(path.with_name(f"{path.stem}_catalogue.db"))))
    else:
        catalogue = parsed.set(database=f"{parsed.database}_catalogue").render_as_string(
            hide_password=False
        )
    return (
        DataSet("main", 1000, 10, 300, 3, main),
        DataSet("catalogue", 10, 10, 30_000, 3, catalogue),
    )


async def count_rows(url: str) -> dict[str, int] | None:
    """Rows per counted table, plus 1 when the manager account exists; None when unseeded."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            counts = {}
            for table in COUNTED_TABLES:
                count = text(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
                counts[table] = int((await conn.execute(count)).scalar_one())
            manager = await conn.execute(
                text("SELECT count(*) FROM users WHERE email = :email"), {"email": MANAGER_EMAIL}
            )
            counts["manager"] = int(manager.scalar_one())
            return counts
    except Exception:  # a missing table or database means: not seeded yet
        return None
    finally:
        await engine.dispose()


def is_postgres(url: str) -> bool:
    """Whether `url` names a PostgreSQL database."""
    return make_url(url).get_backend_name() == "postgresql"


async def _analyze(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


def analyze(url: str) -> None:
    """Refresh the planner's statistics of the whole database (a few hundred ms here)."""
    asyncio.run(_analyze(url))


def _server_url(url: URL) -> str:
    return url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )


async def ensure_postgres_database(url: str, *, recreate: bool) -> None:
    """Create the URL's database on its server when missing (drop it first if `recreate`)."""
    import asyncpg

    parsed = make_url(url)
    name = parsed.database
    assert name, "a PostgreSQL URL must name its database"
    connection = await asyncpg.connect(_server_url(parsed))
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        if recreate:
            await connection.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f"CREATE DATABASE {quoted}")
    finally:
        await connection.close()


def _recreate(data_set: DataSet) -> None:
    parsed = make_url(data_set.url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    else:
        asyncio.run(ensure_postgres_database(data_set.url, recreate=True))


def seed(data_set: DataSet, root: Path) -> None:
    """Run the project's seeder for the data set, with the default (development) settings,
    which allow the demo passwords; from var/bench/, so no `.env` file applies."""
    env = clean_environment()
    env.update(ENVIRONMENT="development", PYTHONPATH=str(root))
    workdir = root / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "seeds", *data_set.seeder_arguments()]
    run_checked(command, cwd=workdir, env=env)


def is_complete(counts: dict[str, Any] | None, data_set: DataSet) -> bool:
    """Whether the counts are exactly the data set's, with the manager account present."""
    if counts is None:
        return False
    return counts.get("manager") == 1 and all(
        counts.get(table) == value for table, value in data_set.expected_counts().items()
    )


def prepare(data_set: DataSet, root: Path, *, rebuild: bool, owned: bool) -> str:
    """Make the data set hold exactly its data; what was done, for the log.

    `owned` data sets (the default SQLite files) are rebuilt when they hold other data;
    any other database is rebuilt only with `rebuild`, and otherwise refused.
    """
    is_postgres = make_url(data_set.url).get_backend_name() != "sqlite"
    if rebuild:
        _recreate(data_set)
    elif is_postgres:
        asyncio.run(ensure_postgres_database(data_set.url, recreate=False))
    if is_complete(asyncio.run(count_rows(data_set.url)), data_set):
        return "reused"
    seed(data_set, root)
    counts = asyncio.run(count_rows(data_set.url))
    if is_complete(counts, data_set):
        return "rebuilt and seeded" if rebuild else "seeded"
    if not owned:
        raise RuntimeError(
            f"{data_set.url} holds other data than the benchmark's ({counts}, expected"
            f" {data_set.expected_counts()}); pass --rebuild to drop and rebuild it"
        )
    _recreate(data_set)
    seed(data_set, root)
    counts = asyncio.run(count_rows(data_set.url))
    if not is_complete(counts, data_set):
        raise RuntimeError(f"seeding {data_set.url} left {counts}")
    return "rebuilt and seeded"


async def _fetch(url: str, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params or {})).all())
    finally:
        await engine.dispose()


def lookup_customer_ids(url: str, *, skip: int = 100, count: int = 200) -> list[int]:
    """Customers Q3 cycles over: past the largest Q2 page, so the two read different rows."""
    rows = asyncio.run(
        _fetch(
            url,
            "SELECT id FROM customers ORDER BY id LIMIT :count OFFSET :skip",
            {"count": count, "skip": skip},
        )
    )
    return [row[0] for row in rows]


def mutation_task_ids(url: str, *, customers: int = 50, count: int = 100) -> list[int]:
    """Tasks M1 flips: TODO or IN_PROGRESS ones of the last customers, which no query reads."""
    sql = (
        "SELECT id FROM tasks WHERE status IN ('TODO', 'IN_PROGRESS') AND customer_id IN"
        " (SELECT id FROM customers ORDER BY id DESC LIMIT :customers) ORDER BY id LIMIT :count"
    )
    rows = asyncio.run(_fetch(url, sql, {"customers": customers, "count": count}))
    return [row[0] for row in rows]


def task_statuses(url: str, task_ids: list[int]) -> list[tuple[int, str]]:
    """The current status of each task, in the order given."""
    marks = ", ".join(f":id{n}" for n in range(len(task_ids)))
    rows = asyncio.run(
        _fetch(
            url,
            f"SELECT id, status FROM tasks WHERE id IN ({marks})",  # noqa: S608
            {f"id{n}": pk for n, pk in enumerate(task_ids)},
        )
    )
    found = dict(rows)
    return [(pk, found[pk]) for pk in task_ids]
