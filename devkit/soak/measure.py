"""What the load run measures while it runs and after: CPU/memory per component, work
waiting per stage, latency and totals, all read from the processes and the statuses."""

from __future__ import annotations

import statistics
import threading

import psutil
import sqlalchemy as sa

from devkit.evaluation import percentile
from devkit.local.stack import LocalStack
from salescontrol import backlog as pipeline_backlog
from salescontrol.chunks import ChunkStatus
from salescontrol.dialogues import AnalysisStatus


class Sampler:
    """CPU and memory per stack component, and the backlog per stage, once a second."""

    def __init__(self, stack: LocalStack, engine: sa.Engine) -> None:
        self.stack, self.engine = stack, engine
        self.cpu: dict[str, list[float]] = {}
        self.rss: dict[str, list[float]] = {}
        self.backlog_peak: dict[str, int] = {}
        self.missed = 0
        self._stop = threading.Event()
        self._procs: dict[int, psutil.Process] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _proc(self, pid: int) -> psutil.Process:
        # Keep Process objects: cpu_percent() measures since the previous call on it.
        if pid not in self._procs:
            self._procs[pid] = psutil.Process(pid)
        return self._procs[pid]

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            for service in list(self.stack.services):
                try:
                    root = self._proc(service.proc.pid)
                    tree = [root, *root.children(recursive=True)]
                    cpu = sum(self._proc(p.pid).cpu_percent() for p in tree)
                    rss = sum(p.memory_info().rss for p in tree) / 2**20
                except psutil.Error:
                    continue  # restarted by a fault just now
                self.cpu.setdefault(service.name, []).append(cpu)
                self.rss.setdefault(service.name, []).append(rss)
            try:
                for stage, count in backlog(self.engine).items():
                    self.backlog_peak[stage] = max(self.backlog_peak.get(stage, 0), count)
            except Exception:  # Postgres is being restarted: sample on
                self.missed += 1

    def components(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "cpu_mean_pct": round(statistics.fmean(self.cpu[name]), 1),
                "cpu_peak_pct": round(max(self.cpu[name]), 1),
                "rss_peak_mib": round(max(self.rss[name]), 1),
            }
            for name in self.cpu
        }


# Work waiting per subscription, read from the statuses (the emulator has no backlog
# metric) by salescontrol.backlog, the definition the sweeper and the dashboard use. Open
# speech waits for the next chunk's evidence, so "assemble" is never 0 while a device is
# mid-dialogue.
BACKLOG_NAMES = {
    "vad": "vad (chunks uploaded, not processed)",
    "assemble": "assemble (speech segments not yet in a dialogue)",
    "asr": "asr (dialogues not transcribed)",
    "analyze": "analyze (transcribed, not analysed)",
}


def backlog(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        owed = pipeline_backlog.owed(conn)
    return {BACKLOG_NAMES[k]: v for k, v in owed.items()}


# Per dialogue: the upload of the chunk holding its end -> its analysis stored.
LATENCY_SQL = sa.text(
    """
    SELECT EXTRACT(EPOCH FROM a.created_at - (
        SELECT coalesce(c.uploaded_at, c.created_at) FROM audio_chunks c
        WHERE c.device_id = d.device_id AND c.started_at <= d.ended_at
        ORDER BY c.started_at DESC LIMIT 1))
    FROM dialogues d JOIN dialogue_upsell_analysis a USING (dialogue_id)
    """
)
TOTALS_SQL = sa.text(
    f"""
    SELECT
      (SELECT count(*) FROM audio_chunks
         WHERE status IN ('{ChunkStatus.DONE}', '{ChunkStatus.REJECTED}')) AS processed,
      (SELECT count(*) FROM dialogues) AS dialogues,
      (SELECT count(*) FROM dialogues
         WHERE analysis_status IN ('{AnalysisStatus.DONE}', '{AnalysisStatus.SKIPPED}'))
        AS analysed
    """
)


def unsettled(engine: sa.Engine) -> int:
    """Work the pipeline still owes: chunks, open speech, dialogues not analysed."""
    with engine.connect() as conn:
        return sum(pipeline_backlog.owed(conn).values())


def percentiles(values: list[float], digits: int) -> dict[str, float | None]:
    def cut(q: float) -> float | None:
        value = percentile(values, q)
        return None if value is None else round(value, digits)

    return {"p50": cut(50), "p95": cut(95), "p99": cut(99), "n": len(values)}
