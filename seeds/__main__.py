"""`python -m seeds`: load demo products, customers, users and tasks, idempotently."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from config.settings import get_settings
from persistence.database import create_engine
from seeds.loader import (
    MAX_CUSTOMERS,
    MAX_LINKS_PER_TASK,
    MAX_PRODUCTS,
    MAX_TASKS_PER_CUSTOMER,
    MAX_USERS,
    SeedReport,
    SeedSizes,
    seed_demo_data,
)
from seeds.migrate import upgrade_to_head

DEFAULTS = SeedSizes()


def _count(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 0 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 0 and {limit}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line: sizes, target database and whether to migrate first."""
    parser = argparse.ArgumentParser(
        prog="python -m seeds",
        description="Load demo data. Running it again adds only the rows that are missing.",
    )
    sizes = parser.add_argument_group("sizes (defaults in brackets)")
    options = [
        ("--customers", MAX_CUSTOMERS, DEFAULTS.customers, "demo customers"),
        (
            "--tasks-per-customer",
            MAX_TASKS_PER_CUSTOMER,
            DEFAULTS.tasks_per_customer,
            "tasks per customer",
        ),
        ("--products", MAX_PRODUCTS, DEFAULTS.products, "demo products"),
        ("--users", MAX_USERS, DEFAULTS.users, "demo users, the tasks' assignees"),
        (
            "--links-per-task",
            MAX_LINKS_PER_TASK,
            DEFAULTS.links_per_task,
            "products linked to each new task (fewer if there are fewer products)",
        ),
    ]
    for flag, limit, default, help_text in options:
        sizes.add_argument(
            flag,
            type=_count(limit),
            default=default,
            metavar="N",
            help=f"{help_text} [{default}], at most {limit}",
        )
    parser.add_argument(
        "--database-url", help="defaults to the DATABASE_URL setting", metavar="URL"
    )
    parser.add_argument(
        "--migrate", action="store_true", help="run `alembic upgrade head` before seeding"
    )
    return parser


async def _seed(database_url: str, sizes: SeedSizes) -> SeedReport:
    settings = get_settings().model_copy(update={"database_url": database_url})
    engine = create_engine(settings)
    try:
        return await seed_demo_data(engine, sizes)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, optionally migrate, seed, and print a one-line summary."""
    args = build_parser().parse_args(argv)
    sizes = SeedSizes(
        customers=args.customers,
        tasks_per_customer=args.tasks_per_customer,
        products=args.products,
        users=args.users,
        links_per_task=args.links_per_task,
    )
    database_url: str = args.database_url or get_settings().database_url
    if args.migrate:
        upgrade_to_head(database_url)
        print("Schema migrated to the latest revision.", file=sys.stderr)
    report = asyncio.run(_seed(database_url, sizes))
    print(report.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
