"""Accounts and demo data for development and benchmarks: `python -m seeds --migrate`."""

from seeds.accounts import (
    DEMO_ROLES,
    AccountSeed,
    AccountsReport,
    DemoRole,
    SeedRefused,
    plan_accounts,
    seed_accounts,
)
from seeds.loader import SeedReport, SeedSizes, seed_demo_data

__all__ = [
    "DEMO_ROLES",
    "AccountSeed",
    "AccountsReport",
    "DemoRole",
    "SeedRefused",
    "SeedReport",
    "SeedSizes",
    "plan_accounts",
    "seed_accounts",
    "seed_demo_data",
]
