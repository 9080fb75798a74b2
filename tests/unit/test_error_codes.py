"""One error model: every `extensions.code` the API emits is a member of `ErrorCode`, the
README's error table lists exactly those members, the docs name no other, and no member is
dead."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from domain.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("graph", "domain", "persistence", "auth", "audit", "config")
# What a code looks like in prose: a known suffix, or one of the one-word codes.
_CODE_LIKE = re.compile(
    r"`([A-Z][A-Z_]*(?:_FAILED|_ERROR|_INPUT|_FOUND|_REQUEST|_REQUESTS|_LARGE|_COMPLEX"
    r"|_MEDIA_TYPE|_ALLOWED|_UNAVAILABLE)|CONFLICT|FORBIDDEN|UNAUTHENTICATED|TIMEOUT)`"
)


def _product_sources() -> list[Path]:
    return [path for package in PRODUCT_PACKAGES for path in (ROOT / package).rglob("*.py")]


def _readme_error_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Errors", 1)[1].split("\n#", 1)[0]
    codes: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            codes.update(re.findall(r"`([A-Z_]+)`", first_cell))
    return codes


def test_given_the_readme_error_table_then_it_lists_exactly_the_enum() -> None:
    assert _readme_error_table() == {code.value for code in ErrorCode}


def test_given_the_docs_then_every_code_they_name_is_in_the_enum() -> None:
    known = {code.value for code in ErrorCode}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        named = set(_CODE_LIKE.findall(page.read_text()))
        assert named <= known, f"{page.name} names codes the API never emits: {named - known}"


def test_given_the_product_code_then_no_code_is_a_bare_string() -> None:
    # `{"code": "SOMETHING"}` or `TIMEOUT = "TIMEOUT"` would be a code beside the enum.
    codes = {code.value for code in ErrorCode}
    offenders = []
    for path in _product_sources():
        if path == ROOT / "domain" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and node.value.value in codes
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "code"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                    ):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_given_every_enum_member_then_the_product_uses_it() -> None:
    enum_module = ROOT / "domain" / "errors.py"
    sources = "\n".join(path.read_text() for path in _product_sources() if path != enum_module)
    # The domain's error classes below the enum use their codes too.
    sources += enum_module.read_text().split("class DomainError", 1)[1]
    unused = [code.name for code in ErrorCode if f"ErrorCode.{code.name}" not in sources]
    assert unused == []
