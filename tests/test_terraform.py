"""The Terraform in terraform/: formatting, offline evaluation and structure.

The google provider cannot be downloaded here, so `terraform validate/plan` cannot run.
What can run does: `terraform fmt`; the provider-free modules (topology, function_source)
and the ASR cloud-init template are evaluated by a real `terraform apply` against the
real topology.yaml and a fixture with all five functions; the rest is read with
python-hcl2 and checked for the properties a reviewer of a plan would look for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from salescontrol import topology

ROOT = Path(__file__).resolve().parents[1]
TF = ROOT / "terraform"
MODULES = TF / "modules"
TOPOLOGY_FILE = ROOT / "salescontrol" / "topology.yaml"
PRIMITIVE_ROLES = re.compile(r"roles/(owner|editor|viewer)\b")

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")


# --- helpers -----------------------------------------------------------------


def _clean(node: Any) -> Any:
    """python-hcl2 output without its quoting of labels/strings and its __markers__."""
    if isinstance(node, dict):
        return {
            _clean(k): _clean(v)
            for k, v in node.items()
            if not (isinstance(k, str) and k.startswith("__"))
        }
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return _clean(hcl2.load(f))


def _blocks(directory: Path, kind: str) -> dict[tuple[str, ...], dict[str, Any]]:
    """Blocks of one kind in a directory: resource → {(type, name): body}, etc."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in _load(path).get(kind, []):
            for label, body in block.items():
                if kind in ("resource", "data"):
                    for name, inner in body.items():
                        found[(label, name)] = inner
                else:
                    found[(label,)] = body
    return found


def _locals(directory: Path) -> dict[str, Any]:
    """All local values defined in a directory's .tf files."""
    return {
        name: value
        for path in sorted(directory.glob("*.tf"))
        for block in _load(path).get("locals", [])
        for name, value in block.items()
    }


def _all_resources() -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every resource in the root and the modules, keyed (directory, type, name)."""
    dirs = [TF, *sorted(p for p in MODULES.iterdir() if p.is_dir())]
    return {(d.name, *key): body for d in dirs for key, body in _blocks(d, "resource").items()}


def _variable_default(name: str) -> Any:
    return _blocks(TF, "variable")[(name,)]["default"]


def _terraform(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": os.devnull,
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    return subprocess.run(
        ["terraform", *args, "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _apply(workdir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """`terraform apply` a provider-free configuration; its outputs, or the error text."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf.json").write_text(json.dumps(config), encoding="utf-8")
    init = _terraform(workdir, "init", "-input=false")
    assert init.returncode == 0, init.stderr
    applied = _terraform(workdir, "apply", "-auto-approve", "-input=false")
    if applied.returncode != 0:
        return {"error": applied.stderr}
    out = _terraform(workdir, "output", "-json")
    assert out.returncode == 0, out.stderr
    return {name: o["value"] for name, o in json.loads(out.stdout).items()}


def _function_settings() -> dict[str, dict[str, Any]]:
    """The root's default per-function settings, as the topology module sees them."""
    return {
        name: {
            "public": spec.get("public", False),
            "schedule": spec.get("schedule"),
            "publishes": spec.get("publishes", []),
            "timeout_sec": spec.get("timeout_sec", 60),
        }
        for name, spec in _variable_default("functions").items()
    }


def _topology_module(workdir: Path, topology_file: Path, **overrides: Any) -> dict[str, Any]:
    """The root module's call of modules/topology, as Terraform JSON in workdir."""
    return {
        "source": os.path.relpath(MODULES / "topology", workdir),
        "topology_file": str(topology_file),
        "function_settings": _function_settings(),
        "pull_consumers": {
            _variable_default("asr_subscription"): _variable_default("asr_publishes")
        },
        **overrides,
    }


