"""Every google_* resource and data source in terraform/ against the provider's real schema.

The google provider cannot be downloaded here, so `terraform validate` cannot run. PyPI's
cdktf-cdktf-provider-google 16.12.1 is generated from hashicorp/google 6.50.0 (the
version terraform/versions.tf pins): its jsii assembly lists every resource and data
source, each argument and nested block at its level, and which are required. This test
reads it (the package is never imported, which would need Node) and checks each block of
the HCL: the type exists, each argument and nested block (dynamic blocks included)
exists where it is written, an argument is not written as a block nor a block as an
argument, and every required argument and block is set.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from terraform_kit import TF, load

PROVIDER_VERSION = "6.50.0"
META = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}


@dataclass
class Block:
    """One level of a schema: its arguments and nested blocks, each with `required`."""

    arguments: dict[str, bool] = field(default_factory=dict)
    blocks: dict[str, tuple[Block, bool]] = field(default_factory=dict)


def _assembly() -> dict[str, Any]:
    spec = importlib.util.find_spec("cdktf_cdktf_provider_google")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "cdktf-cdktf-provider-google is not installed (pip install -r requirements.txt)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "_jsii"
    archive = next(folder.glob("*.jsii.tgz"))
    with tarfile.open(archive) as tgz:
        member = tgz.extractfile("package/.jsii")
        assert member is not None
        return json.load(member)


def _terraform_name(prop: dict[str, Any]) -> str:
    # Each property's doc link ends in #name, the exact Terraform name.
    match = re.search(r"/docs/[\w-]+/\w+#(\w+) ", json.dumps(prop["docs"]))
    if match:
        return match[1]
    # Two properties (pubsub message transforms' `code`) lost their link to a comment in
    # their docs; cdktf names properties by camel-casing the Terraform name.
    return re.sub(r"(?<!^)([A-Z])", r"_\1", prop["name"]).lower()


def _block_type(type_ref: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The fqn of the nested block a property holds, or None for an argument."""
    if "union" in type_ref:
        inner = [t for t in type_ref["union"]["types"] if t.get("fqn") != "cdktf.IResolvable"]
        return _block_type(inner[0], types) if len(inner) == 1 else None
    if "collection" in type_ref:
        if type_ref["collection"]["kind"] != "array":
            return None
        return _block_type(type_ref["collection"]["elementtype"], types)
    fqn = type_ref.get("fqn")
    if fqn and types.get(fqn, {}).get("datatype") and fqn.startswith("@cdktf/provider-google."):
        return fqn
    return None


def _block(fqn: str, types: dict[str, Any], seen: dict[str, Block]) -> Block:
    if fqn in seen:
        return seen[fqn]
    block = seen[fqn] = Block()
    for prop in types[fqn].get("properties", []):
        name, required = _terraform_name(prop), not prop.get("optional", False)
        inner = _block_type(prop["type"], types)
        if inner is None:
            block.arguments[name] = required
        else:
            block.blocks[name] = (_block(inner, types, seen), required)
    return block


@functools.cache
def schema() -> dict[str, Block]:
    """Terraform type (google_storage_bucket, data.google_project, ...) -> its schema."""
    assembly = _assembly()
    types = assembly["types"]
    found: dict[str, Block] = {}
    seen: dict[str, Block] = {}
    for t in types.values():
        if t.get("base") not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource"):
            continue
        link = re.search(
            rf"/google/{PROVIDER_VERSION}/docs/(resources|data-sources)/(\w+)",
            t["docs"]["summary"],
        )
        assert link, t["fqn"]
        config = next(p for p in t["initializer"]["parameters"] if p["name"] == "config")
        prefix = "data." if link[1] == "data-sources" else ""
        found[f"{prefix}google_{link[2]}"] = _block(config["type"]["fqn"], types, seen)
    return found


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def check_body(body: dict[str, Any], block: Block, where: str, top: bool = False) -> list[str]:
    """What is wrong with one block's body against its schema level (`top`: the resource's
    own level, where the meta-arguments count, for_each, lifecycle, ... may stand)."""
    errors: list[str] = []
    present: set[str] = set()
    for key, value in body.items():
        name = _unquote(key)
        if name.startswith("__") or (top and name in META):
            continue
        if name == "dynamic":
            for dynamic in value:
                for label, spec in dynamic.items():
                    label = _unquote(label)
                    if label.startswith("__"):
                        continue
                    present.add(label)
                    if label not in block.blocks:
                        kind = "an argument" if label in block.arguments else "unknown"
                        errors.append(f"{where}: dynamic {label!r} is not a block here ({kind})")
                        continue
                    for content in spec.get("content", []):
                        errors += check_body(content, block.blocks[label][0], f"{where}.{label}")
            continue
        present.add(name)
        if name in block.blocks:
            if not _is_block(value):
                errors.append(f"{where}: {name!r} is a block, written as an argument")
                continue
            for inner in value:
                errors += check_body(inner, block.blocks[name][0], f"{where}.{name}")
        elif name in block.arguments:
            if _is_block(value):
                errors.append(f"{where}: {name!r} is an argument, written as a block")
        else:
            errors.append(f"{where}: {name!r} is not an argument or block of this type")
    for name, required in block.arguments.items():
        if required and name not in present:
            errors.append(f"{where}: required argument {name!r} is missing")
    for name, (_, required) in block.blocks.items():
        if required and name not in present:
            errors.append(f"{where}: required block {name!r} is missing")
    return errors


