"""Run a recording through the whole local pipeline and read back what it made.

Shared by `python -m salescontrol demo` and `python -m salescontrol eval`: start a
LocalStack (every function of topology.yaml and the ASR worker), register a device
through the ingest admin API, replay the recording with the recorder agent's own code
(`recorder.replay`: cut, encoded, spooled, announced and uploaded as a Raspberry Pi
would, faster than real time, on a time line that ends in the recent past), post the
recording's receipts (its truth's) through the receipts API at the moment each is
printed on that time line, as a shop's POS would, then poll the database until every
chunk is DONE or REJECTED and every dialogue is analysed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import soundfile as sf
import sqlalchemy as sa

from devkit.admin import AdminClient, AdminError, Device
from devkit.local.stack import LocalStack
from salescontrol import backlog, topology
from salescontrol.chunks import ChunkStatus as chunk
from salescontrol.dialogues import AnalysisStatus as analysis
from salescontrol.dialogues import AsrStatus as asr
from salescontrol.errors import PrerequisiteError, SalesControlError

CHUNK_SEC = 60.0  # the seed's recorder default
# Subscriptions that no function pushes from are pulled by a long-running worker.
PULL_WORKERS = {"asr": "asr_service"}
# Assembly closes a dialogue shortly after the chunk after it is DONE: once every chunk
# is DONE and every dialogue analysed, wait this long without change before calling
# it finished, so a dialogue still being cut is not missed.
SETTLE_SEC = 8.0
# Speech not yet assembled usually means an assemble call is still on its way (a busy
# machine); speech that only the sweeper will close (SWEEP_DELAY_SEC) is not waited for
# longer than this.
OPEN_SPEECH_GRACE_SEC = 60.0
POLL_SEC = 1.0
KKT = "0000000000042001"  # the replayed register's ККТ registration number

Echo = Callable[[str], None]


class PipelineError(SalesControlError):
    """The run could not start or did not finish."""


def missing_stages(topo: topology.Topology | None = None) -> list[str]:
    """Pipeline stages this checkout lacks: subscriptions nothing consumes."""
    topo = topo or topology.load()
    missing = []
    for name, sub in topo.subscriptions.items():
        if topo.push_target(name) is not None:
            continue
        worker = PULL_WORKERS.get(name)
        if worker is None:
            missing.append(f"no function consumes subscription {name} ({sub.topic})")
        elif importlib.util.find_spec(worker) is None:
            missing.append(f"{worker}/ (the worker of subscription {name}) is missing")
    return missing


def register_device(ingest_url: str, admin_token: str, point_name: str) -> Device:
    """A new device (with its point and register, whose ККТ is KKT) through the ingest
    admin API."""
    try:
        return AdminClient(ingest_url, admin_token).register_device(
            point_name=point_name, register_name="Касса 1", kkt_reg_id=KKT
        )
    except AdminError as exc:
        raise PipelineError(str(exc)) from None


def recorder_config(device: Device, ingest_url: str, spool: Path, chunk_sec: float) -> Any:
    """The recorder's validated config for `device` (the same checks as config.yaml)."""
    from recorder import config

    return config.parse(
        {
            "device_id": device.device_id,
            "point_id": device.point_id,
            "register_id": device.register_id,
            "server": {
                "url": ingest_url,
                "token": device.token,
                "timeout_sec": 30,
                "retry_initial_sec": 0.5,
                "retry_max_sec": 5,
                "verify_sec": 2,
            },
            "recording": {"chunk_duration_sec": chunk_sec, "bitrate": "24k"},
            "storage": {"spool_dir": str(spool)},
            "logging": {"level": "WARNING"},
            "healthcheck": {"enabled": False},
        }
    )


@dataclass(frozen=True)
class Progress:
    """Counts for one device, from the pipeline's own statuses."""

    chunks: int = 0
    chunks_done: int = 0
    chunks_rejected: int = 0
    dialogues: int = 0
    transcribed: int = 0
    asr_failed: int = 0
    analysed: int = 0  # DONE
    skipped: int = 0
    analysis_failed: int = 0
    owed: int = 0  # dialogues the ASR or analysis stage still owes work (backlog.owed)
    open_speech: int = 0  # speech segments assembly has not closed yet

    @property
    def chunks_settled(self) -> bool:
        return self.chunks_done + self.chunks_rejected == self.chunks

    @property
    def dialogues_settled(self) -> bool:
        return self.owed == 0

    def line(self) -> str:
        rejected = f" ({self.chunks_rejected} rejected)" if self.chunks_rejected else ""
        failed = self.asr_failed + self.analysis_failed
        failures = f" · failed {failed}" if failed else ""
        return (
            f"chunks {self.chunks_done + self.chunks_rejected}/{self.chunks}{rejected}"
            f" · dialogues {self.dialogues} · transcribed {self.transcribed}"
            f" · analysed {self.analysed + self.skipped}{failures}"
        )


