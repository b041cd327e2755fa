"""The fleet operator's side of a scenario: only the public AWS APIs a team uses.

Publishing a component version is what a developer does by hand: zip the artifact folder,
upload it to S3, point the recipe's artifact URI at the uploaded object, and call
CreateComponentVersion with the recipe. Deployments go to a thing group (or one thing) with
CreateDeployment; results are read back with ListEffectiveDeployments, ListInstalledComponents
and GetCoreDevice — the same calls against the emulated endpoint and against real AWS, which is
what lets one scenario run on both.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

ClientFactory = Callable[..., Any]

_S3_URI = re.compile(r"^s3://([^/]+)/(.+)$")


@dataclass(frozen=True)
class PublishedVersion:
    """A component version as published: its ARN and where each artifact went."""

    name: str
    version: str
    arn: str
    artifacts: dict[str, str]  # original recipe URI → uploaded s3:// URI


def _load_recipe(path: Path) -> dict[str, Any]:
    """The recipe as written, to rewrite its artifact URIs and publish it.

    The scenario loader checked it already; this only refuses what would crash or hang (a
    text past the bounds of every YAML text, harness.yamldoc).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from harness.yamldoc import YamlLimitError, check_yaml, read_text

    text = read_text(path, "recipe")
    try:
        if path.suffix.lower() == ".json":
            loaded = json.loads(text)
        else:
            check_yaml(text)
            loaded = YAML(typ="safe").load(text)
    except YamlLimitError as err:
        where = f"{path}:{err.location}" if err.location else str(path)
        raise HarnessError(f"{where}: {err.problem}", hint=err.hint) from None
    except (YAMLError, ValueError, RecursionError) as err:
        raise HarnessError(
            f"{path} is not a valid recipe: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
            hint=f"edge-harness lint recipe {path}",
        ) from None
    if not isinstance(loaded, dict):
        raise HarnessError(f"{path} is not a recipe (a mapping)", hint=f"edge-harness lint recipe {path}")
    return loaded


