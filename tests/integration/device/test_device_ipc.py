"""Greengrass IPC on the simulated device, used by real component processes through ``awsiotsdk``.

Each component is a Python script (tests/integration/device/ipc_apps/) deployed like any other:
ZIP artifact in S3, recipe, deployment to a thing group. The device starts it with its own
``SVCUID``; the script calls the nucleus over ``ipc.socket`` with the unmodified SDK client and
prints one ``IPC {json}`` line per step, which the test reads back from the component's log.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from fleet import Operator, component_log, running_device, unique, wait_for

APPS = Path(__file__).parent / "ipc_apps"
_LINE = re.compile(r"stdout\. IPC (\{.*?\})\. \{scriptName=")


def _app(name: str) -> str:
    return (APPS / name).read_text()


def ipc_steps(root: Path, component: str) -> list[dict[str, Any]]:
    """The ``IPC {json}`` lines a component printed so far, in order."""
    return [json.loads(m.group(1)) for m in _LINE.finditer(component_log(root, component))]


def step(root: Path, component: str, name: str, timeout: float = 60.0) -> dict[str, Any]:
    """The first step called ``name`` (waiting for it)."""

    def find() -> dict[str, Any] | None:
        return next((s for s in ipc_steps(root, component) if s["step"] == name), None)

    return wait_for(find, timeout, f"{component} to print step {name!r}:\n{component_log(root, component)}")


def succeeded(operator: Operator, thing: str, deployment: str, root: Path, *components: str) -> None:
    """The deployment succeeded; if not, the failure shows the components' logs."""
    result = operator.wait_deployment(thing, deployment)
    if result["coreDeviceExecutionStatus"] != "SUCCEEDED":
        logs = "\n".join(f"--- {c}\n{component_log(root, c)}" for c in components)
        raise AssertionError(f"deployment {result}\n{logs}\n{component_log(root, 'greengrass')[-4000:]}")


def _python(script: str, *args: str) -> dict[str, Any]:
    """A Run step with the device's python3 (privileged: on these machines the interpreter that
    has awsiotsdk lives where the unprivileged component user cannot run it)."""
    command = " ".join(["python3 -u {artifacts:decompressedPath}/app/" + script, *args])
    return {"Run": {"Script": command, "RequiresPrivilege": True}}