def _evaluate_topology(workdir: Path, topology_file: Path, **overrides: Any) -> dict[str, Any]:
    """Apply modules/topology the way the root module calls it, for_each included."""
    config = {
        "module": {"topology": _topology_module(workdir, topology_file, **overrides)},
        # The root iterates these outputs with for_each; prove that works on them.
        "resource": {
            "terraform_data": {
                "function": {
                    "for_each": "${module.topology.functions}",
                    "input": "${each.value.trigger}",
                },
                "subscription": {
                    "for_each": "${module.topology.subscriptions}",
                    "input": "${each.value.topic}",
                },
            }
        },
        "output": {
            name: {"value": f"${{module.topology.{name}}}"}
            for name in (
                "topics",
                "dead_letter_topics",
                "subscriptions",
                "notifications",
                "object_prefixes",
            )
        }
        | {
            "functions": {"value": "${module.topology.functions}"},
            "function_instances": {"value": "${keys(terraform_data.function)}"},
            "subscription_instances": {"value": "${keys(terraform_data.subscription)}"},
        },
    }
    return _apply(workdir, config)


@pytest.fixture
def five_functions(tmp_path: Path) -> Path:
    """The real topology with the five functions the merged repository will have."""
    raw = yaml.safe_load(TOPOLOGY_FILE.read_text(encoding="utf-8"))
    raw["functions"] = {
        "ingest": {"trigger": "http"},
        "vad": {"trigger": "vad"},
        "assemble": {"trigger": "assemble"},
        "analyze": {"trigger": "analyze"},
        "sweeper": {"trigger": "http"},
    }
    path = tmp_path / "topology-five.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


# --- formatting ----------------------------------------------------------------


def test_terraform_fmt_is_clean() -> None:
    result = _terraform(ROOT, "fmt", "-check", "-recursive", "-diff", "terraform")
    assert result.returncode == 0, result.stdout + result.stderr


# --- the topology, evaluated by terraform ----------------------------------------


@pytest.mark.parametrize("which", ["repository", "five-functions"])
def test_terraform_reads_the_topology_like_the_local_stack(
    which: str, tmp_path: Path, five_functions: Path
) -> None:
    path = TOPOLOGY_FILE if which == "repository" else five_functions
    expected = topology.load(path)
    got = _evaluate_topology(tmp_path / "tf", path)
    assert "error" not in got, got.get("error")

    assert set(got["topics"]) == set(expected.topics)
    assert set(got["dead_letter_topics"]) == {
        s.dead_letter_topic for s in expected.subscriptions.values()
    }
    assert sorted(got["subscription_instances"]) == sorted(expected.subscriptions)
    for name, sub in expected.subscriptions.items():
        tf = got["subscriptions"][name]
        target = expected.push_target(name)
        assert tf == {
            "topic": sub.topic,
            "ack_deadline_sec": sub.ack_deadline_sec,
            "dead_letter_topic": sub.dead_letter_topic,
            "max_delivery_attempts": sub.max_delivery_attempts,
            "min_backoff_sec": sub.min_backoff_sec,
            "max_backoff_sec": sub.max_backoff_sec,
            "message_retention_sec": sub.message_retention_sec,
            "push_function": target.name if target else None,
        }
    assert sorted(got["function_instances"]) == sorted(expected.functions)
    for name, fn in expected.functions.items():
        tf = got["functions"][name]
        assert tf["trigger"] == fn.trigger
        assert tf["http"] == (fn.trigger == "http")
        if fn.trigger != "http":
            # An event function consumes its subscription's topic, pushed to it.
            assert tf["subscription"] == fn.trigger
            assert tf["topic"] == expected.subscriptions[fn.trigger].topic
            assert got["subscriptions"][fn.trigger]["push_function"] == name
    assert got["notifications"] == [
        {
            "topic": n.topic,
            "object_prefix": n.object_prefix,
            "event_types": list(n.event_types),
            "payload_format": n.payload_format,
        }
        for n in expected.notifications
    ]


def test_chunk_notification_and_asr_pull_subscription(tmp_path: Path, five_functions: Path) -> None:
    got = _evaluate_topology(tmp_path / "tf", five_functions)
    assert got["notifications"] == [
        {
            "topic": "chunk-uploaded",
            "object_prefix": "chunks/",
            "event_types": ["OBJECT_FINALIZE"],
            "payload_format": "JSON_API_V1",
        }
    ]
    assert got["object_prefixes"] == topology.load().object_prefixes  # Python reads the same
    assert got["subscriptions"]["vad"]["push_function"] == "vad"
    assert got["subscriptions"]["asr"]["push_function"] is None  # pulled by the ASR VM
    assert got["functions"]["sweeper"]["http"] is True


