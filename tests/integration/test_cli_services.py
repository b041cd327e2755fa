"""``edge-harness services up`` as a user runs it: the main job's smoke check and its failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.services.ports import free_ports

pytestmark = pytest.mark.integration


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "services", "up", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_check_starts_every_service_checks_it_and_exits_0(tmp_path: Path) -> None:
    result = _run("--check", cwd=tmp_path)  # no ./models_repo here: the built-in smoke model
    assert result.returncode == 0, result.stderr
    for line in ("export AWS_ENDPOINT_URL=http://127.0.0.1:", "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:"):
        assert line in result.stdout
    assert "export TRITON_GRPC_URL=127.0.0.1:" in result.stdout
    assert "export EDGE_HARNESS_IOT_CORE_MQTT=mqtt://127.0.0.1:" in result.stdout
    stderr = " ".join(result.stderr.split())
    assert "aws check: s3 bucket/put/get/presigned GET" in stderr
    assert "kafka check: 100 messages produced" in stderr
    assert "triton check: 1 model, HTTP+gRPC inference matches ONNX Runtime" in stderr
    assert "iot_core check: subscribe + QoS 1 publish read back" in stderr


def test_iot_core_alone_starts_checks_and_exports_the_device_endpoint() -> None:
    result = _run("--iot-core", "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("export EDGE_HARNESS_IOT_CORE_MQTT=mqtt://127.0.0.1:")
    stderr = " ".join(result.stderr.split())
    assert "iot_core ready: mqtt=127.0.0.1:" in stderr
    assert "iot_core check: subscribe + QoS 1 publish read back" in stderr
    for other in ("aws", "kafka", "triton"):
        assert f"{other} ready" not in stderr


def test_an_unreachable_external_broker_exits_3_naming_the_address() -> None:
    (port,) = free_ports(1)
    result = _run("--kafka", "--kafka-bootstrap", f"127.0.0.1:{port}", "--check")
    assert result.returncode == 3
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_model_repository_exits_1_naming_the_file(tmp_path: Path) -> None:
    model = tmp_path / "repo" / "rtdetr"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "rtdetr"\nplatform: "onnxruntime_onnx"\n输入 [ { } ]\n')
    result = _run("--triton", "--models", str(tmp_path / "repo"), "--check")
    assert result.returncode == 1
    stderr = " ".join(result.stderr.split())
    assert "rtdetr/config.pbtxt:3:1" in stderr and "'输入'" in stderr
    assert "Traceback" not in result.stderr