def check_tree(tf_dir: Path) -> tuple[list[str], int]:
    """Every google_* resource and data source under `tf_dir`: (errors, blocks checked)."""
    errors, checked = [], 0
    types = schema()
    for path in sorted(tf_dir.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        parsed = load(path, raw=True)
        for kind in ("resource", "data"):
            for entry in parsed.get(kind, []):
                for type_key, named in entry.items():
                    tf_type = _unquote(type_key)
                    if not tf_type.startswith("google_"):
                        continue
                    full = f"data.{tf_type}" if kind == "data" else tf_type
                    for name_key, body in named.items():
                        if name_key.startswith("__"):
                            continue
                        where = f"{path.relative_to(tf_dir)}: {full}.{_unquote(name_key)}"
                        checked += 1
                        if full not in types:
                            errors.append(f"{where}: no such type in google {PROVIDER_VERSION}")
                            continue
                        errors += check_body(body, types[full], where, top=True)
    return errors, checked


def test_the_schema_is_the_pinned_providers() -> None:
    types = schema()
    assert len(types) > 1000
    assert "google_cloudfunctions2_function" in types and "data.google_project" in types
    bucket = types["google_storage_bucket"]
    assert bucket.arguments["name"] and bucket.arguments["location"]  # required
    assert not bucket.arguments["uniform_bucket_level_access"]
    assert "condition" in bucket.blocks["lifecycle_rule"][0].blocks
    versions = (TF / "versions.tf").read_text(encoding="utf-8")
    assert f'version = "{PROVIDER_VERSION}"' in versions


def test_every_google_block_in_terraform_matches_the_provider_schema() -> None:
    errors, checked = check_tree(TF)
    assert checked >= 40
    assert errors == []


def _broken(tmp_path: Path, path: str, old: str, new: str) -> Path:
    copy = tmp_path / "terraform"
    shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform*", ".build"))
    text = (copy / path).read_text(encoding="utf-8")
    assert old in text, (path, old)
    (copy / path).write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        (
            "functions.tf",
            "uniform_bucket_level_access = true",
            "uniform_bucket_level_acess = true",
            "google_storage_bucket.sources: 'uniform_bucket_level_acess' is not an argument",
        ),
        (
            "dashboard.tf",
            "secret_key_ref {",
            "secret_key_reference {",
            "value_source: 'secret_key_reference' is not an argument or block",
        ),
        (
            "modules/pubsub/main.tf",
            "  topic                      = google_pubsub_topic.pipeline[each.value.topic].id\n",
            "",
            "google_pubsub_subscription.pipeline: required argument 'topic' is missing",
        ),
        (
            "modules/cloudsql/main.tf",
            'dynamic "database_flags" {',
            'dynamic "database_flag" {',
            "dynamic 'database_flag' is not a block here",
        ),
        (
            "modules/asr/main.tf",
            "  scheduling {",
            "  scheduling = {",
            "'scheduling' is a block, written as an argument",
        ),
    ],
)
def test_the_check_refuses_a_broken_copy(
    tmp_path: Path, path: str, old: str, new: str, message: str
) -> None:
    errors, _ = check_tree(_broken(tmp_path, path, old, new))
    assert any(message in e for e in errors), errors