def _settings(**changes: Any) -> dict[str, Any]:
    """One function's settings as the topology module takes them."""
    return {"public": False, "schedule": None, "publishes": [], "timeout_sec": 60} | changes


def _with_functions(tmp_path: Path, functions: dict[str, Any]) -> Path:
    raw = yaml.safe_load(TOPOLOGY_FILE.read_text(encoding="utf-8"))
    raw["functions"] = functions
    path = tmp_path / "topology-bad.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("functions", "overrides", "message"),
    [
        ({"vad": {"trigger": "vda"}}, {}, "vad (trigger vda)"),
        ({"transcode": {"trigger": "http"}}, {}, "no entry in var.functions"),
        (
            {"vad": {"trigger": "vad"}},
            {"function_settings": {"vad": _settings(timeout_sec=121)}},
            "vad (121 s > 120 s)",
        ),
        ({"vad": {"trigger": "asr"}}, {}, "pushes to a function: asr"),
        (
            {"vad": {"trigger": "vad"}},
            {"function_settings": {"vad": _settings(public=True)}},
            "can be public or scheduled",
        ),
        (
            {"vad": {"trigger": "vad"}},
            {"function_settings": {"vad": _settings(publishes=["x"])}},
            "not declared under topics: in the topology file: x",
        ),
    ],
)
def test_inconsistent_topology_is_refused_with_the_culprit(
    tmp_path: Path, functions: dict[str, Any], overrides: dict[str, Any], message: str
) -> None:
    path = _with_functions(tmp_path, functions)
    got = _evaluate_topology(tmp_path / "tf", path, **overrides)
    assert "error" in got
    assert message in " ".join(got["error"].split())


def _evaluate_source(workdir: Path, function_dir: Path) -> dict[str, Any]:
    """Apply modules/function_source to one function folder and the real core."""
    config = {
        "module": {
            "src": {
                "source": os.path.relpath(MODULES / "function_source", workdir),
                "function_dir": str(function_dir),
                "core_dir": str(ROOT / "salescontrol"),
            }
        },
        "output": {
            name: {"value": f"${{module.src.{name}}}"} for name in ("files", "requirements")
        },
    }
    return _apply(workdir, config)


def _deployed(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_archive_is_the_function_with_its_requirements_plus_the_core(tmp_path: Path) -> None:
    ingest = ROOT / "functions" / "ingest"
    got = _evaluate_source(tmp_path / "tf", ingest)
    assert "error" not in got, got.get("error")
    files = got["files"]
    for path in _deployed(ingest):
        assert files[path.name] == path.read_text(encoding="utf-8"), path.name
    core = ROOT / "salescontrol"
    for path in _deployed(core):  # sources, topology.yaml, the analysis prompts
        name = f"salescontrol/{path.relative_to(core).as_posix()}"
        assert files[name] == path.read_text(encoding="utf-8"), name
    assert "salescontrol/analysis/prompts/upsell_v1.md" in files
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]
    own = (ingest / "requirements.txt").read_text(encoding="utf-8")
    assert files["requirements.txt"] == got["requirements"] == own


def test_a_function_without_its_own_requirements_or_code_is_refused(tmp_path: Path) -> None:
    bare = tmp_path / "functions" / "transcode"
    bare.mkdir(parents=True)
    (bare / "main.py").write_text("def transcode(event):\n    pass\n", encoding="utf-8")
    refused = _evaluate_source(tmp_path / "tf", bare)
    assert "has no requirements.txt" in " ".join(refused["error"].split())

    (bare / "requirements.txt").write_text("functions-framework==3.10.2\n", encoding="utf-8")
    got = _evaluate_source(tmp_path / "tf2", bare)
    assert "error" not in got, got.get("error")
    assert got["files"]["requirements.txt"] == "functions-framework==3.10.2\n"
    assert got["files"]["main.py"].startswith("def transcode")

    missing = _evaluate_source(tmp_path / "tf3", tmp_path / "functions" / "nothing-here")
    assert "has no main.py" in " ".join(missing["error"].split())


def test_function_source_takes_no_requirements_list_and_no_deny_list() -> None:
    assert set(_blocks(MODULES / "function_source", "variable")) == {
        ("function_dir",),
        ("core_dir",),
    }
    assert not [v for (v,) in _blocks(TF, "variable") if "requirement" in v or "exclude" in v]


