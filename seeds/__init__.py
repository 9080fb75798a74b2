"""Demo data for development and benchmarks: `python -m seeds --migrate`."""

from seeds.loader import SeedReport, SeedSizes, seed_demo_data

__all__ = ["SeedReport", "SeedSizes", "seed_demo_data"]
