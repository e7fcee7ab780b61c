"""Load run: N devices replaying into the local stack, with faults, bad chunks, fuzzing.

`python benchmarks/bench_soak.py [--devices N --minutes M --faults ...]` (the options of
`python -m salescontrol soak`; `nox -s soak -- ...` runs this). Without options it runs
the default size with faults and 300 fuzz examples. Writes benchmarks/results/soak.json:
throughput, latency, components' CPU/memory, backlog, faults with recovery times, bad
inputs and the invariants (with faults, against a fault-free run of the same input).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from common import write_result

from devkit.soak import runner


def _row(what: str, figure: dict | None) -> list:
    figure = figure or {}
    return [what, figure.get("p50"), figure.get("p95"), figure.get("p99"), figure.get("n")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    runner.add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] or ["--faults", "--fuzz-examples", "300"])
    report = runner.run(runner.options_from(args))
    opts, figures = report.options, report.figures
    reference = report.reference.get("figures", {})
    kinds = Counter(f"{f['kind']} {f['target'][:8]}" for f in report.faults)

    def faults_of(kind: str) -> list[dict]:
        return [f for f in report.faults if f"{f['kind']} {f['target'][:8]}" == kind]

    summary = (
        f"{opts['devices']} devices x {opts['minutes']} min of audio ({opts['chunk_sec']} s "
        f"chunks, {figures['dialogues_laid']} dialogues laid), {opts['bad_chunks']} bad "
        f"chunks, released to each device at {opts['speed']}x real time (0: all at once); "
        f"faults {opts['faults']}. "
        f"{figures['chunks_uploaded']} chunks up in {figures['replay_sec']} s, everything "
        f"analysed after {figures['drained_sec']} s: {figures['chunks_per_sec_processed']} "
        f"chunks/s, {figures['dialogues_per_sec']} dialogues/s, "
        f"{figures['audio_minutes_per_wall_minute']} audio min per wall min; "
        f"{len(report.faults)} faults injected; invariants {'hold' if report.ok else 'BROKEN'}."
        + (
            f" The fault-free reference run of the same input drained in "
            f"{reference.get('drained_sec')} s."
            if reference
            else ""
        )
    )
    latency_rows = [
        _row(
            "end to end: chunk holding a dialogue's end uploaded -> analysis stored (s)",
            figures.get("e2e_latency_sec"),
        ),
        _row("ingest: announced -> upload confirmed (s)", figures.get("announce_to_upload_sec")),
    ]
    if reference:
        latency_rows.append(
            _row("end to end, fault-free reference run (s)", reference.get("e2e_latency_sec"))
        )
    tables = [
        {
            "title": "Throughput",
            "columns": ["figure", "value"],
            "rows": [[k, str(v)] for k, v in figures.items() if not isinstance(v, dict)],
        },
        {
            "title": "Latency",
            "columns": ["what", "p50", "p95", "p99", "n"],
            "rows": latency_rows,
        },
        {
            "title": "Components",
            "columns": ["component", "CPU mean %", "CPU peak %", "RSS peak MiB"],
            "rows": [
                [name, c["cpu_mean_pct"], c["cpu_peak_pct"], c["rss_peak_mib"]]
                for name, c in report.components.items()
            ],
        },
        {
            "title": "Peak backlog per subscription (from statuses)",
            "columns": ["subscription", "peak"],
            "rows": [[k, v] for k, v in report.backlog_peak.items()],
        },
        {
            "title": "Faults survived",
            "columns": ["kind", "times", "mid-request", "recovery s (max)"],
            "rows": [
                [
                    kind,
                    count,
                    sum(bool(f["detail"].get("mid_request")) for f in faults_of(kind)),
                    max(round(f["recovery_sec"] or 0, 1) for f in faults_of(kind)),
                ]
                for kind, count in sorted(kinds.items())
            ],
        },
        {
            "title": "Bad inputs tried",
            "columns": ["kind", "expected", "outcome", "reason"],
            "rows": [
                [b["kind"], b["expected"], b["outcome"], b["reason"][:70]]
                for b in report.bad_inputs
            ],
        },
        {
            "title": "Invariants",
            "columns": ["check", "status", "detail"],
            "rows": [[c.name, c.status, c.detail[:120]] for c in report.checks],
        },
    ]
    # The whole report too (every fault with its moment and detail, every check).
    write_result(
        "soak", "Load, faults and hostile input (soak)", summary, tables, report=report.as_dict()
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