@pytest.fixture(scope="module")
def root_archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Each function's archive, from the root module's own call of modules/function_source
    (its arguments as written in functions.tf) over the real topology."""
    workdir = tmp_path_factory.mktemp("root-archives")
    call = {
        **_blocks(TF, "module")[("function_source",)],
        "source": os.path.relpath(MODULES / "function_source", workdir),
    }
    used = set(re.findall(r"\bvar\.(\w+)", json.dumps(call)))
    config: dict[str, Any] = {
        "locals": {"repo_root": str(ROOT)},
        "module": {
            "topology": _topology_module(workdir, TOPOLOGY_FILE),
            "function_source": call,
        },
        "output": {
            "files": {"value": "${{ for name, m in module.function_source : name => m.files }}"}
        },
    }
    if used:
        config["variable"] = {name: {"default": _variable_default(name)} for name in used}
    got = _apply(workdir, config)
    assert "error" not in got, got.get("error")
    return got["files"]


def test_each_function_deploys_its_own_requirements(
    root_archives: dict[str, dict[str, str]],
) -> None:
    assert sorted(root_archives) == sorted(topology.load().functions)
    for name, files in root_archives.items():
        own = ROOT / "functions" / name / "requirements.txt"
        assert files["requirements.txt"] == own.read_text(encoding="utf-8"), name


def test_the_vad_archive_ships_faster_whisper_for_silero(
    root_archives: dict[str, dict[str, str]],
) -> None:
    """VAD_ENGINE=silero, the default, loads Silero VAD from faster-whisper at run time."""
    files = root_archives["vad"]
    assert "from faster_whisper.vad import get_vad_model" in files["salescontrol/vad.py"]
    names = {
        re.split(r"[=<>~!;\[ ]", line.strip())[0].lower().replace("_", "-")
        for line in files["requirements.txt"].splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert "faster-whisper" in names, "the vad function would fail to import Silero VAD"


@pytest.mark.parametrize("gpu", [True, False])
def test_asr_cloud_init_runs_the_image_with_driver_and_secrets(tmp_path: Path, gpu: bool) -> None:
    template = MODULES / "asr" / "cloud-init.yaml.tftpl"
    image = "europe-west4-docker.pkg.dev/p/salescontrol/asr:v1"
    secret = "projects/p/secrets/salescontrol-database-url"
    variables = {
        "gpu": gpu,
        "image": image,
        "registry": image.split("/")[0],
        "env": {"WHISPER_DEVICE": "cuda" if gpu else "cpu", "AUDIO_BUCKET": "b"},
        "secret_env": {"DATABASE_URL": secret},
    }
    config = {
        "output": {
            "user_data": {
                "value": f"${{templatefile({json.dumps(str(template))}, {json.dumps(variables)})}}"
            }
        }
    }
    got = _apply(tmp_path / "tf", config)
    assert "error" not in got, got.get("error")
    text = got["user_data"]
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    service = files["/etc/systemd/system/asr.service"]
    assert image in service
    assert "configure-docker --registries europe-west4-docker.pkg.dev" in service
    assert ("--device /dev/nvidia0" in service) == gpu
    assert ("/etc/systemd/system/nvidia-driver.service" in files) == gpu
    if gpu:
        assert "cos-extensions install gpu" in files["/etc/systemd/system/nvidia-driver.service"]
        assert "Requires=nvidia-driver.service" in service
    assert files["/etc/asr/env"].splitlines() == [
        f"{k}={v}" for k, v in sorted(variables["env"].items())
    ]
    script = files["/etc/asr/fetch-secrets.sh"]
    assert f"https://secretmanager.googleapis.com/v1/{secret}/versions/latest:access" in script
    assert 'echo "DATABASE_URL=$value" >> /run/asr.env' in script
    check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert doc["runcmd"] == ["systemctl daemon-reload", "systemctl start asr.service"]


# --- structure (python-hcl2) ----------------------------------------------------


def test_topology_drives_topics_subscriptions_and_dead_letters() -> None:
    assert "salescontrol/topology.yaml" in _locals(TF)["topology_file"]
    assert _locals(MODULES / "topology")["raw"] == "${yamldecode(file(var.topology_file))}"

    modules = _blocks(TF, "module")
    assert modules[("topology",)]["topology_file"] == "${local.topology_file}"
    pubsub = modules[("pubsub",)]
    assert pubsub["topics"] == "${module.topology.topics}"
    assert pubsub["dead_letter_topics"] == "${module.topology.dead_letter_topics}"
    assert pubsub["subscriptions"] == "${module.topology.subscriptions}"
    assert modules[("bucket",)]["notifications"] == "${module.topology.notifications}"
    assert modules[("function",)]["for_each"] == "${module.topology.functions}"
    assert modules[("function",)]["cloudevent"] == "${!each.value.http}"

    res = _blocks(MODULES / "pubsub", "resource")
    assert res[("google_pubsub_topic", "pipeline")]["for_each"] == "${var.topics}"
    assert res[("google_pubsub_topic", "dead_letter")]["for_each"] == "${var.dead_letter_topics}"
    assert res[("google_pubsub_subscription", "dead_letter")]["for_each"] == (
        "${var.dead_letter_topics}"
    )
    sub = res[("google_pubsub_subscription", "pipeline")]
    assert sub["for_each"] == "${var.subscriptions}"
    assert sub["topic"] == "${google_pubsub_topic.pipeline[each.value.topic].id}"
    assert sub["ack_deadline_seconds"] == "${each.value.ack_deadline_sec}"
    policy = sub["dead_letter_policy"][0]
    assert policy["dead_letter_topic"] == (
        "${google_pubsub_topic.dead_letter[each.value.dead_letter_topic].id}"
    )
    assert policy["max_delivery_attempts"] == "${each.value.max_delivery_attempts}"
    retry = sub["retry_policy"][0]
    assert retry["minimum_backoff"] == "${each.value.min_backoff_sec}s"
    assert retry["maximum_backoff"] == "${each.value.max_backoff_sec}s"
    push = sub["dynamic"][0]["push_config"]
    assert (
        push["for_each"] == "${each.value.push_function == null ? [] : [each.value.push_function]}"
    )
    content = push["content"][0]
    assert content["push_endpoint"] == "${var.push_endpoints[push_config.value]}"
    assert content["oidc_token"][0]["service_account_email"] == "${var.push_service_account}"
    # The Pub/Sub service agent's dead-lettering grants: tests/test_permissions.py.
    assert modules[("pubsub",)]["push_endpoints"] == (
        "${{for name, f in module.function : name => f.url}}"
    )


def test_event_functions_are_cloudevent_and_invoked_only_by_the_push_account() -> None:
    res = _blocks(MODULES / "function", "resource")
    fn = res[("google_cloudfunctions2_function", "this")]
    build = fn["build_config"][0]
    assert build["entry_point"] == "${var.name}"
    assert build["environment_variables"] == (
        '${var.cloudevent ? {GOOGLE_FUNCTION_SIGNATURE_TYPE = "cloudevent"} : {}}'
    )
    service = fn["service_config"][0]
    assert service["ingress_settings"] == '${var.public ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"}'
    # Who may invoke: push on event functions, the scheduler on scheduled ones, everyone
    # on the public ones (modules/grants; checked against docs/permissions.md).
    run = _locals(MODULES / "grants")
    specs = run["run_specs"]
    assert '{member = "push", service = name} if !f.http' in specs
    assert '{member = "scheduler", service = name} if f.schedule != null' in specs
    assert '{member = "public", service = name} if f.public' in specs


def test_archive_is_built_from_function_source_and_redeploys_on_change() -> None:
    data = _blocks(MODULES / "function", "data")[("archive_file", "source")]
    source = data["dynamic"][0]["source"]
    assert source["for_each"] == "${var.files}"
    assert source["content"][0] == {"filename": "${source.key}", "content": "${source.value}"}
    modules = _blocks(TF, "module")
    assert modules[("function",)]["files"] == "${module.function_source[each.key].files}"
    assert modules[("function_source",)]["core_dir"] == "${local.repo_root}/salescontrol"
    assert modules[("function_source",)]["function_dir"] == (
        "${local.repo_root}/functions/${each.key}"
    )
    obj = _blocks(MODULES / "function", "resource")[("google_storage_bucket_object", "source")]
    assert "output_md5" in obj["name"]  # new code, new object, new deployment


def test_no_primitive_roles_and_no_authoritative_bindings() -> None:
    for path in TF.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        assert not PRIMITIVE_ROLES.search(text), path
        assert "_iam_binding" not in text and "_iam_policy" not in text, path
    # Every role is named in modules/grants (the IAM members take each.value.role).
    grants = (MODULES / "grants" / "main.tf").read_text(encoding="utf-8")
    roles = set(re.findall(r'"(roles/[\w.]+)"', grants))
    assert len(roles) >= 10
    for role in roles:
        assert not PRIMITIVE_ROLES.search(role), role


def test_buckets_are_private_with_lifecycle_and_notification() -> None:
    resources = _all_resources()
    buckets = {k: v for k, v in resources.items() if k[1] == "google_storage_bucket"}
    assert len(buckets) == 2  # audio and function sources
    for key, bucket in buckets.items():
        assert bucket["uniform_bucket_level_access"] is True, key
        assert bucket["public_access_prevention"] == "enforced", key
    for key, body in resources.items():
        if key[1].startswith("google_storage_bucket_iam"):
            assert body["member"] not in ("allUsers", "allAuthenticatedUsers"), key
    audio = buckets[("bucket", "google_storage_bucket", "audio")]
    rules = {
        r["condition"][0]["matches_prefix"][0]: r["condition"][0]["age"]
        for r in audio["lifecycle_rule"]
    }
    # The prefixes come from topology.yaml, like the code's (salescontrol.chunks).
    assert rules == {
        "${var.object_prefixes.chunks}": "${var.chunk_retention_days}",
        "${var.object_prefixes.dialogues}": "${var.dialogue_retention_days}",
    }
    call = _blocks(TF, "module")[("bucket",)]
    assert call["object_prefixes"] == "${module.topology.object_prefixes}"
    assert all(r["action"][0]["type"] == "Delete" for r in audio["lifecycle_rule"])
    note = resources[("bucket", "google_storage_notification", "topology")]
    assert note["object_name_prefix"] == "${each.value.object_prefix}"
    assert note["event_types"] == "${each.value.event_types}"
    # The Cloud Storage service agent publishes the notification (its grant is made by
    # modules/grants, and the bucket module waits for it).
    assert "google_storage_project_service_account.gcs.email_address" in json.dumps(_locals(TF))
    assert "${google_pubsub_topic_iam_member.grant}" in call["depends_on"]


def test_gpu_workers_terminate_on_host_maintenance_and_scale_on_backlog() -> None:
    res = _blocks(MODULES / "asr", "resource")
    template = res[("google_compute_instance_template", "worker")]
    assert template["scheduling"][0]["on_host_maintenance"] == "TERMINATE"
    assert template["dynamic"][0]["guest_accelerator"]["content"][0]["count"] == 1
    assert template["disk"][0]["source_image"] == "cos-cloud/cos-stable"
    assert "access_config" not in template["network_interface"][0]  # no external IP
    metric = res[("google_compute_autoscaler", "workers")]["autoscaling_policy"][0]["metric"][0]
    assert metric["name"] == "pubsub.googleapis.com/subscription/num_undelivered_messages"
    assert "var.subscription" in metric["filter"]


def test_cloud_sql_is_protected_backed_up_and_closed() -> None:
    res = _blocks(MODULES / "cloudsql", "resource")
    instance = res[("google_sql_database_instance", "main")]
    assert instance["database_version"] == "POSTGRES_15"
    assert instance["deletion_protection"] is True
    settings = instance["settings"][0]
    assert settings["deletion_protection_enabled"] is True
    assert settings["backup_configuration"][0]["enabled"] is True
    assert settings["backup_configuration"][0]["point_in_time_recovery_enabled"] is True
    ip = settings["ip_configuration"][0]
    assert ip["private_network"] == "${var.network_id}"
    assert "authorized_networks" not in ip


def test_secrets_come_from_secret_manager() -> None:
    secrets = _blocks(TF, "resource")[("google_secret_manager_secret", "app")]
    assert secrets["for_each"] == "${toset(local.secret_names)}"
    names = _locals(TF)["secret_names"]
    assert sorted(names) == [
        "ADMIN_TOKEN",
        "DASHBOARD_COOKIE_SECRET",
        "DATABASE_URL",
        "OPENAI_API_KEY",
        "SMTP_PASSWORD",
        "TELEGRAM_BOT_TOKEN",
    ]
    everything = json.dumps(list(_all_resources().values()))
    assert "SIGNING_KEY_FILE" not in everything  # signed through IAM signBlob in the cloud


def test_modules_have_the_four_files_and_pinned_providers() -> None:
    for module in [TF, *(p for p in MODULES.iterdir() if p.is_dir())]:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (module / name).is_file(), module / name
        terraform = _load(module / "versions.tf")["terraform"][0]
        assert terraform["required_version"].startswith(">="), module
        for providers in terraform.get("required_providers", []):
            for name, spec in providers.items():
                if module == TF and name == "google":
                    # Exactly the version whose schema tests/test_terraform_schema.py reads.
                    assert spec["version"] == "6.50.0"
                else:
                    assert re.fullmatch(r"~> \d+\.\d+", spec["version"]), (module, name)


def test_variables_are_typed_and_described_and_outputs_exist() -> None:
    for module in [TF, *(p for p in MODULES.iterdir() if p.is_dir())]:
        for (name,), body in _blocks(module, "variable").items():
            assert "type" in body, (module.name, name)
            description = body.get("description", "")
            assert description[:1].isupper() and description.endswith("."), (module.name, name)
    outputs = {name for (name,) in _blocks(TF, "output")}
    assert {"ingest_url", "dashboard_url", "audio_bucket", "subscriptions"} <= outputs
    example = (TF / "terraform.tfvars.example").read_text(encoding="utf-8")
    required = [name for (name,), body in _blocks(TF, "variable").items() if "default" not in body]
    assert required == ["project_id", "admin_token"]
    for name in required:
        assert re.search(rf"^{name}\s*=", example, re.MULTILINE), name


def test_packaged_mode_runs_the_file_set_terraform_zips(
    root_archives: dict[str, dict[str, str]],
) -> None:
    """`--packaged` writes each function's archive from devkit.local.packaging; it must be
    file for file what modules/function_source gives archive_file."""
    from devkit.local.packaging import function_files

    for name, files in root_archives.items():
        ours = function_files(ROOT / "functions" / name)
        assert sorted(ours) == sorted(files), name
        assert {k: v.decode("utf-8") for k, v in ours.items()} == files, name


def test_the_dashboard_allows_its_own_websocket_origin_and_keeps_sessions_on_one_instance() -> None:
    """Behind Cloud Run a Panel page stays blank unless Bokeh is told the host the browser
    uses (BOKEH_ALLOW_WS_ORIGIN, which `python -m dashboard` reads): the service's
    deterministic run.app host, which is also the URL Terraform prints."""
    local = _locals(TF)
    assert local["dashboard_host"] == (
        "${local.dashboard_name}-${data.google_project.this.number}.${var.region}.run.app"
    )
    assert (
        'BOKEH_ALLOW_WS_ORIGIN = join(",", concat([local.dashboard_host], var.dashboard_hosts))'
        in (local["dashboard_env"])
    )
    service = _blocks(TF, "resource")[("google_cloud_run_v2_service", "dashboard")]
    template = service["template"][0]
    assert template["session_affinity"] is True
    env = [d["env"] for d in template["containers"][0]["dynamic"] if "env" in d]
    assert env[0]["for_each"] == "${local.dashboard_env}"
    assert "local.dashboard_host" in _blocks(TF, "output")[("dashboard_url",)]["value"]
    reads = (ROOT / "dashboard" / "__main__.py").read_text(encoding="utf-8")
    assert 'os.environ.get("BOKEH_ALLOW_WS_ORIGIN"' in reads


def test_cloud_run_probes_the_dashboards_health() -> None:
    """Cloud Run sends traffic once GET /health (dashboard/login.py) says the database
    answers, and restarts an instance that has lost it."""
    service = _blocks(TF, "resource")[("google_cloud_run_v2_service", "dashboard")]
    container = service["template"][0]["containers"][0]
    for probe in ("startup_probe", "liveness_probe"):
        assert container[probe][0]["http_get"][0]["path"] == "/health"
    from dashboard import login

    assert login.HEALTH_URL == "/health"
    assert (login.HEALTH_URL, login.HealthHandler) in login.server_options_patterns()
