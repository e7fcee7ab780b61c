"""What a run achieved: throughput of devices and pipeline, and latency, from the
database and the devices' own counts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from devkit.soak import measure
from devkit.soak.inputs import Input
from devkit.soak.options import Options
from devkit.soak.scenario import Traffic

# Per chunk: its announcement -> the upload confirmed.
UPLOAD_SQL = sa.text(
    "SELECT EXTRACT(EPOCH FROM uploaded_at - created_at) FROM audio_chunks "
    "WHERE uploaded_at IS NOT NULL"
)


def throughput(
    engine: sa.Engine,
    options: Options,
    given: Input,
    traffic: Traffic,
    replay_sec: float,
    drained_sec: float,
) -> dict[str, Any]:
    """Chunks, dialogues and requests per second, and latency percentiles, in the
    report's order."""
    with engine.connect() as conn:
        upload = [float(x) for x in conn.execute(UPLOAD_SQL).scalars()]
        e2e = [float(x) for x in conn.execute(measure.LATENCY_SQL).scalars() if x is not None]
        totals = conn.execute(measure.TOTALS_SQL).one()
    uploaded = sum(r.uploaded for r in traffic.results.values())
    # Every request a device made, counted by the proxy standing for its network.
    requests_total = sum(
        v
        for network in traffic.networks.values()
        for k, v in network.counts.items()
        if k.startswith("forwarded_")
    )
    return {
        "replay_sec": round(replay_sec, 1),
        "drained_sec": round(drained_sec, 1),
        "chunks_uploaded": uploaded,
        "chunks_per_sec_accepted": round(uploaded / replay_sec, 2),
        "chunks_processed": totals.processed,
        "chunks_per_sec_processed": round(totals.processed / drained_sec, 2),
        "dialogues_laid": given.dialogues_laid,
        "dialogues": totals.dialogues,
        "dialogues_analysed": totals.analysed,
        "dialogues_per_sec": round(totals.analysed / drained_sec, 3),
        "ingest_requests": requests_total,
        "ingest_requests_per_sec": round(requests_total / replay_sec, 2),
        "audio_minutes_per_wall_minute": round(
            options.devices * options.minutes / (drained_sec / 60), 1
        ),
        "announce_to_upload_sec": measure.percentiles(upload, 2),
        "e2e_latency_sec": measure.percentiles(e2e, 1),
    }
