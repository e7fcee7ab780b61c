"""Load run: N devices replaying into the local stack, with faults, bad chunks, fuzzing.

`python benchmarks/bench_soak.py [--devices N --minutes M --faults ...]` (the options of
`python -m salescontrol soak`; `nox -s soak -- ...` runs this). Without options it runs
the default size with faults and 300 fuzz examples. Writes benchmarks/results/soak.json:
throughput, latency, components' CPU/memory, faults with recovery times, invariants.
"""

from __future__ import annotations

import argparse
import sys

from common import write_result

from salescontrol.soak import runner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    runner.add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] or ["--faults", "--fuzz-examples", "300"])
    report = runner.run(runner.options_from(args))
    opts, figures = report.options, report.figures
    latency = figures.get("announce_to_upload_sec", {})
    summary = (
        f"{opts['devices']} devices x {opts['minutes']} min of audio "
        f"({opts['chunk_sec']} s chunks), faults {opts['faults']}, "
        f"{opts['bad_chunks']} bad chunks, replayed as fast as the recorders encode. "
        f"{figures['chunks_uploaded']} chunks uploaded in {figures['replay_sec']} s: "
        f"{figures['chunks_per_sec_accepted']} chunks/s, {figures['ingest_requests_per_sec']} "
        f"ingest requests/s; {len(report.faults)} faults injected; invariants "
        f"{'hold' if report.ok else 'BROKEN'} (stages not in this checkout are listed as "
        "not_present). Only ingest and upload exist here: vad, assemble and ASR (issues 4, 5) "
        "are needed for processed-chunk, dialogue and latency-to-analysis figures."
    )
    tables = [
        {
            "title": "Throughput",
            "columns": ["figure", "value"],
            "rows": [[k, str(v)] for k, v in figures.items()],
        },
        {
            "title": "Ingest latency, announce to upload confirmed (s)",
            "columns": ["p50", "p95", "p99"],
            "rows": [[latency.get("p50"), latency.get("p95"), latency.get("p99")]],
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
            "title": "Peak backlog per stage (from statuses)",
            "columns": ["stage", "peak"],
            "rows": [[k, v] for k, v in report.backlog_peak.items()],
        },
        {
            "title": "Faults",
            "columns": ["kind", "target", "recovery s"],
            "rows": [
                [f["kind"], f["target"][:12], round(f["recovery_sec"] or 0, 2)]
                for f in report.faults
            ],
        },
        {
            "title": "Invariants",
            "columns": ["check", "status", "detail"],
            "rows": [[c.name, c.status, c.detail[:120]] for c in report.checks],
        },
    ]
    write_result("soak", "Load, faults and hostile input (soak)", summary, tables)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
