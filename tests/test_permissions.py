"""Terraform grants each component what its calls need (docs/permissions.md), on the
narrowest resource, and nothing broader.

terraform/modules/grants is evaluated by a real `terraform apply` the way the root calls
it; the roles' permission lists come from tests/data/iam_roles.json (the IAM API's
roles.get, its source named there). The same check runs on broken copies of terraform/,
which it must refuse.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from terraform_kit import ROOT, TF, blocks, locals_of, root_modules

TABLE = ROOT / "docs" / "permissions.md"
ROLES = json.loads((ROOT / "tests" / "data" / "iam_roles.json").read_text(encoding="utf-8"))
PERMISSIONS = {role: set(spec["permissions"]) for role, spec in ROLES["roles"].items()}
PROJECT = "my-project"
BUCKET = f"{PROJECT}-audio"

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")


@dataclass(frozen=True)
class Need:
    """One row of the table: `member` needs `permission` on `resource` (for a call)."""

    member: str
    call: str
    permission: str
    resource: str  # "bucket audio: chunks/", "topic X", "project", ...

    @property
    def prefix(self) -> str | None:
        """The object prefix a bucket row is confined to."""
        match = re.fullmatch(r"bucket audio: (\S+)", self.resource)
        return match[1] if match else None

    @property
    def kind(self) -> tuple[str, str]:
        """(on, resource) as modules/grants names them."""
        if self.prefix:
            return ("bucket", "audio")
        if self.resource == "project":
            return ("project", "project")
        kind, _, name = self.resource.rpartition(" ")
        on = {
            "topic": "topic",
            "subscription": "subscription",
            "secret": "secret",
            "service account": "service_account",
            "service": "run_service",
            "repository": "repository",
        }[kind]
        return (on, name)


def needs(table: Path = TABLE) -> list[Need]:
    """The rows of docs/permissions.md that need a permission."""
    rows = []
    for line in table.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("component", "---") or not line.startswith("|"):
            continue
        member, call, permission, resource, _source = cells
        if permission != "—":
            rows.append(Need(member, call, permission, resource))
    return rows


def evaluate_grants(workdir: Path, tf_dir: Path = TF) -> dict[str, dict[str, Any]]:
    """modules/grants as the root module in `tf_dir` calls it, every secret set."""
    got = root_modules(
        workdir,
        ["topology", "grants"],
        {"grants": "${module.grants.grants}"},
        tf_dir=tf_dir,
        variables={
            "project_id": PROJECT,
            "openai_api_key": "sk-set",
            "llm_server": {},  # the optional self-hosted LLM too: every row is checked
            "smtp_password": "set",
            "telegram_bot_token": "1:set",
            "topology_file": str(ROOT / "salescontrol" / "topology.yaml"),
        },
    )
    assert "error" not in got, got.get("error")
    return got["grants"]


def _prefixes(grant: dict[str, Any]) -> set[str] | None:
    """The object prefixes a bucket grant's condition allows; None: the whole bucket."""
    if grant["condition"] is None:
        return None
    found = re.findall(
        rf'resource\.name\.startsWith\("projects/_/buckets/{BUCKET}/objects/([^"]+)"\)',
        grant["condition"]["expression"],
    )
    # Only a plain disjunction of prefixes is understood; anything else is refused.
    rebuilt = " || ".join(
        f'resource.name.startsWith("projects/_/buckets/{BUCKET}/objects/{p}")' for p in found
    )
    assert rebuilt == grant["condition"]["expression"], grant
    return set(found)


def _serves(grant: dict[str, Any], need: Need) -> bool:
    if grant["member"] != need.member or need.permission not in PERMISSIONS[grant["role"]]:
        return False
    on, resource = need.kind
    if grant["on"] == "project":  # a project grant reaches everything in it
        return True
    if (grant["on"], grant["resource"]) != (on, resource):
        return False
    allowed = _prefixes(grant) if on == "bucket" else None
    return allowed is None or need.prefix in allowed