_PROGRESS_SQL = sa.text(
    f"""
    SELECT
      (SELECT count(*) FROM audio_chunks WHERE device_id = :d) AS chunks,
      (SELECT count(*) FROM audio_chunks WHERE device_id = :d AND status = '{chunk.DONE}')
        AS chunks_done,
      (SELECT count(*) FROM audio_chunks WHERE device_id = :d AND status = '{chunk.REJECTED}')
        AS chunks_rejected,
      count(*) AS dialogues,
      count(*) FILTER (WHERE asr_status = '{asr.DONE}') AS transcribed,
      count(*) FILTER (WHERE asr_status = '{asr.FAILED}') AS asr_failed,
      count(*) FILTER (WHERE analysis_status = '{analysis.DONE}') AS analysed,
      count(*) FILTER (WHERE analysis_status = '{analysis.SKIPPED}') AS skipped,
      count(*) FILTER (WHERE analysis_status = '{analysis.FAILED}') AS analysis_failed
    FROM dialogues WHERE device_id = :d
    """
)


def progress(engine: sa.Engine, device_id: str) -> Progress:
    with engine.connect() as conn:
        row = conn.execute(_PROGRESS_SQL, {"d": device_id}).one()
        owed = backlog.owed(conn, device_id)
    return Progress(
        **row._asdict(), owed=owed["asr"] + owed["analyze"], open_speech=owed["assemble"]
    )


@dataclass(frozen=True)
class DialogueResult:
    """One dialogue the pipeline made, on the recording's time line."""

    dialogue_id: str
    start_s: float  # seconds from the start of the recording
    end_s: float
    asr_status: str
    analysis_status: str
    text: str | None
    is_sales_dialogue: bool | None
    attempted: bool | None
    accepted: bool | None
    quality_score: int | None
    offers: list[dict]
    analyzer: str | None
    latency_s: float | None  # the chunk holding its end uploaded -> its analysis stored
    receipt_number: int | None = None  # fiscalDocumentNumber of the receipt linked to it
    receipt_total: int | None = None  # kopecks
    receipt_check: list[dict] = field(default_factory=list)  # per offer: status, line, ...
    segments: list[dict] = field(default_factory=list)  # transcript segments, own times
    audio_sec: float | None = None  # of the dialogue's audio object

    def audio_origin_s(self) -> float:
        """Where the dialogue's audio object starts on the recording's time line: it is
        cut with the same padding before and after the speech (assembly.cut)."""
        span = self.end_s - self.start_s
        return self.start_s - max(0.0, ((self.audio_sec or span) - span) / 2)


_RESULTS_SQL = sa.text(
    """
    SELECT d.dialogue_id, d.start_ms, d.end_ms, d.asr_status, d.analysis_status, t.text,
           t.segments, t.audio_sec,
           a.is_sales_dialogue, a.attempted, a.accepted, a.quality_score, a.offers, a.analyzer,
           r.fiscal_document_number AS receipt_number, r.total_sum AS receipt_total,
           a.receipt_check,
           EXTRACT(EPOCH FROM a.created_at - (
               SELECT coalesce(c.uploaded_at, c.created_at) FROM audio_chunks c
               WHERE c.device_id = d.device_id AND c.started_at <= d.ended_at
               ORDER BY c.started_at DESC LIMIT 1
           )) AS latency_s
    FROM dialogues d
    LEFT JOIN dialogue_transcripts t ON t.dialogue_id = d.dialogue_id
    LEFT JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id
    LEFT JOIN receipts r ON r.dialogue_id = d.dialogue_id
    WHERE d.device_id = :d
    ORDER BY d.start_ms
    """
)


