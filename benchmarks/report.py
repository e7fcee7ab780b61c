"""Assemble BENCHMARKS.md from benchmarks/results/*.json."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _table(table: dict) -> list[str]:
    lines = []
    if table.get("title"):
        lines += [f"**{table['title']}**", ""]
    lines.append("| " + " | ".join(table["columns"]) + " |")
    lines.append("|" + "---|" * len(table["columns"]))
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in table["rows"]]
    return [*lines, ""]


def render() -> str:
    lines = [
        "# Benchmarks",
        "",
        "Measured figures, written by `nox -s bench` (see `benchmarks/README.md`). Each",
        "section names the machine and date it was measured on.",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        lines += [f"## {result['title']}", ""]
        lines += [f"*{result['machine']} — {result['date']}*", "", result["summary"], ""]
        for table in result["tables"]:
            lines += _table(table)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    (ROOT / "BENCHMARKS.md").write_text(render(), encoding="utf-8")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")