def problems(grants: dict[str, dict[str, Any]], rows: list[Need]) -> list[str]:
    """Everything wrong between the grants and the table, one readable line each."""
    found = []
    unknown = sorted({g["role"] for g in grants.values()} - set(PERMISSIONS))
    found += [f"{role}: not in tests/data/iam_roles.json" for role in unknown]
    if unknown:
        return found
    for need in rows:
        if not any(_serves(g, need) for g in grants.values()):
            found.append(
                f"{need.member} cannot {need.call}: no grant gives {need.permission} "
                f"on {need.resource}"
            )
    for key, grant in grants.items():
        served = [n for n in rows if _serves(grant, n)]
        if not served:
            found.append(f"{key}: serves no call of the table (broader than needed)")
            continue
        if grant["on"] == "project" and any(n.resource != "project" for n in served):
            found.append(f"{key}: on the project where the calls need {served[0].resource}")
        if grant["on"] == "bucket":
            wanted = {n.prefix for n in served}
            allowed = _prefixes(grant)
            if allowed is None or allowed - wanted:
                found.append(
                    f"{key}: reaches {'the whole bucket' if allowed is None else sorted(allowed)}"
                    f" where its calls need only {sorted(wanted)}"
                )
        wanted_permissions = {n.permission for n in served}
        smaller = [
            role
            for role, perms in PERMISSIONS.items()
            # narrower: a strict subset of the granted role that still serves the calls
            if wanted_permissions <= perms < PERMISSIONS[grant["role"]]
        ]
        if smaller:
            found.append(f"{key}: {smaller[0]} would do ({sorted(wanted_permissions)})")
    return found


@pytest.fixture(scope="module")
def grants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return evaluate_grants(tmp_path_factory.mktemp("grants"))


def test_the_table_cites_every_row_and_names_code_that_exists() -> None:
    rows = needs()
    assert len(rows) > 40
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("| ") and not line.startswith(("| component", "|---")):
            assert "](https://cloud.google.com/" in line, line
    for path, name in re.findall(r"`([\w/]+\.py):(\w+)`", TABLE.read_text(encoding="utf-8")):
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(rf"^\s*(def|class) {name}\b", source, re.M), (path, name)
    assert {n.member for n in rows} >= {
        *(f"fn:{f}" for f in ("ingest", "vad", "assemble", "analyze", "sweeper", "digest")),
        *("asr", "dashboard", "push", "scheduler", "agent:pubsub", "agent:gcs", "public"),
    }


def test_every_call_is_granted_on_the_narrowest_resource_and_nothing_broader(grants) -> None:
    assert problems(grants, needs()) == []


def test_ingest_may_create_chunks_only_and_the_dashboard_may_publish_its_reruns(grants) -> None:
    """The two grants the cloud path lacked: every device upload would have had 403."""
    creator = grants["fn:ingest roles/storage.objectCreator on bucket audio"]
    assert _prefixes(creator) == {"chunks/"}
    for topic in ("asr-requests", "transcripts-ready"):
        assert f"dashboard roles/pubsub.publisher on topic {topic}" in grants


def test_every_iam_member_in_terraform_comes_from_the_grants_module() -> None:
    """So that the check above sees every grant there is."""
    for module in [p for p in (TF / "modules").iterdir() if p.is_dir()]:
        kinds = [kind for kind, _ in blocks(module, "resource")]
        assert not [k for k in kinds if "_iam_" in k], module.name
    members = {k: v for k, v in blocks(TF, "resource").items() if "_iam_" in k[0]}
    assert len(members) >= 8
    for (kind, name), body in members.items():
        assert kind.endswith("_iam_member") and name == "grant", kind
        assert "local.grants" in body["for_each"], kind
        assert body["role"] == "${each.value.role}", kind
        assert body["member"] == "${local.members[each.value.member]}", kind
    assert locals_of(TF)["grants"] == "${module.grants.grants}"


# --- the check fails on broken copies ---------------------------------------------


def _broken_copy(tmp_path: Path, path: str, old: str, new: str) -> Path:
    copy = tmp_path / "terraform"
    shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform*", ".build"))
    target = copy / path
    text = target.read_text(encoding="utf-8")
    assert old in text, (path, old)
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        # ingest without create permission: its signed PUT URLs would answer 403
        (
            "variables.tf",
            'bucket_creates = ["chunks"]',
            "bucket_creates = []",
            "fn:ingest cannot the device's PUT through that URL",
        ),
        # the grant reaching the whole bucket instead of chunks/
        (
            "modules/grants/main.tf",
            "condition = {",
            "condition = length(g.kinds) > 0 ? null : {",
            "reaches the whole bucket",
        ),
        # a broader role than the calls need
        (
            "modules/grants/main.tf",
            'role = "roles/storage.objectCreator", kinds = f.bucket_creates',
            'role = "roles/storage.objectUser", kinds = f.bucket_creates',
            "roles/storage.objectCreator would do",
        ),
        # a publisher grant no call needs
        (
            "variables.tf",
            'publishes    = ["chunk-vad-done"]',
            'publishes    = ["chunk-vad-done", "transcripts-ready"]',
            "fn:vad roles/pubsub.publisher on topic transcripts-ready: serves no call",
        ),
    ],
)
def test_the_check_refuses_a_broken_copy(
    tmp_path: Path, path: str, old: str, new: str, message: str
) -> None:
    broken = _broken_copy(tmp_path, path, old, new)
    found = problems(evaluate_grants(tmp_path / "work", broken), needs())
    assert any(message in line for line in found), found
