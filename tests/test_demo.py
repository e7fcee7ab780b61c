"""`python -m salescontrol demo` end to end: the bundled recording through the real pipeline.

The demo starts its own local stack (every function and the ASR worker), replays
demo/shop_morning.ogg through the recorder agent, waits for the analyses, prints the
summary and keeps the stack up; the test then reads the stack's database, stops the demo
with Ctrl-C and checks that it leaves nothing running.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from devkit import demo
from devkit.evaluation import FoundDialogue, load_truth, score
from devkit.paths import DEMO_TRUTH
from salescontrol import config

REPO = Path(__file__).resolve().parent.parent
READY = "The stack stays up"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.emulator,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (REPO / "functions/vad/main.py").exists() or not (REPO / "asr_service").exists(),
        reason="needs the vad/assemble functions and the ASR worker (issues 4 and 5)",
    ),
]


class Output:
    """A child's stdout, collected by a thread, searchable while it runs."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._proc = proc
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        self._thread.join(10)
        self._proc.stdout.close()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if proc.poll() is not None:
                self._thread.join(5)
                if needle in self.text:
                    return
                raise AssertionError(f"demo exited with {proc.returncode}:\n{self.text[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} after {timeout} s:\n{self.text[-4000:]}")
            time.sleep(0.5)


def _env_file(path: Path) -> dict[str, str]:
    pairs = (shlex.split(line)[1].split("=", 1) for line in path.read_text().splitlines() if line)
    return dict(pairs)


# Packaged: every function, the ASR worker and the dashboard from what deploys, each in
# a venv made from its own requirements file (the first run builds them, a few minutes).
@pytest.mark.parametrize("packaged", [False, True], ids=["checkout", "packaged"])
def test_demo_analyses_the_shop_morning_and_stops_on_ctrl_c(tmp_path: Path, packaged: bool) -> None:
    workdir = tmp_path / "demo"
    # Without OpenAI settings from the outer environment: the rules analyzer decides.
    settings = {name for name, _, _ in config.describe()}
    env = {k: v for k, v in os.environ.items() if k not in settings}
    argv = ["demo", "--workdir", str(workdir), "--speed", "20"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "salescontrol", *argv, *(["--packaged"] if packaged else [])],
        cwd=REPO,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out = Output(proc)
    try:
        out.wait_for(READY, proc, timeout=1500 if packaged else 540)
        truth = load_truth(DEMO_TRUTH)
        engine = sa.create_engine(
            _env_file(workdir / "env.sh")["DATABASE_URL"], poolclass=sa.pool.NullPool
        )
        with engine.connect() as conn:
            chunks = conn.execute(
                sa.text("SELECT status, count(*) FROM audio_chunks GROUP BY status")
            ).all()
            dialogues = conn.execute(
                sa.text(
                    "SELECT d.analysis_status, t.text, a.attempted, a.accepted, "
                    "a.is_sales_dialogue, d.start_ms, d.end_ms, r.fiscal_document_number, "
                    "a.receipt_check FROM dialogues d "
                    "LEFT JOIN dialogue_transcripts t USING (dialogue_id) "
                    "LEFT JOIN dialogue_upsell_analysis a USING (dialogue_id) "
                    "LEFT JOIN receipts r USING (dialogue_id) ORDER BY d.start_ms"
                )
            ).all()
            origin_ms = conn.execute(
                sa.text("SELECT extract(epoch FROM min(started_at)) * 1000 FROM audio_chunks")
            ).scalar_one()
        engine.dispose()
        # the dashboard, where this checkout has one, serves the same database
        url = re.search(r"^dashboard: (http://\S+)", out.text, re.M)
        if demo.dashboard_available():
            assert url, out.text[-2000:]
            assert requests.get(url[1], timeout=30).status_code == 200
            # the digest of the morning went to the owner, and the demo says where
            kept = re.search(
                r"^  e-mail +owner@salescontrol.local via SMTP \S+ -> (\S+)", out.text, re.M
            )
            assert kept, out.text[-3000:]
            mail = email.message_from_bytes(Path(kept[1]).read_bytes(), policy=email.policy.default)
            assert "диалогов" in mail["Subject"] and mail.get_body(("html",)) is not None
            assert url[1].rstrip("/") + "/dialogue?id=" in mail.get_body(("plain",)).get_content()
            chat = re.search(r"^  Telegram +chat 100500 via .* -> (\S+)", out.text, re.M)
            assert chat and json.loads(Path(chat[1]).read_text(encoding="utf-8"))["text"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=60)
    out.close()
    assert code == 0, out.text[-3000:]
    assert "stopping" in out.text

    # 7.1 minutes in 60 s chunks: eight, every one processed
    assert dict(chunks) == {"DONE": 8}, chunks
    # the nine dialogues of the morning, each transcribed and analysed
    assert abs(len(dialogues) - len(truth.dialogues)) <= 1, dialogues
    assert {d.analysis_status for d in dialogues} <= {"DONE", "SKIPPED"}
    done = [d for d in dialogues if d.analysis_status == "DONE"]
    assert len(done) >= len(truth.dialogues) - 1
    assert all(d.text and d.attempted is not None for d in done)
    # what the demo is about: upsells offered, taken and refused, and talk that is no sale
    assert sum(d.attempted for d in done) >= 3
    # every receipt went to its sale (posted as printed, mostly before the dialogue was
    # assembled), and every accepted upsell is confirmed on it
    found = [
        FoundDialogue(
            (d.start_ms - float(origin_ms)) / 1000,
            (d.end_ms - float(origin_ms)) / 1000,
            receipt=None if d.fiscal_document_number is None else d.fiscal_document_number - 1,
            confirmed=any(c["status"] == "confirmed" for c in d.receipt_check or []),
        )
        for d in dialogues
    ]
    scores = score(truth, found)
    assert (scores["receipts_matched_right"], scores["upsell_confirmed_right"]) == (1.0, 1.0)
    assert "upsells confirmed by the receipt: 3" in out.text
    assert any(d.attempted and d.accepted for d in done)
    assert any(d.attempted and d.accepted is False for d in done)
    assert any(d.is_sales_dialogue is False for d in done)
    # the printed summary is the database's
    match = re.search(r"dialogues: (\d+) · sales: (\d+)", out.text)
    assert match and int(match[1]) == len(dialogues), out.text[-3000:]
    assert int(match[2]) == sum(bool(d.is_sales_dialogue) for d in done)
    # Ctrl-C stopped the whole stack: nothing listens on the ingest port any more
    ingest = _env_file(workdir / "env.sh")["INGEST_URL"]
    port = int(ingest.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
