"""Bring a database's schema to the latest migration before seeding it."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config

ALEMBIC_INI: Final = Path(__file__).resolve().parent.parent / "alembic.ini"


def upgrade_to_head(database_url: str) -> None:
    """Run `alembic upgrade head` on `database_url`; call it outside any running event loop."""
    config = Config(str(ALEMBIC_INI))
    # ConfigParser interpolates `%`, so a percent-encoded password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    # The seeding command prints its own summary; Alembic must not reconfigure logging.
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