def test_configuration_operations(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    other = unique("com.example.Other")
    operator.component(other, "1.0.0", {"Run": 'echo "token=$SVCUID"'}, defaults={"color": "blue"})
    name = unique("com.example.Config")
    defaults = {"greeting": "hello", "limits": {"fps": 10}}
    app = {"configuration_app.py": _app("configuration_app.py")}
    operator.component(name, "1.0.0", _python("configuration_app.py", other), files=app, defaults=defaults)
    # the next version prints what the configuration holds when it is deployed
    next_run = {"Run": "echo fps={configuration:/limits/fps} burst={configuration:/limits/burst}"}
    operator.component(name, "1.0.1", next_run, defaults=defaults)
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.deploy(group_arn, {name: "1.0.0", other: "1.0.0"})
        succeeded(operator, thing, first, device_root, name, other)
        step(device_root, name, "ready")
        steps = {s["step"]: s for s in ipc_steps(device_root, name)}

        # a token per component, and the connection acts as the component that presented it
        other_token = re.search(r"token=(\w+)", component_log(device_root, other))
        assert other_token is not None
        assert steps["token"]["length"] == 16
        assert steps["token"]["token"] != other_token.group(1)
        assert steps["get-leaf"]["value"] == {"greeting": "hello"}
        assert steps["get-all"]["value"] == defaults
        assert steps["get-missing"]["error"] == {"type": "ResourceNotFoundError", "message": "Key not found"}
        assert steps["get-other"]["value"] == {"color": "blue"}

        # writes go to the device's configuration, with the nucleus's timestamp rules
        assert steps["after-update"]["value"] == {"fps": 15, "burst": 2}
        assert steps["stale-update"]["error"] == {
            "type": "FailedUpdateConditionCheckError",
            "message": "Proposed timestamp is older than the config's latest modified timestamp",
        }
        assert steps["stale-update"]["value"] == {"fps": 15}
        assert steps["restricted-update"]["error"] == {
            "type": "InvalidArgumentsError",
            "message": "Config update is not allowed for following fields [accessControl]",
        }
        assert device.config.services[name]["configuration"]["limits"] == {"fps": 15, "burst": 2}
        events = [s["key_path"] for s in ipc_steps(device_root, name) if s["step"] == "event"]
        assert sorted(events) == [["limits", "burst"], ["limits", "fps"]]

        # a deployment's merge reaches the running component's subscription (no restart)
        merge = {"componentVersion": "1.0.0", "configurationUpdate": {"merge": {"limits": {"fps": 30}}}}
        second = operator.deploy(group_arn, {name: merge, other: "1.0.0"})
        succeeded(operator, thing, second, device_root, name, other)

        def fps_events() -> int:
            found = [s for s in ipc_steps(device_root, name) if s["step"] == "event"]
            return sum(1 for s in found if s["key_path"] == ["limits", "fps"]) >= 2

        wait_for(fps_events, 30, "the deployment's configuration event")
        assert sum(1 for s in ipc_steps(device_root, name) if s["step"] == "ready") == 1

        # what the component wrote and what the deployment merged both reach the next version
        third = operator.deploy(group_arn, {name: "1.0.1", other: "1.0.0"})
        succeeded(operator, thing, third, device_root, name, other)
        assert "fps=30 burst=2" in component_log(device_root, name)
        assert (device_root / "ipc.socket").is_socket()
    assert not (device_root / "ipc.socket").exists()


def test_connection_errors(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Probe")
    app = {"protocol_app.py": _app("protocol_app.py")}
    operator.component(name, "1.0.0", _python("protocol_app.py"), files=app, defaults={"mode": "probe"})
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        deployment = operator.deploy(group_arn, {name: "1.0.0"})
        succeeded(operator, thing, deployment, device_root, name)
        step(device_root, name, "done")
        steps = {s["step"]: s for s in ipc_steps(device_root, name)}
    assert steps["wrong-token"]["error"]["type"] == "AccessDeniedError"
    # an operation the model does not have: the stream ends without a modeled error
    assert steps["unknown-operation"]["error"]["type"] == "StreamClosedError"
    assert steps["not-served"]["error"] == {
        "type": "ServiceError",
        "message": "Operation aws.greengrass#GetSecretValue is not supported by Greengrass",
    }
    # the CLI's operations are served only with aws.greengrass.Cli on the device
    assert steps["no-cli"]["error"] == {
        "type": "ServiceError",
        "message": "Operation aws.greengrass#ListComponents is not supported by Greengrass",
    }
    assert steps["still-connected"]["value"] == {"mode": "probe"}
    log = component_log(device_root, "greengrass")
    assert "ipc-connect-rejected. Unrecognized client connecting to GGC over IPC" in log
    assert "ipc-unsupported-operation. aws.greengrass#NoSuchOperation" in log


def _policy(*operations: str, resources: list[str]) -> dict[str, Any]:
    return {"operations": list(operations), "resources": resources}


def test_local_pubsub_with_authorization(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    subscriber, publisher = unique("com.example.Subscriber"), unique("com.example.Publisher")
    subscribe, publish = "aws.greengrass#SubscribeToTopic", "aws.greengrass#PublishToTopic"
    sub_access = {
        "accessControl": {
            "aws.greengrass.ipc.pubsub": {
                f"{subscriber}:pubsub:1": _policy(subscribe, resources=["detections/*"]),
                f"{subscriber}:pubsub:2": _policy(publish, resources=["subscribers/ready"]),
            }
        }
    }
    pub_access = {
        "accessControl": {
            "aws.greengrass.ipc.pubsub": {
                f"{publisher}:pubsub:1": _policy("*", resources=["detections/*", "subscribers/ready"]),
            }
        }
    }
    sub_app = {"pubsub_subscriber.py": _app("pubsub_subscriber.py")}
    pub_app = {"pubsub_publisher.py": _app("pubsub_publisher.py")}
    operator.component(
        subscriber, "1.0.0", _python("pubsub_subscriber.py"), files=sub_app, defaults=sub_access
    )
    operator.component(publisher, "1.0.0", _python("pubsub_publisher.py"), files=pub_app, defaults=pub_access)
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        deployment = operator.deploy(group_arn, {subscriber: "1.0.0", publisher: "1.0.0"})
        succeeded(operator, thing, deployment, device_root, subscriber, publisher)
        own = step(device_root, publisher, "own")
        published = {s["step"]: s for s in ipc_steps(device_root, publisher)}

        def received() -> list[dict[str, Any]]:
            found = [s for s in ipc_steps(device_root, subscriber) if s["step"] == "received"]
            return found if len(found) >= 3 else []

        messages = wait_for(received, 30, "the subscriber's three messages")
    assert published["waiting"]["ready"] is True
    found = [(m["subscription"], m["topic"], m.get("json"), m.get("binary")) for m in messages]
    by_subscription = sorted(found, key=lambda m: (m[0], m[1]))
    assert by_subscription == [
        ("exact", "detections/cam1", {"confidence": 0.9, "label": "car"}, None),
        ("wildcard", "detections/cam1", {"confidence": 0.9, "label": "car"}, None),
        ("wildcard", "detections/cam2", None, "AAFmcmFtZQ=="),
    ]
    # its own messages reach an exact subscription, not a wildcard one (RECEIVE_MESSAGES_FROM_OTHERS)
    assert own["received"] == ["exact"]
    assert published["denied"]["error"] == {
        "type": "UnauthorizedError",
        "message": f"Principal {publisher} is not authorized to perform "
        f"aws.greengrass.ipc.pubsub:{publish} on resource secrets/db",
    }
    assert published["wildcard"]["error"] == {
        "type": "InvalidArgumentsError",
        "message": "Publish topic must not contain a wildcard.",
    }
    denied = step(device_root, subscriber, "publish-denied")
    assert denied["type"] == "UnauthorizedError"
    assert f"Principal {subscriber} is not authorized" in denied["message"]


def test_lifecycle_operations(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    updates, starter, crasher = (
        unique("com.example.Updates"),
        unique("com.example.Starter"),
        unique("com.example.Crasher"),
    )
    operator.component(
        updates,
        "1.0.0",
        _python("updates_app.py"),
        files={"updates_app.py": _app("updates_app.py")},
        defaults={"n": 1},
    )
    startup = {
        "Script": "python3 -u {artifacts:decompressedPath}/app/startup_app.py",
        "RequiresPrivilege": True,
    }
    operator.component(
        starter,
        "1.0.0",
        {"Startup": {**startup, "Timeout": 30}},
        files={"startup_app.py": _app("startup_app.py")},
    )
    operator.component(
        crasher, "1.0.0", _python("errored_app.py"), files={"errored_app.py": _app("errored_app.py")}
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    components = {updates: "1.0.0", starter: "1.0.0", crasher: "1.0.0"}
    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.deploy(group_arn, components)
        succeeded(operator, thing, first, device_root, *components)
        # a startup script that never exits: RUNNING because the component said so
        step(device_root, starter, "reported")
        assert device.services[starter].state == "RUNNING"
        # ERRORED reported by the running component: recover, restart
        step(device_root, crasher, "second-run")
        crash_log = component_log(device_root, crasher)
        assert "currentState=RUNNING, newState=ERRORED" in crash_log
        assert "statusCode=RUN_ERROR" in crash_log
        assert device.services[crasher].state == "RUNNING"

        step(device_root, updates, "ready")
        steps = {s["step"]: s for s in ipc_steps(device_root, updates)}
        assert steps["running-again"]["error"] is None  # RUNNING → RUNNING is ignored, not an error
        assert "Invalid reported state" in component_log(device_root, updates)
        assert steps["defer-unsubscribed"]["error"] == {
            "type": "InvalidArgumentsError",
            "message": "Component is not subscribed to component update events",
        }

        # the next deployment waits while the component defers it, then goes on
        merge = {"componentVersion": "1.0.0", "configurationUpdate": {"merge": {"n": 2}}}
        second = operator.deploy(group_arn, {**components, updates: merge})
        succeeded(operator, thing, second, device_root, *components)
        wait_for(
            lambda: len(steps_named(device_root, updates, "late-defer")) == 2, 30, "two post-update events"
        )
        assert device.config.services[updates]["configuration"] == {"n": 2}
    seen = [(s["step"], s["deployment"]) for s in ipc_steps(device_root, updates) if "update" in s["step"]]
    # subscribed while the first deployment ran: told when it was done; then the second one
    assert seen == [
        ("post-update", first),
        ("pre-update", second),
        ("pre-update", second),
        ("post-update", second),
    ]
    assert steps_named(device_root, updates, "pre-update")[0]["restarting"] is False
    assert steps_named(device_root, updates, "late-defer")[1]["error"] == {
        "type": "ServiceError",
        "message": "Time limit to respond to PreComponentUpdateEvent exceeded",
    }
    main_log = component_log(device_root, "greengrass")
    assert "service-update-deferred. deferred for 1500 millis with message busy" in main_log


def steps_named(root: Path, component: str, name: str) -> list[dict[str, Any]]:
    return [s for s in ipc_steps(root, component) if s["step"] == name]


def test_configuration_validation(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Validator")
    app = {"validator_app.py": _app("validator_app.py")}
    operator.component(name, "1.0.0", _python("validator_app.py"), files=app, defaults={"level": 1})
    group, group_arn = operator.group()
    thing = unique("jetson")

    def merge(values: dict[str, Any]) -> dict[str, Any]:
        return {name: {"componentVersion": "1.0.0", "configurationUpdate": {"merge": values}}}

    with running_device(aws_endpoint, device_root, thing, group) as device:
        first = operator.deploy(group_arn, {name: "1.0.0"})
        succeeded(operator, thing, first, device_root, name)
        step(device_root, name, "ready")
        rejected = operator.wait_deployment(
            thing, operator.deploy(group_arn, merge({"level": 2, "reject": True}))
        )
        assert rejected["coreDeviceExecutionStatus"] == "FAILED"
        assert rejected["reason"] == "FAILED_NO_STATE_CHANGE"
        assert rejected["statusDetails"]["errorStack"][-1] == "COMPONENT_CONFIGURATION_NOT_VALID"
        assert device.config.services[name]["configuration"] == {"level": 1}  # nothing changed
        accepted = operator.deploy(group_arn, merge({"level": 3}))
        succeeded(operator, thing, accepted, device_root, name)
        assert device.config.services[name]["configuration"] == {"level": 3}
    proposals = steps_named(device_root, name, "validate")
    assert [p["configuration"] for p in proposals] == [{"level": 2, "reject": True}, {"level": 3}]
    assert proposals[0]["deployment"] == rejected["iotJobId"]
    assert steps_named(device_root, name, "unrequested-report")[0] == {
        "step": "unrequested-report",
        "type": "InvalidArgumentsError",
        "message": "Validation request either timed out or was never made",
    }
    assert (
        "Components reported that their to-be-deployed configuration is invalid "
        f"{{ name = {name}, message = reject is set }}" in component_log(device_root, "greengrass")
    )


def test_cli_operations(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    caller, worker = unique("com.example.Operator"), unique("com.example.Worker")
    stoppable = unique("com.example.Stoppable")
    missing = unique("com.example.Missing")
    cli = "aws.greengrass.Cli"
    cli_version = f"2.12.{uuid.uuid4().int % 999999}"  # the endpoint is shared: a fresh version each run
    operator.component(cli, cli_version, {"Run": "echo greengrass-cli stand-in"})
    operator.component(worker, "1.0.0", {"Run": "echo worker-start; exec sleep 600"}, defaults={"rate": 5})
    operator.component(stoppable, "1.0.0", {"Run": "exec sleep 600"})
    ops = ["GetComponentDetails", "RestartComponent"]
    access = {
        "accessControl": {
            cli: {
                f"{caller}:cli:1": _policy(
                    *(f"aws.greengrass#{o}" for o in ops), resources=[worker, missing]
                ),
                f"{caller}:cli:2": _policy("aws.greengrass#ListComponents", resources=["*"]),
                f"{caller}:cli:3": _policy("aws.greengrass#StopComponent", resources=[stoppable]),
            }
        }
    }
    app = {"cli_app.py": _app("cli_app.py")}
    operator.component(
        caller, "1.0.0", _python("cli_app.py", worker, missing, stoppable), files=app, defaults=access
    )
    group, group_arn = operator.group()
    thing = unique("jetson")
    components = {cli: cli_version, worker: "1.0.0", stoppable: "1.0.0", caller: "1.0.0"}
    with running_device(aws_endpoint, device_root, thing, group) as device:
        deployment = operator.deploy(group_arn, components)
        succeeded(operator, thing, deployment, device_root, caller, worker)
        step(device_root, caller, "stopped")
        wait_for(
            lambda: component_log(device_root, worker).count("stdout. worker-start.") == 2, 30, "a restart"
        )
        wait_for(lambda: device.services[stoppable].state == "FINISHED", 30, "the stopped component")
    steps = {s["step"]: s for s in ipc_steps(device_root, caller)}
    assert steps["list"]["components"][worker] == "RUNNING"
    assert set(steps["list"]["components"]) == set(components)
    assert steps["details"] == {
        "step": "details",
        "name": worker,
        "version": "1.0.0",
        "state": "RUNNING",
        "configuration": {"rate": 5},
    }
    assert steps["missing"]["error"] == {
        "type": "ResourceNotFoundError",
        "message": f"Component with name {missing} not found in Greengrass",
    }
    assert steps["empty"]["error"] == {
        "type": "InvalidArgumentsError",
        "message": "Component name cannot be empty",
    }
    assert steps["restart"]["status"] == "SUCCEEDED"
    assert steps["stop"]["error"]["type"] == "UnauthorizedError"
    assert f"{cli}:aws.greengrass#StopComponent on resource {worker}" in steps["stop"]["error"]["message"]
    assert steps["stopped"]["status"] == "SUCCEEDED"