def results(engine: sa.Engine, device_id: str, origin: datetime) -> list[DialogueResult]:
    """Every dialogue of the device, with transcript and analysis where there are some."""
    origin_ms = origin.timestamp() * 1000
    with engine.connect() as conn:
        rows = conn.execute(_RESULTS_SQL, {"d": device_id}).all()
    return [
        DialogueResult(
            dialogue_id=str(r.dialogue_id),
            start_s=(r.start_ms - origin_ms) / 1000,
            end_s=(r.end_ms - origin_ms) / 1000,
            asr_status=r.asr_status,
            analysis_status=r.analysis_status,
            text=r.text,
            is_sales_dialogue=r.is_sales_dialogue,
            attempted=r.attempted,
            accepted=r.accepted,
            quality_score=r.quality_score,
            offers=list(r.offers or []),
            analyzer=r.analyzer,
            latency_s=float(r.latency_s) if r.latency_s is not None else None,
            receipt_number=r.receipt_number,
            receipt_total=r.receipt_total,
            receipt_check=list(r.receipt_check or []),
            segments=list(r.segments or []),
            audio_sec=r.audio_sec,
        )
        for r in rows
    ]


def wall_seconds(engine: sa.Engine, device_id: str) -> float | None:
    """First chunk uploaded -> last analysis stored, for the device."""
    with engine.connect() as conn:
        seconds = conn.execute(
            sa.text(
                "SELECT EXTRACT(EPOCH FROM "
                "(SELECT max(a.created_at) FROM dialogue_upsell_analysis a "
                " JOIN dialogues d ON d.dialogue_id = a.dialogue_id WHERE d.device_id = :d) - "
                "(SELECT min(coalesce(uploaded_at, created_at)) FROM audio_chunks "
                " WHERE device_id = :d))"
            ),
            {"d": device_id},
        ).scalar()
    return float(seconds) if seconds is not None else None  # EXTRACT gives a Decimal


@dataclass
class Run:
    """A finished (or timed-out) replay through a running stack."""

    stack: LocalStack
    device: Device
    engine: sa.Engine
    audio: Path
    audio_sec: float
    origin: datetime  # the recording's first sample on the device time line
    chunk_sec: float
    speed: float
    progress: Progress = field(default_factory=Progress)
    timed_out: bool = False
    elapsed_sec: float = 0.0

    @property
    def chunks_expected(self) -> int:
        return math.ceil(self.audio_sec / self.chunk_sec - 1e-6)

    def results(self) -> list[DialogueResult]:
        return results(self.engine, self.device.device_id, self.origin)

    def wall_seconds(self) -> float | None:
        return wall_seconds(self.engine, self.device.device_id)


class _Replay(threading.Thread):
    """recorder.replay.run in a thread, so progress can be shown while it plays."""

    def __init__(self, config: Any, audio: Path, speed: float, start: datetime) -> None:
        super().__init__(name="replay", daemon=True)
        self.args = (config, audio, speed, start)
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        from recorder import replay

        config, audio, speed, start = self.args
        try:
            self.result = replay.run(config, audio, speed=speed, start=start, timeout=3600)
        except BaseException as exc:  # reported by the waiting thread
            self.error = exc


def receipt_json(receipt: Any, number: int, origin: datetime) -> dict[str, Any]:
    """A truth receipt (at, items, total) as the POS sends it: the tax service's JSON."""
    return {
        "dateTime": (origin + timedelta(seconds=receipt.at)).isoformat(),
        "kktRegId": KKT,
        "fiscalDocumentNumber": number,
        "totalSum": receipt.total,
        "items": list(receipt.items),
        "operator": "Кассир 1",
    }


class _Receipts(threading.Thread):
    """Posts each receipt when the replay reaches its time (number = its index + 1)."""

    def __init__(self, client: AdminClient, token: str, run: Run, receipts: Any) -> None:
        super().__init__(name="receipts", daemon=True)
        self.client, self.token, self.run_, self.receipts = client, token, run, receipts
        self.started = time.monotonic()
        self.posted = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        order = sorted(range(len(self.receipts)), key=lambda i: self.receipts[i].at)
        try:
            for i in order:
                if self.run_.speed > 0:
                    due = self.started + self.receipts[i].at / self.run_.speed
                    time.sleep(max(0.0, due - time.monotonic()))
                body = receipt_json(self.receipts[i], i + 1, self.run_.origin)
                self.client.post_receipts(self.token, [body])
                self.posted += 1
        except BaseException as exc:  # reported by the waiting thread
            self.error = exc


