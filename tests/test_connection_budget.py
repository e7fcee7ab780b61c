"""The connection budget: every component's pool times its instances fits in Cloud SQL's
max_connections minus a reserve, checked by Terraform itself (modules/connection_budget)
and evaluated here offline the way the root calls it; and each process really holds no
more than the pool its environment gives it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from terraform_kit import ROOT, TF, blocks, locals_of, root_modules

from salescontrol import config, db

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")
TOPOLOGY = str(ROOT / "salescontrol" / "topology.yaml")
OUTPUTS = {
    "total": "${module.connection_budget.total}",
    "max_connections": "${module.connection_budget.max_connections}",
    "by_consumer": "${module.connection_budget.by_consumer}",
    "db_env": "${local.db_env}",
}


def budget(workdir: Path, tf_dir: Path = TF, **variables: Any) -> dict[str, Any]:
    return root_modules(
        workdir,
        ["topology", "connection_budget"],
        OUTPUTS,
        tf_dir=tf_dir,
        variables={"project_id": "my-project", "topology_file": TOPOLOGY, **variables},
    )


def test_the_default_deployment_fits_db_f1_micro(tmp_path: Path) -> None:
    got = budget(tmp_path)
    assert "error" not in got, got.get("error")
    assert got["max_connections"] == 25  # db-f1-micro
    reserve = blocks(TF, "variable")[("db_connection_reserve",)]["default"]
    assert got["total"] <= got["max_connections"] - reserve
    by = got["by_consumer"]
    # every function, the ASR workers, the dashboard and a migration are counted
    functions = {"ingest", "vad", "assemble", "analyze", "sweeper", "digest"}
    assert set(by) == functions | {"asr", "dashboard", "migrate"}
    assert sum(by.values()) == got["total"]
    # functions serve one request at a time: a pool of one connection, no overflow
    for name in functions:
        assert got["db_env"][name] == {"DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0"}


def test_packaged_mode_gives_each_deployable_the_pool_terraform_does(tmp_path: Path) -> None:
    from devkit.local.packaging import FUNCTION_ENV, IMAGE_ENV

    db_env = budget(tmp_path)["db_env"]
    for name in ("ingest", "vad", "assemble", "analyze", "sweeper", "digest"):
        assert db_env[name].items() <= FUNCTION_ENV.items(), name
    assert db_env["asr"] == IMAGE_ENV["asr_service"]
    assert db_env["dashboard"] == IMAGE_ENV["dashboard"]
    assert FUNCTION_ENV["THREADS"] == "1"  # max_instance_request_concurrency = 1
    function_module = (TF / "modules" / "function" / "main.tf").read_text(encoding="utf-8")
    assert "max_instance_request_concurrency = 1" in function_module


def test_each_component_gets_the_pool_the_budget_counts() -> None:
    """The environment of every deployed component carries its entry of local.db_env."""
    call = blocks(TF, "module")
    assert "local.db_env[each.key]" in call[("function",)]["env"]
    assert 'local.db_env["asr"]' in call[("asr",)]["env"]
    assert 'local.db_env["dashboard"]' in locals_of(TF)["dashboard_env"]
    assert call[("connection_budget",)]["consumers"] == "${local.db_pools}"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        # a backlog scales every vad instance out: 10 more connections than there are
        (
            {"asr_max_instances": 8},
            "may open 32 database connections, more than 20 (max_connections 25 of db-f1-micro",
        ),
        ({"db_tier": "db-perf-optimized-N-2"}, "set db_max_connections"),
    ],
)
def test_a_deployment_over_budget_is_refused_naming_each_component(
    tmp_path: Path, variables: dict[str, Any], message: str
) -> None:
    got = budget(tmp_path, **variables)
    assert "error" in got
    assert message in got["error"]


def test_a_larger_tier_or_flag_raises_the_budget(tmp_path: Path) -> None:
    assert (
        budget(tmp_path / "a", db_tier="db-custom-1-3840", asr_max_instances=8)["max_connections"]
        == 100
    )
    got = budget(tmp_path / "b", db_max_connections=60, asr_max_instances=8)
    assert got["max_connections"] == 60 and got["total"] == 32


def test_more_vad_instances_in_a_copy_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TF, copy, ignore=shutil.ignore_patterns(".terraform*", ".build"))
    variables = copy / "variables.tf"
    text = variables.read_text(encoding="utf-8")
    old = '      bucket_reads = ["chunks"]\n    }\n    assemble'
    assert old in text
    variables.write_text(
        text.replace(
            old, '      bucket_reads = ["chunks"]\n      max_instances = 10\n    }\n    assemble'
        ),
        encoding="utf-8",
    )
    got = budget(tmp_path / "work", tf_dir=copy)
    assert "vad 1 x 10 = 10" in got["error"]


def test_a_process_holds_no_more_than_its_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+pg8000://u@127.0.0.1:1/none")
    monkeypatch.setenv("DB_POOL_SIZE", "1")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    config.settings.cache_clear()
    db.dispose_engines()
    try:
        pool = db.engine().pool
        assert (pool.size(), pool._max_overflow) == (1, 0)
    finally:
        db.dispose_engines()
    monkeypatch.setenv("DB_POOL_SIZE", "0")  # SQLAlchemy would read 0 as "no limit"
    config.settings.cache_clear()
    with pytest.raises(config.ConfigError, match="DB_POOL_SIZE must be at least 1"):
        db.engine()
