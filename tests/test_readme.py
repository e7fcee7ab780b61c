"""The README's curl walk-through works against the local stack, as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _walkthrough() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- walkthrough:start -->\n```bash\n(.*?)```\n<!-- walkthrough:end -->", readme, re.S
    )
    assert block, "README lost its walk-through markers"
    return block.group(1)


def test_readme_walkthrough_registers_uploads_and_sees_it_uploaded(stack) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _walkthrough()],
        cwd=REPO,
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["already_uploaded"] is True
    # The vad function may already have taken the chunk further.
    assert last["status"] in ("UPLOADED", "PROCESSING", "DONE")
