"""``edge-harness services up`` knows IoT Core's broker as it knows the other services: a flag,
part of the default set, and the same service on either backend."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli.services import build_services

pytestmark = pytest.mark.unit


def test_help_lists_iot_core_beside_the_other_services() -> None:
    group = CliRunner().invoke(main, ["services", "--help"])
    assert group.exit_code == 0, group.output
    assert "IoT Core MQTT broker" in " ".join(group.output.split())
    up = CliRunner().invoke(main, ["services", "up", "--help"])
    assert up.exit_code == 0, up.output
    text = " ".join(up.output.split())
    assert "--iot-core Start the MQTT broker standing in for IoT Core (amqtt)." in text
    assert "With no service flag, all four start." in text


def test_process_backend_builds_the_broker_last() -> None:
    from harness.services.mqtt import IotCoreBroker

    selected = build_services(
        triton=False, kafka=True, aws=True, models=None, kafka_bootstrap=None, iot_core=True
    )
    assert [service.name for service in selected] == ["aws", "kafka", "iot_core"]
    assert isinstance(selected[-1], IotCoreBroker)
    assert [s.name for s in build_services(triton=False, kafka=False, aws=True, models=None,
                                           kafka_bootstrap=None)] == ["aws"]  # fmt: skip


def test_docker_backend_builds_the_broker_as_a_container_of_the_session() -> None:
    """Building does not start anything: the session is only handed to each container."""
    from harness.services.containers.services import IotCoreContainer

    session = object()
    selected = build_services(
        triton=False, kafka=True, aws=True, models=None, kafka_bootstrap="10.0.0.9:9092",
        session=session, iot_core=True,
    )  # fmt: skip
    assert [service.name for service in selected] == ["aws", "kafka", "iot_core"]
    broker = selected[-1]
    assert isinstance(broker, IotCoreContainer) and broker.session is session
    assert broker.image_name == "runtime"  # amqtt is a harness dependency: the runtime image has it
    assert broker.container_command() == [
        "python", "-m", "amqtt.scripts.broker_script", "-c", "/etc/amqtt/broker.json",
    ]  # fmt: skip
