"""IPC operations that reach the cloud or the Greengrass CLI, used by real ``awsiotsdk`` clients:
IoT Core MQTT (through the harness's broker), secrets (Secrets Manager on the AWS endpoint),
shadows (iot-data on the AWS endpoint), local deployments and the ``greengrass-cli`` executable.

Components are deployed as in test_device_ipc.py; the plugin components (``aws.greengrass.Cli``,
``aws.greengrass.SecretManager``, ``aws.greengrass.ShadowManager``) are stand-ins of those names,
with a fresh version per run because the AWS endpoint is shared.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

from fleet import Operator, component_log, running_device, unique, wait_for
from test_device_ipc import _app, _policy, _python, ipc_steps, step, succeeded


def _plugin(operator: Operator, name: str, defaults: dict[str, Any] | None = None) -> str:
    """Publish a stand-in of an AWS plugin component; its (fresh) version."""
    version = f"2.{uuid.uuid4().int % 999}.{uuid.uuid4().int % 999999}"
    operator.component(name, version, {"Run": f"echo {name} stand-in"}, defaults=defaults)
    return version


def test_iot_core_publish_and_subscribe(aws_endpoint, iot_core, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Telemetry")
    base = f"edge-harness/{unique('t')}"
    access = {
        "accessControl": {
            "aws.greengrass.ipc.mqttproxy": {
                f"{name}:mqtt:1": _policy(
                    "aws.greengrass#PublishToIoTCore", resources=[f"{base}/telemetry/#"]
                ),
                f"{name}:mqtt:2": _policy(
                    "aws.greengrass#SubscribeToIoTCore", resources=[f"{base}/commands/#"]
                ),
            }
        }
    }
    app = {"iot_core_app.py": _app("iot_core_app.py")}
    operator.component(name, "1.0.0", _python("iot_core_app.py", base), files=app, defaults=access)
    telemetry = iot_core.subscribe(f"{base}/telemetry")
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group, iot_core_endpoint=iot_core.url):
        deployment = operator.deploy(group_arn, {name: "1.0.0"})
        succeeded(operator, thing, deployment, device_root, name)
        step(device_root, name, "ready")
        messages = telemetry.wait_for(3, timeout=30)
        # the harness publishes as the cloud side: the component's subscription gets it
        iot_core.publish(f"{base}/commands/start", b'{"run": true}')
        received = step(device_root, name, "received")
        steps = {s["step"]: s for s in ipc_steps(device_root, name)}
        log = component_log(device_root, "greengrass")
    assert [(m.topic, m.payload) for m in messages] == [
        (f"{base}/telemetry", b'{"n": 1}'),
        (f"{base}/telemetry", b"\x00\x01raw"),
        (f"{base}/telemetry", b"kept"),
    ]
    assert received == {"step": "received", "topic": f"{base}/commands/start", "payload": '{"run": true}'}
    assert (steps["subscribed"]["error"], steps["published"]["errors"]) == (None, [None, None, None])
    # authorization: the nucleus answers "Not Authorized" and logs why
    assert steps["denied-publish"]["error"] == {"type": "UnauthorizedError", "message": "Not Authorized"}
    assert steps["denied-subscribe"]["error"] == {"type": "UnauthorizedError", "message": "Not Authorized"}
    assert (
        f"Principal {name} is not authorized to perform aws.greengrass.ipc.mqttproxy:"
        f"aws.greengrass#PublishToIoTCore on resource {base}/secret"
    ) in log
    assert steps["wildcard-publish"]["error"] == {
        "type": "ServiceError",
        "message": f"Publish to topic {base}/telemetry/+ failed: "
        "Publish topics must not contain wildcard characters of '#' or '+'",
    }
    assert steps["bad-qos"]["error"] == {"type": "InvalidArgumentsError", "message": "Invalid QoS value: 2"}
    assert steps["deep-topic"]["error"]["message"].endswith(
        "The request topic must have no more than 7 forward slashes (/)"
    )
    # the retain flag is not passed on: a later subscriber gets no kept message
    assert iot_core.subscribe(f"{base}/telemetry/#").wait_for(1, timeout=1) == []


def test_iot_core_on_an_offline_device(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    name = unique("com.example.Offline")
    base = f"edge-harness/{unique('t')}"
    access = {
        "accessControl": {
            "aws.greengrass.ipc.mqttproxy": {f"{name}:mqtt:1": _policy("*", resources=[f"{base}/#"])}
        }
    }
    app = {"iot_core_app.py": _app("iot_core_app.py")}
    operator.component(name, "1.0.0", _python("iot_core_app.py", base), files=app, defaults=access)
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):  # no IoT Core endpoint
        deployment = operator.deploy(group_arn, {name: "1.0.0"})
        result = operator.wait_deployment(thing, deployment)
        step(device_root, name, "ready")
        steps = {s["step"]: s for s in ipc_steps(device_root, name)}
    assert result["coreDeviceExecutionStatus"] == "SUCCEEDED"
    assert steps["subscribed"]["error"] == {
        "type": "ServiceError",
        "message": f"Subscribe to topic {base}/commands/# failed with error "
        "com.aws.greengrass.mqttclient.MqttRequestException: Device is not configured to connect to AWS",
    }
    offline = {
        "type": "ServiceError",
        "message": f"Publish to topic {base}/telemetry failed: "
        "Cannot publish because device is configured to run offline",
    }
    assert steps["published"]["errors"] == [offline, offline, offline]


def _create_secret(aws_endpoint, name: str, **value: Any) -> str:
    client = aws_endpoint.client("secretsmanager")
    return str(client.create_secret(Name=name, **value)["ARN"])


def test_get_secret_value(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    secrets = aws_endpoint.client("secretsmanager")
    password = unique("db-password")
    arn = _create_secret(aws_endpoint, password, SecretString="first")
    secrets.put_secret_value(SecretId=arn, SecretString="second")  # "first" is AWSPREVIOUS now
    binary = _create_secret(aws_endpoint, unique("model-key"), SecretBinary=b"\x00\xffkey")
    unlisted = unique("unlisted")  # asked for by name: not in cloudSecrets
    _create_secret(aws_endpoint, unlisted, SecretString="nope")
    forbidden = _create_secret(aws_endpoint, unique("forbidden"), SecretString="nope")
    name = unique("com.example.Secrets")
    manager = "aws.greengrass.SecretManager"
    manager_version = _plugin(
        operator,
        manager,
        {
            "cloudSecrets": [
                {"arn": arn, "labels": ["AWSPREVIOUS"]},
                {"arn": binary},
                {"arn": forbidden},
            ]
        },
    )
    access = {
        "accessControl": {
            manager: {f"{name}:secrets:1": _policy("aws.greengrass#GetSecretValue", resources=[arn, binary])}
        }
    }
    app = {"secrets_app.py": _app("secrets_app.py")}
    args = (arn, password, binary, unlisted, forbidden)
    operator.component(name, "1.0.0", _python("secrets_app.py", *args), files=app, defaults=access)
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        deployment = operator.deploy(group_arn, {manager: manager_version, name: "1.0.0"})
        succeeded(operator, thing, deployment, device_root, name)
        step(device_root, name, "ready")
        steps = {s["step"]: s for s in ipc_steps(device_root, name)}
    current = secrets.get_secret_value(SecretId=arn)
    assert steps["by-arn"] == {
        "step": "by-arn",
        "arn": arn,
        "version": current["VersionId"],
        "stages": ["AWSCURRENT"],
        "string": "second",
        "binary": None,
    }
    assert {k: steps["by-name"][k] for k in ("arn", "string")} == {"arn": arn, "string": "second"}
    assert (steps["by-stage"]["string"], steps["by-stage"]["stages"]) == ("first", ["AWSPREVIOUS"])
    assert (steps["binary"]["binary"], steps["binary"]["string"]) == ("AP9rZXk=", None)
    assert steps["unlisted"]["error"] == {
        "type": "ResourceNotFoundError",
        "message": f"Secret not configured {unlisted}",
    }
    assert steps["forbidden"]["error"] == {
        "type": "UnauthorizedError",
        "message": f"Principal {name} is not authorized to perform "
        f"aws.greengrass.SecretManager:aws.greengrass#GetSecretValue on resource {forbidden}",
    }
    assert steps["both"]["error"] == {
        "type": "ServiceError",
        "message": "Both versionId and Stage are set in the request",
    }
    assert steps["unknown-stage"]["error"] == {
        "type": "ResourceNotFoundError",
        "message": f"Version stage staging not found for secret {arn}",
    }


def test_shadows(aws_endpoint, device_root: Path) -> None:
    operator = Operator(aws_endpoint)
    thing, other = unique("jetson"), unique("other")
    name = unique("com.example.Shadows")
    manager = "aws.greengrass.ShadowManager"
    manager_version = _plugin(operator, manager)
    ops = [f"aws.greengrass#{op}" for op in ("GetThingShadow", "UpdateThingShadow", "DeleteThingShadow")]
    access = {
        "accessControl": {
            manager: {
                f"{name}:shadow:1": _policy(
                    *ops, resources=[f"$aws/things/{thing}/shadow", f"$aws/things/{thing}/shadow/name/*"]
                ),
                f"{name}:shadow:2": _policy("aws.greengrass#ListNamedShadowsForThing", resources=[thing]),
            }
        }
    }
    app = {"shadow_app.py": _app("shadow_app.py")}
    operator.component(name, "1.0.0", _python("shadow_app.py", other), files=app, defaults=access)
    group, group_arn = operator.group()
    with running_device(aws_endpoint, device_root, thing, group):
        deployment = operator.deploy(group_arn, {manager: manager_version, name: "1.0.0"})
        succeeded(operator, thing, deployment, device_root, name)
        step(device_root, name, "ready")
        steps = {s["step"]: s for s in ipc_steps(device_root, name)}
    not_found = {"type": "ResourceNotFoundError", "message": "No shadow found"}
    assert steps["missing"]["error"] == not_found
    assert steps["update"]["document"]["state"]["reported"] == {"fps": 30, "model": "v1"}
    assert steps["get"]["document"]["state"]["reported"] == {"fps": 30, "model": "v1"}
    assert steps["get"]["document"]["version"] == 1
    assert steps["stale"]["error"] == {"type": "ConflictError", "message": "Version conflict"}
    assert steps["list"]["results"] == ["camera"]
    assert (steps["page"]["results"], steps["page"]["next"] is not None) == (["camera"], True)
    assert steps["denied"]["error"] == {
        "type": "UnauthorizedError",
        "message": f"Principal {name} is not authorized to perform aws.greengrass.ShadowManager:"
        f"aws.greengrass#GetThingShadow on resource $aws/things/{other}/shadow/name/camera",
    }
    assert steps["bad-name"]["error"] == {
        "type": "InvalidArgumentsError",
        "message": "ShadowName must match pattern [a-zA-Z0-9:_-]+",
    }
    assert steps["deleted"]["error"] == not_found
    # what the component wrote is the cloud's shadow (the ShadowManager syncs at once)
    data = aws_endpoint.client("iot-data")
    shadow = json.loads(data.get_thing_shadow(thingName=thing, shadowName="camera")["payload"].read())
    assert shadow["state"]["reported"] == {"fps": 30, "model": "v1"}


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "bin" / "greengrass-cli"), *args], capture_output=True, text=True, timeout=120
    )


def _local_status(root: Path, deployment_id: str) -> str:
    def final() -> str | None:
        out = _cli(root, "deployment", "status", "-i", deployment_id).stdout
        return out if re.match(rf"{deployment_id}: (SUCCEEDED|FAILED)\n", out) else None

    return wait_for(final, 120, f"local deployment {deployment_id}")


def test_greengrass_cli_and_local_deployments(aws_endpoint, device_root: Path, tmp_path: Path) -> None:
    operator = Operator(aws_endpoint)
    cli = "aws.greengrass.Cli"
    cli_version = _plugin(operator, cli)
    caller = unique("com.example.Deployer")
    access = {
        "accessControl": {
            cli: {
                f"{caller}:cli:1": _policy(
                    "aws.greengrass#ListLocalDeployments",
                    "aws.greengrass#GetLocalDeploymentStatus",
                    resources=["*"],
                )
            }
        }
    }
    app = {"local_deployment_app.py": _app("local_deployment_app.py")}
    operator.component(caller, "1.0.0", _python("local_deployment_app.py"), files=app, defaults=access)
    # a component only on the device: recipe and artifact folders for a local deployment
    local = unique("com.example.Local")
    recipes, artifacts = tmp_path / "recipes", tmp_path / "artifacts"
    recipes.mkdir()
    (artifacts / local / "1.0.0").mkdir(parents=True)
    (artifacts / local / "1.0.0" / "hello.txt").write_text("hello from the artifact\n")
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": local,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {"greeting": "hello"}},
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {
                    "Run": "cat {artifacts:path}/hello.txt; echo greeting={configuration:/greeting}; "
                    "sleep 600"
                },
                "Artifacts": [{"Uri": f"s3://not-used/{local}/hello.txt"}],
            }
        ],
    }
    (recipes / f"{local}-1.0.0.json").write_text(json.dumps(recipe))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.yaml").write_text("RecipeFormatVersion: '2020-01-25'\nComponentName: x\n")
    group, group_arn = operator.group()
    thing = unique("jetson")
    with running_device(aws_endpoint, device_root, thing, group):
        assert not (device_root / "bin" / "greengrass-cli").exists()  # not before the CLI is deployed
        deployment = operator.deploy(group_arn, {cli: cli_version, caller: "1.0.0"})
        succeeded(operator, thing, deployment, device_root, caller)
        step(device_root, caller, "ready")
        steps = {s["step"]: s for s in ipc_steps(device_root, caller)}

        update = json.dumps({local: {"MERGE": {"greeting": "hi"}}})
        created = _cli(
            device_root, "deployment", "create", "--recipeDir", str(recipes), "--artifactDir", str(artifacts),
            "--merge", f"{local}=1.0.0", "--update-config", update,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        found = re.fullmatch(r"Local deployment submitted! Deployment Id: ([0-9a-f-]{36})\n", created.stdout)
        assert found is not None, created.stdout
        first = found.group(1)
        status = _local_status(device_root, first)
        assert re.fullmatch(
            rf"{first}: SUCCEEDED\nCreated on: \d\d-\d\d-\d{{4}} \d\d:\d\d:\d\d UTC\n", status
        ), status
        wait_for(lambda: "greeting=hi" in component_log(device_root, local), 60, "the local component's run")
        assert "hello from the artifact" in component_log(device_root, local)

        details = _cli(device_root, "component", "details", "--name", local)
        assert details.stdout == (
            f"Component Name: {local}\n    Version: 1.0.0\n    State: RUNNING\n"
            '    Configuration: {"greeting":"hi"}\n'
        )
        listed = _cli(device_root, "component", "list").stdout
        assert listed.startswith("Components currently running in Greengrass:\n")
        assert f"Component Name: {local}\n    Version: 1.0.0\n    State: RUNNING\n" in listed
        assert f"Component Name: {caller}\n" in listed

        failed_run = _cli(device_root, "deployment", "create", "--recipeDir", str(broken))
        failed = failed_run.stdout.rsplit(" ", 1)[-1].strip()
        failure = _local_status(device_root, failed)
        assert failure.startswith(f"{failed}: FAILED\nCreated on: ")
        assert "Detailed Status: FAILED_NO_STATE_CHANGE\n" in failure
        stack = "DEPLOYMENT_FAILURE, COMPONENT_PACKAGE_LOADING_ERROR, RECIPE_PARSE_ERROR"
        assert f"Deployment Error Stack: {stack}\n" in failure
        assert f"Deployment Failure Cause: Unable to parse recipe {broken / 'bad.yaml'}" in failure

        history = _cli(device_root, "deployment", "list").stdout
        assert history.count("Deployment ID: ") == 2
        assert f"Deployment ID: {first}\nCreated on: " in history and "Status: SUCCEEDED\n" in history

        stop = _cli(device_root, "component", "stop", "--names", local)
        assert (stop.returncode, stop.stdout) == (0, "")
        wait_for(lambda: device_root_state(device_root, local) == "FINISHED", 60, f"{local} stopped")

        removal = _cli(device_root, "deployment", "create", "--remove", local)
        second = removal.stdout.rsplit(" ", 1)[-1].strip()
        assert _local_status(device_root, second).startswith(f"{second}: SUCCEEDED\n")
        assert f"Component Name: {local}\n" not in _cli(device_root, "component", "list").stdout

        missing = _cli(device_root, "component", "details", "--name", "com.example.Nothing")
        assert (missing.returncode, missing.stderr) == (
            1,
            "ResourceNotFoundError: Component with name com.example.Nothing not found in Greengrass\n",
        )
    assert steps["create"]["error"] == {
        "type": "UnauthorizedError",
        "message": f"Principal {caller} is not authorized to perform aws.greengrass.Cli:"
        "aws.greengrass#CreateLocalDeployment on resource *",
    }
    assert steps["list"]["count"] == 0
    assert steps["bad-id"]["error"] == {
        "type": "InvalidArgumentsError",
        "message": "Invalid deploymentId format received. DeploymentId is a UUID",
    }
    assert steps["unknown-id"]["error"] == {
        "type": "ResourceNotFoundError",
        "message": "Cannot find deployment",
    }
    assert not (device_root / "cli_ipc_info").exists()  # removed with the device


def device_root_state(root: Path, component: str) -> str | None:
    status = json.loads((root / "run" / "status.json").read_text())
    return status["components"].get(component, {}).get("state")


def test_the_iot_core_fixture_connects_the_core_device_fixture(iot_core, core_device) -> None:
    """The pytest plugin: a test that asks for iot_core gets devices connected to it."""
    assert core_device.device.iot_core.endpoint == iot_core.url
    wait_for(lambda: core_device.device.iot_core.online, 30, "the device's MQTT connection")
    assert (
        f"Connected to IoT Core. {{endpoint={iot_core.url}, clientId={core_device.thing}}}"
        in core_device.logs()
    )
