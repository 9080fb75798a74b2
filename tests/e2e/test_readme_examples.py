"""The README's examples paste: every bash block that calls the API runs, as printed and
in order in one shell, against a live server on the seeded demo data, and succeeds.

Only the port changes (the README's 8000 becomes the test server's). A block succeeds when
bash exits 0 (`set -euo pipefail`, so a failed curl or a missing field stops it) and what it
printed holds data and no GraphQL error.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.servers import ROOT, running_server, seeded_database, server_env

README = ROOT / "README.md"
README_ADDRESS = "127.0.0.1:8000"
_BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
_MARKER = "@@readme-block "


def api_blocks(markdown: str) -> list[str]:
    """The fenced bash blocks (at the left margin) that call the API."""
    return [
        block
        for block in _BASH_BLOCK.findall(markdown)
        if f"http://{README_ADDRESS}/graphql" in block
    ]


def test_given_the_readme_then_its_api_examples_log_in_first_and_fetch_every_id_they_use() -> None:
    blocks = api_blocks(README.read_text())

    assert len(blocks) >= 6
    assert blocks[0].startswith("TOKEN=$(curl")
    script = "\n".join(blocks)
    for variable in ("id", "customer", "product"):
        assert re.search(rf"^{variable}=", script, re.MULTILINE), f"${variable} is never set"
    assert "jq" not in script
    assert "company" in script.split('search: "acme"', 1)[1].split("tasks(", 1)[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on PATH")
async def test_given_a_live_server_when_the_readme_examples_run_then_each_succeeds(
    tmp_path: Path,
) -> None:
    blocks = api_blocks(README.read_text())
    async with (
        seeded_database(tmp_path) as database_url,
        running_server(server_env(database_url)) as server,
    ):
        port = server.base_url.rsplit(":", 1)[1]
        script = ["set -euo pipefail"]
        for index, block in enumerate(blocks):
            script += [
                f"echo '{_MARKER}{index}'",
                block.replace(README_ADDRESS, f"127.0.0.1:{port}"),
                "echo",
            ]
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            "\n".join(script),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        output, errors = await asyncio.wait_for(process.communicate(), 120)

    printed = output.decode()
    assert process.returncode == 0, f"{printed}\n{errors.decode()}"
    outputs = re.split(rf"^{_MARKER}\d+\n", printed, flags=re.MULTILINE)[1:]
    assert len(outputs) == len(blocks)
    for block, out in zip(blocks, outputs, strict=True):
        assert '"data"' in out, f"{block}\nprinted:\n{out}"
        assert '"errors"' not in out, f"{block}\nprinted:\n{out}"
