"""After a run with faults, the ingest API under pressure: every device asking for upload
URLs at once, then property-based fuzzing; each records its figures and its check."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from devkit.soak import burst, fuzz, inputs
from devkit.soak.report import Report
from devkit.soak.scenario import Setup, Traffic, register

VICTIM_CHUNKS_SQL = sa.text("SELECT chunk_id FROM audio_chunks WHERE device_id = :d LIMIT 5")


def upload_url_burst(setup: Setup, traffic: Traffic, report: Report, seconds: float = 10.0) -> None:
    """Every device asks for upload URLs as fast as it can: no answer may be a 5xx."""
    tokens = [traffic.tokens[d.device_id] for d in setup.input.devices]
    figure = burst.upload_url_burst(setup.stack.url("ingest"), tokens, seconds)
    report.figures["upload_url_burst"] = figure
    statuses = figure["by_status"]
    report.check("upload-URL burst: no 5xx", all(code < 500 for code in statuses), str(statuses))


def fuzz_ingest(setup: Setup, traffic: Traffic, engine: sa.Engine, report: Report) -> None:
    """A device of its own fuzzes the ingest API; nothing may leak device 0's data."""
    victim = setup.input.devices[0]
    attacker = inputs.devices(1, setup.options.seed + 1)[0]
    attacker_token = register(setup.stack, [attacker])[attacker.device_id]
    with engine.connect() as conn:
        found = conn.execute(VICTIM_CHUNKS_SQL, {"d": victim.device_id}).scalars()
        chunk_ids = [str(c) for c in found] or [str(uuid.uuid4())]
    began = time.monotonic()
    try:
        result = fuzz.run(
            setup.stack.url("ingest"),
            setup.stack.admin_token,
            attacker_token,
            fuzz.Victim(victim.device_id, traffic.tokens[victim.device_id], chunk_ids),
            setup.options.fuzz_examples,
        )
    except fuzz.FuzzFailure as exc:
        report.check("fuzzing: no 5xx, no leak", False, str(exc)[:500])
        return
    report.check("fuzzing: no 5xx, no leak", True, f"{result.examples} requests")
    report.figures["fuzz_examples"] = result.examples
    report.figures["fuzz_by_status"] = dict(sorted(result.by_status.items()))
    report.figures["fuzz_requests_per_sec"] = round(result.examples / (time.monotonic() - began), 1)
