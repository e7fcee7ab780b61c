"""The optional self-hosted LLM (terraform/llm.tf, modules/llm_server): what it runs, who
may reach it, and that the analyze function is pointed at it. Offline: templates are
rendered by terraform itself, the rest read with python-hcl2 (no GPU, no cloud here)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_terraform import MODULES, TF, _apply, _blocks, _locals

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not on PATH")


def test_cloud_init_runs_vllm_with_the_gpu_the_model_and_the_key(tmp_path: Path) -> None:
    template = MODULES / "llm_server" / "cloud-init.yaml.tftpl"
    secret = "projects/p/secrets/salescontrol-openai-api-key"
    variables = {
        "image": "vllm/vllm-openai:v0.6.6",
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "served_model_name": "qwen2.5-7b-instruct",
        "max_model_len": 8192,
        "api_key_secret": secret,
    }
    expression = f"${{templatefile({json.dumps(str(template))}, {json.dumps(variables)})}}"
    got = _apply(tmp_path / "tf", {"output": {"user_data": {"value": expression}}})
    assert "error" not in got, got.get("error")
    doc = yaml.safe_load(got["user_data"])
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    service = files["/etc/systemd/system/llm.service"]
    command = " ".join(service.replace("\\\n", " ").split())
    assert "vllm/vllm-openai:v0.6.6 --model Qwen/Qwen2.5-7B-Instruct" in command
    assert "--served-model-name qwen2.5-7b-instruct --max-model-len 8192" in command
    assert "--device /dev/nvidia0" in command and "Requires=nvidia-driver.service" in service
    script = files["/etc/llm/fetch-key.sh"]
    assert f"https://secretmanager.googleapis.com/v1/{secret}/versions/latest:access" in script
    assert 'echo "VLLM_API_KEY=$value" >> /run/llm.env' in script  # vLLM demands this key
    check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert doc["runcmd"] == ["systemctl daemon-reload", "systemctl start llm.service"]


def test_the_server_has_no_external_address_and_only_the_connector_may_call_it() -> None:
    resources = _blocks(MODULES / "llm_server", "resource")
    vm = resources[("google_compute_instance", "server")]
    (nic,) = vm["network_interface"]
    assert "access_config" not in nic  # no external IP
    assert vm["scheduling"][0]["on_host_maintenance"] == "TERMINATE"
    rule = resources[("google_compute_firewall", "api")]
    assert rule["source_ranges"] == "${var.client_ranges}"
    assert rule["allow"][0]["ports"] == ["8000"]
    module = _blocks(TF, "module")[("llm_server",)]
    assert module["client_ranges"] == ["${google_vpc_access_connector.main.ip_cidr_range}"]


def test_it_is_off_by_default_and_points_the_analyze_function_at_itself() -> None:
    assert _blocks(TF, "variable")[("llm_server",)]["default"] is None
    assert _blocks(TF, "module")[("llm_server",)]["count"] == "${local.llm_enabled ? 1 : 0}"
    env = _locals(TF)["llm_env"]
    assert "OPENAI_BASE_URL" in env and "module.llm_server[0].base_url" in env
    functions = _blocks(TF, "module")[("function",)]
    assert "local.llm_env" in functions["env"]
