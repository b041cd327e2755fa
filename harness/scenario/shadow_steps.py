"""The ``update_shadow`` and ``expect_shadow`` steps: device shadows from the cloud side (iot-data).

``update_shadow`` merges a desired and/or reported state into a thing's classic or named shadow
(``UpdateThingShadow``), what a cloud application does to steer a device; ``expect_shadow`` reads
the shadow (``GetThingShadow``) until every ``where`` predicate holds (``path`` into the shadow
document, e.g. ``state.reported.fps``) — what a component wrote through the ShadowManager.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.scenario import model as m
from harness.scenario.checks import predicate_problem
from harness.scenario.variables import substitute

if TYPE_CHECKING:
    from harness.scenario.runner import RunContext

__all__ = ["step_expect_shadow", "step_update_shadow"]

_POLL_S = 0.5


def _substituted(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return substitute(value, values)
    if isinstance(value, dict):
        return {k: _substituted(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, values) for v in value]
    return value


def _target(ctx: RunContext, thing: str, shadow: str | None) -> dict[str, str]:
    target = {"thingName": substitute(thing, ctx.values)}
    if shadow:
        target["shadowName"] = shadow
    return target


def step_update_shadow(ctx: RunContext, step: m.UpdateShadowStep) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    target = _target(ctx, step.thing, step.shadow)
    document = {"state": _substituted(step.state, ctx.values)}
    try:
        answer = ctx.client("iot-data").update_thing_shadow(**target, payload=json.dumps(document).encode())
    except (BotoCoreError, ClientError) as err:
        raise HarnessError(f"update_shadow {target}: {err}", hint="is the thing registered?") from None
    accepted = json.loads(answer["payload"].read())
    return {**target, "version": accepted.get("version")}


def step_expect_shadow(ctx: RunContext, step: m.ExpectShadowStep) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    from harness.scenario.runner import StepFailed

    target = _target(ctx, step.thing, step.shadow)
    data = ctx.client("iot-data")
    deadline = time.monotonic() + step.within_s
    last: Any = None
    problem = "no shadow yet"
    while True:
        try:
            last = json.loads(data.get_thing_shadow(**target)["payload"].read())
            problems = [p for p in (predicate_problem(last, pred) for pred in step.where) if p]
            problem = problems[0] if problems else ""
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise HarnessError(f"expect_shadow {target}: {err}") from None
        except BotoCoreError as err:
            raise HarnessError(f"expect_shadow {target}: {err}") from None
        if not problem:
            return {**target, "version": last.get("version"), "state": last.get("state")}
        if time.monotonic() >= deadline:
            raise StepFailed(
                f"shadow {target}: {problem} after {step.within_s:g} s",
                details={**target, "shadow": last},
            )
        time.sleep(_POLL_S)
