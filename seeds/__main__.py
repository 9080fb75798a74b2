"""`python -m seeds`: create the superuser and demo accounts, and load demo products,
customers, users and tasks; idempotently."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from audit.capture import audited_session_factory
from auth.passwords import PasswordHasher
from config.settings import Settings, get_settings
from persistence.database import create_engine
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from seeds.accounts import AccountSeed, AccountsReport, SeedRefused, plan_accounts, seed_accounts
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
        description=(
            "Create the superuser and demo accounts, and load demo data."
            " Running it again adds only what is missing."
        ),
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
    parser.add_argument(
        "--no-demo-users",
        dest="with_demo_users",
        action="store_false",
        help="skip the demo roles and their users (the superuser is still created)",
    )
    return parser


async def _seed(
    settings: Settings, sizes: SeedSizes, accounts: AccountSeed, hasher: PasswordHasher
) -> tuple[AccountsReport, SeedReport]:
    engine = create_engine(settings)
    try:
        uow = SqlAlchemyUnitOfWork(audited_session_factory(engine))
        try:
            accounts_report = await seed_accounts(uow, accounts, hasher=hasher)
        finally:
            await uow.close()
        return accounts_report, await seed_demo_data(engine, sizes)
    finally:
        await engine.dispose()


def _fail(message: str) -> int:
    print(f"python -m seeds: error: {message}", file=sys.stderr)
    return 1


def main(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    hasher: PasswordHasher | None = None,
) -> int:
    """Check the settings, optionally migrate, seed, and print a one-line summary."""
    # Tests pass their own settings and hasher here, the command's composition root.
    args = build_parser().parse_args(argv)
    try:
        settings = settings or get_settings()
    except ValidationError as error:
        # Only the messages: the full error would echo the raw values, secrets included.
        reasons = "; ".join(str(detail["msg"]) for detail in error.errors())
        return _fail(f"invalid settings ({reasons}); nothing was written.")
    try:
        # Checked before anything touches the database, so a refusal writes nothing at all.
        accounts = plan_accounts(settings, with_demo_users=args.with_demo_users)
    except SeedRefused as refusal:
        return _fail(f"{refusal} Nothing was written.")
    sizes = SeedSizes(
        customers=args.customers,
        tasks_per_customer=args.tasks_per_customer,
        products=args.products,
        users=args.users,
        links_per_task=args.links_per_task,
    )
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    if args.migrate:
        upgrade_to_head(settings.database_url)
        print("Schema migrated to the latest revision.", file=sys.stderr)
    accounts_report, report = asyncio.run(
        _seed(settings, sizes, accounts, hasher or PasswordHasher())
    )
    for warning in accounts_report.warnings:
        print(f"python -m seeds: warning: {warning}", file=sys.stderr)
    accounts_clause = accounts_report.summary(with_demo_users=args.with_demo_users)
    print(f"{report.summary().removesuffix('.')}; {accounts_clause}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
