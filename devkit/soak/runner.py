"""The load run: N simulated devices replay recordings into a local stack, with faults.

`run(Options(...))` prepares the input (`inputs.prepare`: devices and recordings from the
seed), and with `faults` first plays it through a fault-free stack, the reference. Then
the measured run on a fresh LocalStack: the devices of `scenario` registered, replaying
their recordings through the recorder's own code behind a proxy standing for their
network, with the bad chunks of `badaudio`; with `faults`, the duplicate deliveries and
the fault schedule of `chaos` until the pipeline has drained. `measure` samples every
component meanwhile; then come the `figures`, the `invariants`, with faults the `probes`
of the ingest API, and the `comparison` of the dialogues, transcripts and analyses with
the reference's.
"""

from __future__ import annotations

import contextlib
import logging
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import sqlalchemy as sa

from devkit.local.provision import using_env
from devkit.local.stack import LocalStack
from devkit.soak import (
    canonical,
    chaos,
    comparison,
    figures,
    inputs,
    invariants,
    measure,
    probes,
    scenario,
)
from devkit.soak.options import Options, add_arguments, options_from
from devkit.soak.report import PASSED, Report
from devkit.soak.scenario import Setup, Traffic


def run(options: Options, echo: Callable[[str], None] = print) -> Report:
    """Run the load test described by `options` and return its report.

    With faults the input is first played through a fault-free stack; the run with
    faults must end with the same dialogues, transcripts and analyses."""
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="salescontrol-soak-"))
    given = inputs.prepare(options, workdir, echo)
    if not options.faults:
        report, _ = play(options, given, workdir / "run", False, echo)
        report.checks.append(comparison.not_compared())
        return report
    echo("soak: the fault-free reference run")
    reference, expected = play(options, given, workdir / "reference", False, echo)
    echo("soak: the run with faults")
    report, actual = play(options, given, workdir / "run", True, echo)
    report.reference = {"figures": reference.figures, "checks_failed": reference.failed()}
    report.checks.append(comparison.reference_held(reference))
    report.checks.append(comparison.same_as_reference(expected, actual))
    return report


def play(
    options: Options,
    given: inputs.Input,
    workdir: Path,
    with_faults: bool,
    echo: Callable[[str], None],
) -> tuple[Report, canonical.Dump]:
    """One run of the input on a fresh stack: its report and what the pipeline made."""
    report = Report(options={k: str(v) for k, v in asdict(options).items()})
    stack = LocalStack(workdir / "stack", ingest_port=0, echo=lambda line: None)
    echo(f"soak: starting a local stack in {stack.workdir}")
    # Twenty agents logging every retry during outages would drown the run's own lines,
    # and so would the pool's tracebacks for connections cut by a Postgres restart.
    logging.getLogger("recorder").setLevel(logging.ERROR)
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    stack.start()
    try:
        with using_env(stack.env), contextlib.ExitStack() as closing:
            rng = random.Random(options.seed)
            setup = Setup(stack, options, given, workdir, with_faults, rng, report.faults, echo)
            engine = sa.create_engine(stack.env["DATABASE_URL"], pool_pre_ping=True)
            traffic, replay_sec, drained_sec = _drive(setup, engine, report, closing)
            # What it achieved, what it left, and whether that is right.
            report.figures.update(
                figures.throughput(engine, options, given, traffic, replay_sec, drained_sec)
            )
            dump = canonical.dump(engine)
            invariants.after_run(engine, stack, given, traffic, report)
            if with_faults:
                probes.upload_url_burst(setup, traffic, report)
                if options.fuzz_examples:
                    probes.fuzz_ingest(setup, traffic, engine, report)
            engine.dispose()
            return report, dump
    finally:
        stack.stop()


def _drive(
    setup: Setup, engine: sa.Engine, report: Report, closing: contextlib.ExitStack
) -> tuple[Traffic, float, float]:
    """The scenario, until the pipeline drained; the traffic, replay and drain seconds."""
    given, options = setup.input, setup.options
    # 1. Every device registered, the one sending bad chunks too.
    began = time.monotonic()
    tokens = scenario.register(setup.stack, [*given.devices, given.bad_device])
    report.figures["encode_sec"] = given.encode_sec
    report.figures["registration_per_sec"] = round(len(tokens) / (time.monotonic() - began), 1)
    # 2. With faults, every message is delivered twice from now on.
    duplication = chaos.Duplication(setup.stack) if setup.with_faults else None
    if duplication:
        closing.callback(duplication.close_proxies)
    sampler = measure.Sampler(setup.stack, engine)
    sampler.start()
    # 3. The devices replay; with faults, the schedule injects until all has drained.
    began = time.monotonic()
    traffic = scenario.start(setup, tokens)
    closing.callback(traffic.close)
    busy = scenario.busy(engine, traffic, began, setup.echo)
    schedule = chaos.Schedule(setup, traffic, duplication.proxies) if duplication else None
    if schedule:
        # In this thread: restarted children die with the thread that spawned them
        # (PR_SET_PDEATHSIG), so the main thread, which outlives the run, spawns them.
        schedule.run(busy)
    in_time = scenario.wait_drained(busy, began + options.timeout_sec)
    drained_sec = time.monotonic() - began
    report.checks.append(invariants.drained(in_time, drained_sec, options.timeout_sec))
    replay_sec = traffic.join(began)
    if schedule:
        schedule.join()
    sampler.stop()
    if duplication:
        report.faults.append(duplication.summary())
        duplication.duplicator.close()
    report.components = sampler.components()
    report.backlog_peak = sampler.backlog_peak
    return traffic, replay_sec, drained_sec


# The soak's public face, for the CLI, bench_soak.py and the tests.
__all__ = ["PASSED", "Options", "Report", "add_arguments", "options_from", "run"]
