"""What a scenario would do, without doing it: the dry run, and the real-AWS preflight."""

from __future__ import annotations

from collections.abc import Iterator

from harness.errors import HarnessError
from harness.scenario import model as m


def describe_plan(scenario: m.Scenario, *, target: str = "sim") -> Iterator[str]:
    """One line per AWS call or action, in order (``--dry-run``)."""
    where = {
        "sim": "the emulated AWS endpoint",
        "lab": "the lab file's AWS (the harness's endpoint on the lab address, or real AWS)",
    }.get(target, "AWS (default credential chain)")
    yield f"scenario {scenario.name} on {where}, backend {scenario.services.backend}"
    if target == "sim":
        kafka = scenario.services.kafka_external or "a local broker (tansu)"
        yield f"start: AWS endpoint; Kafka: {kafka}"
    for topic in scenario.services.topics:
        yield f"kafka: create topic {topic}"
    yield "s3: CreateBucket edge-harness-<random>"
    for name, versions in scenario.components.items():
        for version, spec in versions.items():
            if spec.artifact is not None:
                yield f"package: {spec.artifact} → ZIP; s3: PutObject s3://<bucket>/{name}/{version}/<zip>"
            yield f"greengrassv2: CreateComponentVersion {name} {version} (recipe {spec.recipe})"
    for device in scenario.devices:
        things = ", ".join(device.things)
        if target == "sim":
            yield f"devices: boot {things} (profile {device.profile}) in thing group {device.thing_group}"
        elif target == "lab":
            yield f"devices: reserve the labgrid places of {things} (thing group {device.thing_group})"
        else:
            yield f"devices: expect core devices in thing group {device.thing_group}"
    for index, step in enumerate(scenario.steps, 1):
        yield f"step {index} {step.kind}: {step.name}" + _calls(step)


def _calls(step: m.Step) -> str:
    if isinstance(step, m.DeployStep):
        versions = ", ".join(f"{n} {c.version}" for n, c in step.components.items())
        return f" → greengrassv2: CreateDeployment target {step.target}: {versions}"
    if isinstance(step, m.WaitForStep):
        if step.what == "deployment":
            return " → greengrassv2: ListEffectiveDeployments (poll)"
        if step.what == "component":
            return " → greengrassv2: ListInstalledComponents (poll)"
        return " → greengrassv2: GetCoreDevice (poll)"
    if isinstance(step, m.ExpectMessagesStep):
        return f" → kafka: read {step.topic}"
    if isinstance(step, m.AssertLogsStep):
        return " → device log files"
    if isinstance(step, m.InjectStep):
        return f" → fault {step.fault}"
    return ""


def check_aws_credentials() -> None:
    """Fail fast, with a clear message, when no AWS credentials are configured."""
    import boto3

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise HarnessError(
            "--target aws needs AWS credentials, and none were found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_REGION), "
            "or use --dry-run to see what would be called",
        )
    if session.region_name is None:
        raise HarnessError("--target aws needs a region", hint="set AWS_REGION or a profile with a region")
