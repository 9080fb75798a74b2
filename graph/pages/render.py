"""Fill the page templates in `templates/` (`$name` placeholders, `string.Template`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).with_name("templates")


@cache
def _template(name: str) -> Template:
    return Template(TEMPLATES.joinpath(name).read_text(encoding="utf-8"))


def render(name: str, **values: str) -> str:
    """The template filled with already-escaped HTML; a missing value is a KeyError."""
    return _template(name).substitute(values)
