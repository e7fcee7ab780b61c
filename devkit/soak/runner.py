"""The load run: N simulated devices replay recordings into a local stack, with faults.

`run(Options(...))` prepares the input (`inputs`: devices and recordings from the seed),
and with `faults` first plays it through a fault-free stack, the reference. Then the
measured run: a fresh LocalStack, the devices registered through the admin API, each
replaying its recording through the recorder's own code (`recorder.replay`, faster than
real time, behind a FaultProxy standing for its network), the bad chunks of `badaudio`,
and, with `faults`, every push delivered twice, every ASR request published twice, one
device recording offline and draining its backlog in random order, and faults injected
at random moments until the pipeline has drained. CPU/memory of every component and the
backlog per stage are sampled; at the end the invariants are checked, among them that
the dialogues, transcripts and analyses equal the reference's.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from google.cloud import pubsub_v1, storage

from devkit.local.stack import LocalStack, _env
from devkit.soak import badaudio, burst, canonical, devices, faults, fuzz, inputs, measure

PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "not_applicable"


@dataclass(frozen=True)
class Options:
    devices: int = 20
    minutes: float = 30.0
    faults: bool = False
    bad_chunks: int = 6
    chunk_sec: float = 60.0
    speed: float = (
        60.0  # chunks released to each device at this multiple of real time; 0: all at once
    )
    outage_sec: float = 180.0  # longest device network outage (below SWEEP_DELAY_SEC)
    seed: int = 0
    timeout_sec: float = 3600.0
    fuzz_examples: int = 0  # after the run: property-based requests against the ingest API
    workdir: Path | None = None


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""


@dataclass
class Report:
    options: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    components: dict[str, dict[str, float]] = field(default_factory=dict)
    backlog_peak: dict[str, int] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)  # the fault-free run's figures
    bad_inputs: list[dict[str, Any]] = field(default_factory=list)  # each bad chunk's fate

    @property
    def ok(self) -> bool:
        return all(c.status != FAILED for c in self.checks)

    def check(self, name: str, holds: bool | None, detail: str = "") -> None:
        status = NOT_APPLICABLE if holds is None else PASSED if holds else FAILED
        self.checks.append(Check(name, status, detail))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The soak options, shared by `python -m salescontrol soak` and bench_soak.py."""
    parser.add_argument("--devices", type=int, default=Options.devices)
    parser.add_argument("--minutes", type=float, default=Options.minutes, help="audio per device")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="inject faults, duplicate every message, and compare with a fault-free run",
    )
    parser.add_argument("--bad-chunks", type=int, default=Options.bad_chunks)
    parser.add_argument("--chunk-sec", type=float, default=Options.chunk_sec)
    parser.add_argument(
        "--speed",
        type=float,
        default=Options.speed,
        help="multiple of real time at which each device's chunks come (0: all at once)",
    )
    parser.add_argument(
        "--outage-sec", type=float, default=Options.outage_sec, help="longest network outage"
    )
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--timeout-sec", type=float, default=Options.timeout_sec)
    parser.add_argument("--fuzz-examples", type=int, default=Options.fuzz_examples)
    parser.add_argument("--workdir", type=Path, default=None)


def options_from(args: argparse.Namespace) -> Options:
    names = Options.__dataclass_fields__
    return Options(**{k: v for k, v in vars(args).items() if k in names})


@dataclass(frozen=True)
class Input:
    """What both runs replay: devices, their chunks, the time line, the bad device."""

    devices: list[inputs.Device]
    chunks: dict[str, list[Path]]  # device id -> its recording's encoded chunks
    dialogues_laid: int
    start: datetime  # where every device's recording begins
    bad_device: inputs.Device
    encode_sec: float