@contextlib.contextmanager
def _recorder_log(path: Path) -> Iterator[None]:
    """The recorder's log lines go to a file of the stack's logs, not the console."""
    logger = logging.getLogger("recorder")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def wait_processed(
    run: Run,
    replay: _Replay,
    timeout: float,
    on_progress: Echo,
    started: float,
    receipts: _Receipts | None = None,
) -> None:
    """Poll until chunks and dialogues are all settled (and stay so) or `timeout`."""
    last: Progress | None = None
    stable_since = time.monotonic()
    while True:
        run.stack.check_alive()
        if replay.error is not None:
            raise PipelineError(f"the recorder's replay failed: {replay.error}")
        if receipts is not None and receipts.error is not None:
            raise PipelineError(f"posting the receipts failed: {receipts.error}")
        now = progress(run.engine, run.device.device_id)
        if now != last:
            on_progress(f"[{time.monotonic() - started:5.0f} s] {now.line()}")
            last, stable_since = now, time.monotonic()
        run.progress = now
        replayed = not replay.is_alive() and replay.result is not None
        settled = (
            replayed
            and (receipts is None or not receipts.is_alive())
            and now.chunks >= replay.result.chunks_recorded
            and now.chunks_settled
            and now.dialogues_settled
        )
        quiet_for = time.monotonic() - stable_since
        if settled and quiet_for >= (SETTLE_SEC if not now.open_speech else OPEN_SPEECH_GRACE_SEC):
            return
        if time.monotonic() - started > timeout:
            run.timed_out = True
            return
        time.sleep(POLL_SEC)


@contextlib.contextmanager
def pipeline(
    audio: Path,
    workdir: Path | None = None,
    speed: float = 10.0,
    chunk_sec: float = CHUNK_SEC,
    timeout: float = 900.0,
    port: int = 0,
    echo: Echo = print,
    point_name: str = "Демо-магазин",
    packaged: bool = False,
    receipts: tuple[Any, ...] = (),
) -> Iterator[Run]:
    """Start the stack (`packaged`: every deployable from what deploys, in its own venv),
    replay `audio` and post its `receipts` (truth receipts: at, items, total) when each is
    printed, wait for the pipeline; the stack runs until exit."""
    missing = missing_stages()
    if missing:
        raise PrerequisiteError(
            "the pipeline is not complete in this checkout: " + "; ".join(missing)
        )
    audio = Path(audio)
    try:
        info = sf.info(audio)
    except RuntimeError as exc:  # soundfile's LibsndfileError, also for a missing file
        raise PipelineError(f"cannot read {audio} as audio: {exc}") from None
    audio_sec = info.frames / info.samplerate
    with contextlib.ExitStack() as cleanup:
        if workdir is None:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="sc-run-")))
        # wipes workdir first
        stack = LocalStack(workdir, ingest_port=port, echo=echo, packaged=packaged)
        cleanup.callback(stack.stop)
        echo("starting the local stack ...")
        stack.start()
        engine = sa.create_engine(stack.env["DATABASE_URL"], poolclass=sa.pool.NullPool)
        cleanup.callback(engine.dispose)
        device = register_device(stack.url("ingest"), stack.admin_token, point_name)
        # The whole recording lies in the recent past: the ingest API refuses chunks
        # from the future, and at `speed` the last one is cut long before its wall time.
        origin = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=audio_sec + 60)
        run = Run(stack, device, engine, audio, audio_sec, origin, chunk_sec, speed)
        config = recorder_config(device, stack.url("ingest"), workdir / "spool", chunk_sec)
        pace = f"at {speed:g}x real time" if speed else "as fast as it encodes"
        echo(
            f"replaying {audio.name} ({audio_sec / 60:.1f} min, {run.chunks_expected} chunks "
            f"of {chunk_sec:g} s) {pace} as device {device.device_id}"
        )
        started = time.monotonic()
        with _recorder_log(workdir / "logs" / "recorder.log"):
            replay = _Replay(config, audio, speed, origin)
            poster = None
            if receipts:
                client = AdminClient(stack.url("ingest"), stack.admin_token)
                token = client.receipts_token(device.point_id)
                poster = _Receipts(client, token, run, receipts)
                echo(f"posting {len(receipts)} receipts as they are printed (ККТ {KKT})")
            replay.start()
            if poster is not None:
                poster.start()
            wait_processed(run, replay, timeout, echo, started, poster)
        run.elapsed_sec = time.monotonic() - started
        yield run
