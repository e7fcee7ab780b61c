"""Reading terraform/ offline: python-hcl2 for structure, `terraform apply` for the
provider-free modules, evaluated the way the root module calls them.

The google provider cannot be downloaded here, so `plan` never runs. What can run: a
configuration made of the root's own `module` blocks (copied verbatim, their source made
relative), the root variables they use (type and default as declared) and the root
locals they reach, applied by a real terraform without any provider.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[1]
TF = ROOT / "terraform"
MODULES = TF / "modules"


def clean(node: Any) -> Any:
    """python-hcl2 output without its quoting of labels/strings and its __markers__."""
    if isinstance(node, dict):
        return {
            clean(k): clean(v)
            for k, v in node.items()
            if not (isinstance(k, str) and k.startswith("__"))
        }
    if isinstance(node, list):
        return [clean(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def load(path: Path, raw: bool = False) -> dict[str, Any]:
    """One .tf file as python-hcl2 reads it; raw keeps the block markers and quotes."""
    with path.open(encoding="utf-8") as f:
        parsed = hcl2.load(f)
    return parsed if raw else clean(parsed)


def blocks(directory: Path, kind: str) -> dict[tuple[str, ...], dict[str, Any]]:
    """Blocks of one kind in a directory: resource → {(type, name): body}, etc."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in load(path).get(kind, []):
            for label, body in block.items():
                if kind in ("resource", "data"):
                    for name, inner in body.items():
                        found[(label, name)] = inner
                else:
                    found[(label,)] = body
    return found


def locals_of(directory: Path) -> dict[str, Any]:
    """All local values defined in a directory's .tf files."""
    return {
        name: value
        for path in sorted(directory.glob("*.tf"))
        for block in load(path).get("locals", [])
        for name, value in block.items()
    }


def terraform(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run terraform offline (no CLI config, no checkpoint calls)."""
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
        timeout=180,
    )


def apply(workdir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """`terraform apply` a provider-free configuration; its outputs, or the error text."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.tf.json").write_text(json.dumps(config), encoding="utf-8")
    init = terraform(workdir, "init", "-input=false")
    assert init.returncode == 0, init.stderr
    applied = terraform(workdir, "apply", "-auto-approve", "-input=false")
    if applied.returncode != 0:
        return {"error": " ".join(applied.stderr.split())}
    out = terraform(workdir, "output", "-json")
    assert out.returncode == 0, out.stderr
    return {name: o["value"] for name, o in json.loads(out.stdout).items()}


def _refs(node: Any, kind: str) -> set[str]:
    return set(re.findall(rf"\b{kind}\.(\w+)", json.dumps(node)))


def _type_expression(value: str) -> str:
    return value[2:-1] if value.startswith("${") and value.endswith("}") else value


def root_modules(
    workdir: Path,
    names: list[str],
    outputs: dict[str, str],
    tf_dir: Path = TF,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply the root's calls of the provider-free modules `names`, as written in
    `tf_dir` (the real terraform/ or a broken copy), and return `outputs`.

    The variables they use get their declared type and default (or `variables`), the
    locals they reach are copied; a module block that refers to anything else (a
    resource, a provider-backed module) cannot be evaluated offline and fails here."""
    calls = blocks(tf_dir, "module")
    modules = {}
    for name in names:
        call = dict(calls[(name,)])
        call["source"] = os.path.relpath(Path(tf_dir, call["source"]).resolve(), workdir)
        modules[name] = call
    all_locals = locals_of(tf_dir)
    wanted_locals: dict[str, Any] = {}
    todo = set().union(*(_refs(m, "local") for m in modules.values()), _refs(outputs, "local"))
    while todo:
        name = todo.pop()
        if name in wanted_locals:
            continue
        wanted_locals[name] = all_locals[name]
        todo |= _refs(all_locals[name], "local") - set(wanted_locals)
    declared = blocks(tf_dir, "variable")
    used = set().union(
        *(_refs(x, "var") for x in [*modules.values(), *wanted_locals.values()]),
        _refs(outputs, "var"),
    )
    config_vars: dict[str, Any] = {}
    for name in sorted(used):
        spec = declared[(name,)]
        entry: dict[str, Any] = {"type": _type_expression(spec["type"])}
        if variables and name in variables:
            entry["default"] = variables[name]
        elif "default" in spec:
            entry["default"] = spec["default"]
        if spec.get("sensitive"):
            entry["sensitive"] = True
        config_vars[name] = entry
    config: dict[str, Any] = {
        "module": modules,
        "output": {name: {"value": expr} for name, expr in outputs.items()},
    }
    if config_vars:
        config["variable"] = config_vars
    if wanted_locals:
        # path.module is the copied root's folder, not this work folder.
        text = json.dumps(wanted_locals).replace("${path.module}", str(tf_dir.resolve()))
        config["locals"] = json.loads(text)
    if any(o.get("sensitive") for o in config_vars.values()):
        for out in config["output"].values():
            out["sensitive"] = True
    return apply(workdir, config)