def prepare(options: Options, workdir: Path, echo: Callable[[str], None]) -> Input:
    """Devices from the seed; a few distinct recordings, each encoded into chunks once by
    the recorder and shared round-robin by the devices."""
    everyone = inputs.devices(options.devices + 1, options.seed)
    kinds = min(options.devices, inputs.RECORDINGS)
    # The time line ends an hour ago: nothing lies in the future, and the bad chunks fit
    # before the recordings.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=options.minutes + 60)
    began = time.monotonic()
    recorded: dict[int, tuple[list[Path], int]] = {}

    def make(k: int) -> None:
        folder = workdir / "recordings" / str(k)
        folder.mkdir(parents=True, exist_ok=True)
        path, laid = inputs.recording(folder / "shop.flac", options.minutes, options.seed * 100 + k)
        chunks = devices.encode(path, folder, start, options.chunk_sec, options.timeout_sec)
        recorded[k] = (chunks, laid)

    threads = [threading.Thread(target=make, args=(k,)) for k in range(kinds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(recorded) != kinds:
        raise RuntimeError("encoding a recording failed; see the lines above")
    chunks = {d.device_id: recorded[d.index % kinds][0] for d in everyone[:-1]}
    laid = sum(recorded[d.index % kinds][1] for d in everyone[:-1])
    encode_sec = time.monotonic() - began
    echo(
        f"soak: {kinds} recordings of {options.minutes} min encoded by the recorder in "
        f"{encode_sec:.0f} s; {options.devices} devices, {laid} dialogues laid"
    )
    return Input(everyone[:-1], chunks, laid, start, everyone[-1], round(encode_sec, 1))


class Run:
    """One run of the input on a fresh stack; `execute()` returns its Report."""

    def __init__(
        self,
        options: Options,
        given: Input,
        workdir: Path,
        with_faults: bool,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.options, self.input, self.with_faults, self.echo = options, given, with_faults, echo
        self.rng = random.Random(options.seed)
        self.report = Report(options={k: str(v) for k, v in asdict(options).items()})
        self.workdir = workdir
        self.stack = LocalStack(self.workdir / "stack", ingest_port=0, echo=lambda line: None)
        self.tokens: dict[str, str] = {}
        self.networks: dict[str, faults.FaultProxy] = {}
        self.results: dict[str, Any] = {}
        self.bad: list[tuple[badaudio.BadChunk, str, int, dict]] = []
        self.push_proxies: dict[str, faults.FaultProxy] = {}
        self.dump: canonical.Dump = {}
        self._background: list[threading.Thread] = []
        self.replayed_at: dict[str, float] = {}  # device id -> when its chunks were all up
        # With faults, device 0 is offline, then sends its whole backlog in random order.
        self.offline = given.devices[0].device_id if with_faults else None

    # --- phases -----------------------------------------------------------------------

    def execute(self) -> Report:
        self.echo(f"soak: starting a local stack in {self.stack.workdir}")
        # Twenty agents logging every retry during outages would drown the run's own lines,
        # and so would the pool's tracebacks for connections cut by a Postgres restart.
        logging.getLogger("recorder").setLevel(logging.ERROR)
        logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
        self.stack.start()
        try:
            with _env(self.stack.env):
                self._run()
        finally:
            for proxy in [*self.networks.values(), *self.push_proxies.values()]:
                proxy.close()
            self.stack.stop()
        return self.report

    def _run(self) -> None:
        engine = sa.create_engine(self.stack.env["DATABASE_URL"], pool_pre_ping=True)
        began = time.monotonic()
        for device in [*self.input.devices, self.input.bad_device]:
            self._register(device)
        self.report.figures["encode_sec"] = self.input.encode_sec
        self.report.figures["registration_per_sec"] = round(
            len(self.tokens) / (time.monotonic() - began), 1
        )
        duplicator = self._duplicate_everything() if self.with_faults else None
        sampler = measure.Sampler(self.stack, engine)
        sampler.start()
        began = time.monotonic()
        threads = [
            threading.Thread(target=self._replay, args=(d,), daemon=True)
            for d in self.input.devices
        ]
        threads.append(threading.Thread(target=self._send_bad_chunks, daemon=True))
        for thread in threads:
            thread.start()
        busy = self._busy(engine, threads, began)
        if self.with_faults:
            # In this thread: restarted children die with the thread that spawned them
            # (PR_SET_PDEATHSIG), so the main thread, which outlives the run, spawns them.
            self._inject_faults(busy)
        deadline = began + self.options.timeout_sec
        while (still_busy := busy()) and time.monotonic() < deadline:
            time.sleep(1)
        drained_sec = time.monotonic() - began
        self.report.check(
            "the pipeline drained before the timeout",
            not still_busy,
            f"{drained_sec:.0f} s of {self.options.timeout_sec:.0f} s",
        )
        for thread in threads:
            thread.join()
        replay_sec = max(self.replayed_at.values(), default=began) - began
        for thread in self._background:
            thread.join()
        sampler.stop()
        if duplicator:
            self.report.faults.append(self._duplicates_summary(duplicator))
            duplicator.close()
        self._figures(engine, replay_sec, drained_sec)
        self.report.components = sampler.components()
        self.report.backlog_peak = sampler.backlog_peak
        self.dump = canonical.dump(engine)
        self._invariants(engine)
        if self.with_faults:
            self._ingest_capacity()
            if self.options.fuzz_examples:
                self._fuzz(engine, self.options.fuzz_examples)
        engine.dispose()

    def _busy(
        self, engine: sa.Engine, threads: list[threading.Thread], began: float
    ) -> Callable[[], bool]:
        """Whether devices are still replaying or the pipeline still has work; says how
        things stand every 30 s."""
        last = [0.0]

        def busy() -> bool:
            try:
                waiting = measure.backlog(engine)
                owed = measure.unsettled(engine)
            except sa.exc.DBAPIError:
                return True  # Postgres restarting
            replaying = sum(t.is_alive() for t in threads)
            if time.monotonic() - last[0] >= 30:
                last[0] = time.monotonic()
                counts = ", ".join(f"{k.split()[0]} {v}" for k, v in waiting.items())
                self.echo(
                    f"soak: {time.monotonic() - began:.0f} s, {replaying} devices replaying; "
                    f"waiting: {counts}"
                )
            return bool(replaying or owed)

        return busy

    def _duplicate_everything(self) -> faults.Duplicator:
        """Every push goes through a proxy that delivers it twice; every ASR request is
        published twice."""
        for sub in self.stack.topology.subscriptions:
            target = self.stack.topology.push_target(sub)
            if target is None:
                continue
            proxy = faults.FaultProxy(self.stack.url(target.name), faults.DUPLICATE)
            self.push_proxies[sub] = proxy
            faults.point_push(self.stack, sub, proxy.url + "/")
        return faults.Duplicator(self.stack, self.stack.topology.subscriptions["asr"].topic)

    def _duplicates_summary(self, duplicator: faults.Duplicator) -> dict[str, Any]:
        counts = {sub: dict(p.counts) for sub, p in self.push_proxies.items()}
        return asdict(
            faults.Fault(
                "duplicate_delivery",
                "every push subscription and asr-requests",
                0.0,
                None,
                {"pushes": counts, "asr_requests_copied": duplicator.copies},
            )
        )

    def _ingest_capacity(self, seconds: float = 10.0) -> None:
        tokens = [self.tokens[d.device_id] for d in self.input.devices]
        figure = burst.upload_url_burst(self.stack.url("ingest"), tokens, seconds)
        self.report.figures["upload_url_burst"] = figure
        statuses = figure["by_status"]
        self.report.check(
            "upload-URL burst: no 5xx", all(code < 500 for code in statuses), str(statuses)
        )

    def _fuzz(self, engine: sa.Engine, examples: int) -> None:
        victim = self.input.devices[0]
        attacker = inputs.devices(1, self.options.seed + 1)[0]
        self._register(attacker)
        with engine.connect() as conn:
            chunk_ids = [
                str(c)
                for c in conn.execute(
                    sa.text("SELECT chunk_id FROM audio_chunks WHERE device_id = :d LIMIT 5"),
                    {"d": victim.device_id},
                ).scalars()
            ] or [str(uuid.uuid4())]
        began = time.monotonic()
        try:
            result = fuzz.run(
                self.stack.url("ingest"),
                self.stack.admin_token,
                self.tokens[attacker.device_id],
                fuzz.Victim(victim.device_id, self.tokens[victim.device_id], chunk_ids),
                examples,
            )
        except fuzz.FuzzFailure as exc:
            self.report.check("fuzzing: no 5xx, no leak", False, str(exc)[:500])
            return
        self.report.check("fuzzing: no 5xx, no leak", True, f"{result.examples} requests")
        self.report.figures["fuzz_examples"] = result.examples
        self.report.figures["fuzz_by_status"] = dict(sorted(result.by_status.items()))
        self.report.figures["fuzz_requests_per_sec"] = round(
            result.examples / (time.monotonic() - began), 1
        )

    def _register(self, device: inputs.Device) -> None:
        answer = requests.post(
            self.stack.url("ingest") + "/api/v1/admin/devices",
            json=device.identity(),
            headers={"Authorization": f"Bearer {self.stack.admin_token}"},
            timeout=30,
        )
        answer.raise_for_status()
        self.tokens[device.device_id] = answer.json()["token"]

    def _replay(self, device: inputs.Device) -> None:
        """One device: its chunks go up live, or, for the offline one, after an outage
        and in random order."""
        network = faults.FaultProxy(self.stack.url("ingest"))
        self.networks[device.device_id] = network
        root = self.workdir / "devices" / str(device.index)
        settings = devices.config(
            root,
            device.device_id,
            device.identity(),
            network.url,
            self.tokens[device.device_id],
            self.options.chunk_sec,
        )
        staged = devices.stage(
            self.input.chunks[device.device_id], device.device_id, root / "staged"
        )
        timeout = self.options.timeout_sec
        if device.device_id != self.offline:
            result = devices.upload_live(settings, staged, self.options.speed, timeout)
        else:
            outage = self.rng.uniform(self.options.outage_sec / 3, self.options.outage_sec)
            at = time.time()
            time.sleep(outage)
            began = time.monotonic()
            result = devices.upload_shuffled(settings, staged, self.options.seed, timeout)
            fault = faults.Fault(
                "offline_backlog",
                device.device_id,
                at,
                time.monotonic() - began,
                {"outage_sec": round(outage, 1), "chunks_in_random_order": len(staged)},
            )
            self.report.faults.append(asdict(fault))
        self.results[device.device_id] = result
        self.replayed_at[device.device_id] = time.monotonic()

    def _send_bad_chunks(self) -> None:
        """Bad chunks on purpose, announced and uploaded by one more device."""
        device = self.input.bad_device
        self.bad = badaudio.send(
            self.stack.url("ingest"),
            self.tokens[device.device_id],
            badaudio.mix(self.options.bad_chunks, self.options.seed),
            self.input.start - timedelta(minutes=self.options.bad_chunks + 5),
        )

    # --- faults -------------------------------------------------------------------------

    def _inject_faults(self, busy: Callable[[], bool]) -> None:
        """Each kind of fault at random moments, in turn, until the pipeline has drained
        and every kind has happened at least once. A network outage comes first, while
        the devices are still recording."""
        kinds: dict[str, Callable[[], faults.Fault | None]] = {
            **{
                f"sigkill {f}": lambda f=f: faults.kill_process(self.stack, f)
                for f in self._functions()
            },
            "sigterm asr": lambda: faults.preempt(self.stack, "asr"),
            "postgres restart": lambda: faults.restart_postgres(self.stack),
            "push 500": self._push_errors,
        }
        self._network_down()
        injected: set[str] = set()
        names = sorted(kinds)
        deadline = time.monotonic() + self.options.timeout_sec
        while (busy() or injected != set(names)) and time.monotonic() < deadline:
            self.rng.shuffle(names)
            for name in names:
                time.sleep(self.rng.uniform(1, 5))
                fault = kinds[name]()
                injected.add(name)
                if fault is None:
                    continue
                self.echo(
                    f"soak: fault {fault.kind} on {fault.target[:12]}, "
                    f"recovered in {fault.recovery_sec or 0:.1f} s"
                )
                self.report.faults.append(asdict(fault))
                if self.rng.random() < 0.3:
                    self._network_down()

    def _functions(self) -> list[str]:
        # The sweeper is a timer's target, not on the data path.
        return [f for f in self.stack.topology.functions if f != "sweeper"]

    def _push_errors(self) -> faults.Fault:
        sub = self.rng.choice(sorted(self.push_proxies))
        proxy = self.push_proxies[sub]
        seconds = self.rng.uniform(3, 10)
        at = time.time()
        before = dict(proxy.counts)
        proxy.mode = faults.ERROR
        time.sleep(seconds)
        proxy.mode = faults.DUPLICATE
        answered = proxy.counts.get(faults.ERROR, 0) - before.get(faults.ERROR, 0)
        # Recovered: the first redelivery that reaches the function after the window.
        ok_before = _forwarded_ok(proxy.counts)
        began = time.monotonic()
        while (
            answered and _forwarded_ok(proxy.counts) == ok_before and time.monotonic() - began < 120
        ):
            time.sleep(0.1)
        return faults.Fault(
            "push_500", sub, at, seconds + time.monotonic() - began, {"answered_500": answered}
        )

    def _network_down(self) -> faults.Fault | None:
        """A live device loses its network for a while (in the background: minutes)."""
        live = [
            d
            for d in self.input.devices
            if d.device_id != self.offline
            and d.device_id in self.networks
            and d.device_id not in self.replayed_at  # still replaying
            and self.networks[d.device_id].mode == faults.PASS
        ]
        if not live:
            return None
        device = self.rng.choice(live)
        seconds = self.rng.uniform(self.options.outage_sec / 3, self.options.outage_sec)
        thread = threading.Thread(
            target=self._outage, args=(device, seconds), name="outage", daemon=True
        )
        self._background.append(thread)
        thread.start()
        return None  # reported by _outage when the device has caught up

    def _outage(self, device: inputs.Device, seconds: float) -> None:
        from recorder.spool import Spool

        network = self.networks[device.device_id]
        spool = Spool(self.workdir / "devices" / str(device.index) / "spool")
        at = time.time()
        network.mode = faults.DOWN
        time.sleep(seconds)
        backlog_files = len(spool.pending())
        network.mode = faults.PASS
        began = time.monotonic()
        while spool.pending() and time.monotonic() - began < self.options.timeout_sec:
            time.sleep(0.5)
        self.echo(f"soak: network of device {device.index} was down {seconds:.0f} s")
        self.report.faults.append(
            asdict(
                faults.Fault(
                    "network_down",
                    device.device_id,
                    at,
                    time.monotonic() - began,
                    {"down_sec": round(seconds, 1), "backlog_chunks": backlog_files},
                )
            )
        )

    # --- results ------------------------------------------------------------------------

    def _figures(self, engine: sa.Engine, replay_sec: float, drained_sec: float) -> None:
        with engine.connect() as conn:
            upload = [
                float(x)
                for x in conn.execute(
                    sa.text(
                        "SELECT EXTRACT(EPOCH FROM uploaded_at - created_at) FROM audio_chunks "
                        "WHERE uploaded_at IS NOT NULL"
                    )
                ).scalars()
            ]
            e2e = [float(x) for x in conn.execute(measure.LATENCY_SQL).scalars() if x is not None]
            totals = conn.execute(measure.TOTALS_SQL).one()
        uploaded = sum(r.uploaded for r in self.results.values())
        requests_total = sum(
            v
            for network in self.networks.values()
            for k, v in network.counts.items()
            if k.startswith("forwarded_")
        )
        figures = self.report.figures
        figures["replay_sec"] = round(replay_sec, 1)
        figures["drained_sec"] = round(drained_sec, 1)
        figures["chunks_uploaded"] = uploaded
        figures["chunks_per_sec_accepted"] = round(uploaded / replay_sec, 2)
        figures["chunks_processed"] = totals.processed
        figures["chunks_per_sec_processed"] = round(totals.processed / drained_sec, 2)
        figures["dialogues_laid"] = self.input.dialogues_laid
        figures["dialogues"] = totals.dialogues
        figures["dialogues_analysed"] = totals.analysed
        figures["dialogues_per_sec"] = round(totals.analysed / drained_sec, 3)
        figures["ingest_requests"] = requests_total
        figures["ingest_requests_per_sec"] = round(requests_total / replay_sec, 2)
        figures["audio_minutes_per_wall_minute"] = round(
            self.options.devices * self.options.minutes / (drained_sec / 60), 1
        )
        figures["announce_to_upload_sec"] = measure.percentiles(upload, 2)
        figures["e2e_latency_sec"] = measure.percentiles(e2e, 1)

    def _invariants(self, engine: sa.Engine) -> None:
        report = self.report
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT device_id::text AS device, chunk_id, object_name, status, error, "
                    "started_at FROM audio_chunks"
                )
            ).all()
            dialogues = conn.execute(
                sa.text(
                    "SELECT dialogue_id, audio_object, asr_status, analysis_status FROM dialogues"
                )
            ).all()
        by_device: dict[str, list] = {}
        for row in rows:
            by_device.setdefault(row.device, []).append(row)
        lost = []
        for device in self.input.devices:
            result = self.results.get(device.device_id)
            mine = by_device.get(device.device_id, [])
            if (
                result is None
                or not result.drained
                or result.moved_to_failed
                or result.uploaded != result.chunks_recorded
                or len(mine) != result.chunks_recorded
            ):
                summary = result and {k: v for k, v in asdict(result).items() if k != "health"}
                lost.append(f"device {device.index}: {summary}, rows {len(mine)}")
        report.check(
            "every chunk a device made was announced and uploaded", not lost, "; ".join(lost[:5])
        )
        twice = len(rows) - len({(r.device, r.started_at) for r in rows})
        report.check("no chunk recorded twice", twice == 0, f"{twice} duplicates")
        final = [
            f"{r.chunk_id} {r.status}"
            for r in rows
            if r.status not in ("DONE", "REJECTED") and not self._bad_refused(r.chunk_id)
        ]
        unexplained = [r.chunk_id for r in rows if r.status == "REJECTED" and not r.error]
        report.check(
            "every chunk DONE or REJECTED with a reason",
            not final and not unexplained,
            f"not final: {final[:5]}; rejected without reason: {unexplained[:5]}",
        )
        good_rejected = [
            f"{r.chunk_id}: {r.error}"
            for r in rows
            if r.device != self.input.bad_device.device_id and r.status != "DONE"
        ]
        report.check("every good chunk DONE", not good_rejected, str(good_rejected[:5]))
        report.check("each bad chunk REJECTED/refused as expected", *self._bad_outcomes(rows))
        with storage.Client() as client:
            bucket = client.bucket(self.stack.bucket)
            names = {b.name for b in bucket.list_blobs(prefix="chunks/")}
            names |= {b.name for b in bucket.list_blobs(prefix="dialogues/")}
        missing = [
            r.object_name
            for r in rows
            if r.status != "AWAITING_UPLOAD" and r.object_name not in names
        ]
        report.check("every uploaded chunk's object exists", not missing, str(missing[:5]))
        no_audio = [str(d.dialogue_id) for d in dialogues if d.audio_object not in names]
        report.check("every dialogue's audio object exists", not no_audio, str(no_audio[:5]))
        unfinished = [
            f"{d.dialogue_id} asr {d.asr_status} analysis {d.analysis_status}"
            for d in dialogues
            if d.asr_status != "DONE" or d.analysis_status not in ("DONE", "SKIPPED")
        ]
        report.check(
            "every dialogue transcribed and analysed",
            bool(dialogues) and not unfinished,
            f"{len(dialogues)} dialogues; {unfinished[:5]}",
        )
        dead = self._dead_letters()
        report.check("dead-letter topics empty (except bad on purpose)", not dead, str(dead))
        report.check("every component still running", self._alive())

    def _bad_refused(self, chunk_id: Any) -> bool:
        return any(cid == str(chunk_id) for _, cid, status, _ in self.bad if status >= 400)

    def _bad_outcomes(self, rows: list) -> tuple[bool | None, str]:
        status = {str(r.chunk_id): (r.status, r.error) for r in rows}
        for chunk, cid, code, payload in self.bad:
            seen = status.get(cid, (badaudio.REFUSED, f"{code} {payload.get('field')}"))
            field_named = payload.get("field") == chunk.expected.field
            ok = chunk.expected.matches(*seen) and (
                chunk.expected.status != badaudio.REFUSED or field_named
            )
            self.report.bad_inputs.append(
                {
                    "kind": chunk.kind,
                    "expected": chunk.expected.status,
                    "outcome": seen[0],
                    "reason": seen[1] or "",
                    "as_expected": ok,
                }
            )
        outcomes = self.report.bad_inputs
        detail = "; ".join(f"{b['kind']}: {b['outcome']} ({b['reason'][:60]})" for b in outcomes)
        return (all(b["as_expected"] for b in outcomes) if outcomes else None), detail

    def _dead_letters(self) -> dict[str, int]:
        client = pubsub_v1.SubscriberClient()
        found = {}
        for sub in self.stack.topology.subscriptions.values():
            path = client.subscription_path(self.stack.project, sub.dead_letter_topic)
            answer = client.pull(subscription=path, max_messages=100, timeout=5)
            if answer.received_messages:
                found[sub.dead_letter_topic] = len(answer.received_messages)
        client.close()
        return found

    def _alive(self) -> bool:
        try:
            self.stack.check_alive()
            return True
        except Exception:
            return False


def _forwarded_ok(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k.startswith("forwarded_2"))


def run(options: Options, echo: Callable[[str], None] = print) -> Report:
    """Run the load test described by `options` and return its report.

    With faults the input is first played through a fault-free stack; the run with
    faults must end with the same dialogues, transcripts and analyses."""
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="salescontrol-soak-"))
    given = prepare(options, workdir, echo)
    reference = None
    if options.faults:
        echo("soak: the fault-free reference run")
        reference = Run(options, given, workdir / "reference", False, echo)
        reference.execute()
        echo("soak: the run with faults")
    measured = Run(options, given, workdir / "run", options.faults, echo)
    report = measured.execute()
    if reference is None:
        report.check(
            "dialogues, transcripts, analyses equal to a fault-free run",
            None,
            "this run is the fault-free one (--faults compares a faulted run with it)",
        )
    else:
        report.reference = {
            "figures": reference.report.figures,
            "checks_failed": [asdict(c) for c in reference.report.checks if c.status == FAILED],
        }
        report.check(
            "the fault-free reference run's invariants hold",
            reference.report.ok,
            str(report.reference["checks_failed"])[:300],
        )
        diff = canonical.differences(reference.dump, measured.dump)
        report.check(
            "dialogues, transcripts, analyses equal to a fault-free run",
            bool(reference.dump.get("dialogues")) and not diff,
            "; ".join(diff) or f"rows: {canonical.size(measured.dump)}",
        )
    return report


__all__ = ["Options", "Report", "add_arguments", "options_from", "run"]