class FleetOperator:
    """boto3 clients for greengrassv2, iot and s3, plus the bucket artifacts are uploaded to."""

    def __init__(
        self, client: ClientFactory, *, bucket: str | None = None, create_bucket: bool = True
    ) -> None:
        self.gg = client("greengrassv2")
        self.iot = client("iot")
        self.s3 = client("s3")
        self.bucket = bucket or f"edge-harness-{uuid.uuid4().hex[:12]}"
        if create_bucket:
            region = self.s3.meta.region_name
            if region and region != "us-east-1":
                self.s3.create_bucket(
                    Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": region}
                )
            else:
                self.s3.create_bucket(Bucket=self.bucket)
        self.thing_group_arns: dict[str, str] = {}

    # -- components ----------------------------------------------------------------------------
    def publish(self, recipe_path: Path, archive: Path | None, *, prefix: str = "") -> PublishedVersion:
        """Upload ``archive`` (if any) and create the component version from ``recipe_path``.

        Every artifact URI of the recipe whose file name is the archive's is rewritten to the
        uploaded object; other ``s3://`` URIs are left as written (they must exist already).
        """
        recipe = _load_recipe(recipe_path)
        name, version = str(recipe.get("ComponentName")), str(recipe.get("ComponentVersion"))
        rewritten: dict[str, str] = {}
        if archive is not None:
            key = f"{prefix}{name}/{version}/{archive.name}"
            self.s3.upload_file(str(archive), self.bucket, key)
            uploaded = f"s3://{self.bucket}/{key}"
            for manifest in recipe.get("Manifests") or []:
                for artifact in manifest.get("Artifacts") or []:
                    uri_key = "URI" if "URI" in artifact else "Uri"
                    uri = str(artifact.get(uri_key, ""))
                    if uri.rsplit("/", 1)[-1] == archive.name:
                        rewritten[uri] = uploaded
                        artifact[uri_key] = uploaded
            if not rewritten:
                raise HarnessError(
                    f"{recipe_path}: no artifact URI ends with {archive.name}",
                    hint=f"the recipe must list the artifact as s3://…/{archive.name}",
                )
        answer = self.gg.create_component_version(inlineRecipe=json.dumps(recipe).encode())
        return PublishedVersion(name, version, str(answer["arn"]), rewritten)

    def replace_artifact(self, s3_uri: str, body: Path) -> None:
        """Overwrite an uploaded artifact (after its digest went into the recipe): a fault."""
        match = _S3_URI.match(s3_uri)
        if match is None:
            raise HarnessError(f"not an s3:// URI: {s3_uri}")
        self.s3.upload_file(str(body), match.group(1), match.group(2))

    # -- targets -------------------------------------------------------------------------------
    def thing_group_arn(self, name: str) -> str:
        """The group's ARN, creating the group if it does not exist (devices also create it)."""
        if name not in self.thing_group_arns:
            try:
                arn = self.iot.describe_thing_group(thingGroupName=name)["thingGroupArn"]
            except self.iot.exceptions.ResourceNotFoundException:
                arn = self.iot.create_thing_group(thingGroupName=name)["thingGroupArn"]
            self.thing_group_arns[name] = str(arn)
        return self.thing_group_arns[name]

    def things_in_group(self, group: str) -> list[str]:
        try:
            pages = self.iot.get_paginator("list_things_in_thing_group").paginate(thingGroupName=group)
            return [name for page in pages for name in page.get("things", [])]
        except self.iot.exceptions.ResourceNotFoundException:
            return []

    def thing_arn(self, name: str) -> str:
        return str(self.iot.describe_thing(thingName=name)["thingArn"])

    # -- deployments ---------------------------------------------------------------------------
    def deploy(
        self,
        target_arn: str,
        components: Mapping[str, Mapping[str, Any]],
        *,
        name: str,
        failure_handling: str = "ROLLBACK",
        timeout_s: int | None = None,
    ) -> str:
        """CreateDeployment; ``components`` maps name → {version, merge (dict), reset (list)}."""
        spec: dict[str, Any] = {}
        for component, wanted in components.items():
            entry: dict[str, Any] = {"componentVersion": str(wanted["version"])}
            update: dict[str, Any] = {}
            if wanted.get("merge") is not None:
                update["merge"] = json.dumps(wanted["merge"])
            if wanted.get("reset"):
                update["reset"] = list(wanted["reset"])
            if update:
                entry["configurationUpdate"] = update
            spec[component] = entry
        policies: dict[str, Any] = {"failureHandlingPolicy": failure_handling}
        if timeout_s is not None:
            policies["componentUpdatePolicy"] = {
                "timeoutInSeconds": int(timeout_s),
                "action": "NOTIFY_COMPONENTS",
            }
        answer = self.gg.create_deployment(
            targetArn=target_arn,
            deploymentName=name,
            components=spec,
            deploymentPolicies=policies,
        )
        return str(answer["deploymentId"])

    def effective_deployment(self, thing: str, deployment_id: str) -> dict[str, Any] | None:
        with contextlib.suppress(self.gg.exceptions.ResourceNotFoundException):
            pages = self.gg.get_paginator("list_effective_deployments").paginate(coreDeviceThingName=thing)
            for page in pages:
                for item in page["effectiveDeployments"]:
                    if item["deploymentId"] == deployment_id:
                        return dict(item)
        return None

    def installed(self, thing: str) -> dict[str, dict[str, Any]]:
        """Installed components of a core device (empty before it first reported)."""
        try:
            answer = self.gg.list_installed_components(coreDeviceThingName=thing, topologyFilter="ALL")
        except self.gg.exceptions.ResourceNotFoundException:
            return {}
        return {c["componentName"]: dict(c) for c in answer["installedComponents"]}

    def core_device_status(self, thing: str) -> str | None:
        try:
            return str(self.gg.get_core_device(coreDeviceThingName=thing)["status"])
        except self.gg.exceptions.ResourceNotFoundException:
            return None
