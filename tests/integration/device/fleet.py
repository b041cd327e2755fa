"""The device tests' fleet operator (boto3 only) and simulated core devices.

The operator publishes components (a ZIP artifact uploaded to S3 and a recipe through
CreateComponentVersion), deploys to a thing group and reads results through
ListEffectiveDeployments / ListInstalledComponents, exactly as a scenario does against real AWS.
Devices run in-process (a :class:`CoreDevice` on a thread, :mod:`harness.testing` — the same code
the pytest plugin's ``core_device`` fixture uses) or as an ``edge-harness device run`` subprocess
when a test needs to SIGKILL one.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fake_device.nucleus.artifacts import RetryPolicy
from fake_device.nucleus.kernel import CoreDevice
from harness import testing
from harness.services.aws import AwsEndpoint
from harness.testing import component_log, processes_with, unique, wait_for, zip_bytes

__all__ = [
    "FAST_RETRIES",
    "Operator",
    "component_log",
    "processes_with",
    "running_device",
    "unique",
    "wait_for",
    "zip_bytes",
]

#: artifact retries that do not sleep, so failure tests are quick
FAST_RETRIES = {
    "checksum_retry": RetryPolicy(max_attempts=2, initial_interval=0.0, max_interval=0.0),
    "sleep": lambda _s: None,
}


class Operator:
    """The cloud side of a test, through boto3 on the AWS endpoint."""

    def __init__(self, endpoint: AwsEndpoint) -> None:
        self.endpoint = endpoint
        self.gg = endpoint.client("greengrassv2")
        self.iot = endpoint.client("iot")
        self.s3 = endpoint.client("s3")
        self.bucket = unique("artifacts")
        self.s3.create_bucket(Bucket=self.bucket)

    def upload(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return f"s3://{self.bucket}/{key}"

    def component(
        self,
        name: str,
        version: str,
        lifecycle: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, str | bytes] | None = None,
        archive: bytes | None = None,
        archive_name: str = "app.zip",
        manifests: list[dict[str, Any]] | None = None,
        defaults: Mapping[str, Any] | None = None,
        dependencies: Mapping[str, Any] | None = None,
        recipe_extra: Mapping[str, Any] | None = None,
    ) -> str:
        artifacts = []
        if files is not None or archive is not None:
            body = archive if archive is not None else zip_bytes(files or {})
            uri = self.upload(f"{name}/{version}/{archive_name}", body)
            artifacts.append({"Uri": uri, "Unarchive": "ZIP"})
        recipe: dict[str, Any] = {
            "RecipeFormatVersion": "2020-01-25",
            "ComponentName": name,
            "ComponentVersion": version,
            "Manifests": manifests
            if manifests is not None
            else [{"Platform": {"os": "linux"}, "Lifecycle": dict(lifecycle or {}), "Artifacts": artifacts}],
        }
        if defaults is not None:
            recipe["ComponentConfiguration"] = {"DefaultConfiguration": dict(defaults)}
        if dependencies:
            recipe["ComponentDependencies"] = dict(dependencies)
        recipe.update(recipe_extra or {})
        return str(self.gg.create_component_version(inlineRecipe=json.dumps(recipe).encode())["arn"])

    def group(self) -> tuple[str, str]:
        name = unique("fleet")
        arn = self.iot.create_thing_group(thingGroupName=name)["thingGroupArn"]
        return name, arn

    def deploy(
        self,
        target_arn: str,
        components: Mapping[str, str | Mapping[str, Any]],
        *,
        failure_handling: str = "ROLLBACK",
    ) -> str:
        spec: dict[str, Any] = {}
        for name, value in components.items():
            if isinstance(value, str):
                spec[name] = {"componentVersion": value}
            else:
                entry = dict(value)
                update = entry.get("configurationUpdate")
                if update and isinstance(update.get("merge"), Mapping):
                    entry["configurationUpdate"] = {**update, "merge": json.dumps(update["merge"])}
                spec[name] = entry
        answer = self.gg.create_deployment(
            targetArn=target_arn,
            deploymentName=unique("deployment"),
            components=spec,
            deploymentPolicies={"failureHandlingPolicy": failure_handling},
        )
        return str(answer["deploymentId"])

    def effective(self, thing: str, deployment_id: str) -> dict[str, Any] | None:
        with contextlib.suppress(self.gg.exceptions.ResourceNotFoundException):
            for item in self.gg.list_effective_deployments(coreDeviceThingName=thing)["effectiveDeployments"]:
                if item["deploymentId"] == deployment_id:
                    return dict(item)
        return None

    def wait_deployment(self, thing: str, deployment_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until the device reported a final status for the deployment (bounded loop)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.effective(thing, deployment_id)
            if last and last["coreDeviceExecutionStatus"] not in ("QUEUED", "IN_PROGRESS"):
                return last
            time.sleep(0.2)
        raise AssertionError(f"deployment {deployment_id} on {thing} not finished after {timeout} s: {last}")

    def installed(self, thing: str) -> dict[str, dict[str, Any]]:
        answer = self.gg.list_installed_components(coreDeviceThingName=thing)
        return {c["componentName"]: c for c in answer["installedComponents"]}


@contextlib.contextmanager
def running_device(
    endpoint: AwsEndpoint, root: Path, thing: str, group: str, **options: Any
) -> Iterator[CoreDevice]:
    """:func:`harness.testing.running_device` with artifact retries that do not sleep."""
    options.setdefault("artifact_options", FAST_RETRIES)
    with testing.running_device(endpoint, root, thing, group, **options) as device:
        yield device
