"""The ``expect_iot_core`` step: MQTT messages core devices sent to IoT Core (``PublishToIoTCore``).

On the simulated target the harness's broker stands in for IoT Core (:mod:`harness.services.mqtt`).
Before the devices boot, :class:`IotCoreRecorder` subscribes to the topic filter of every
``expect_iot_core`` step, so a step also sees what was published before it started
(``from_start``, the default). The step passes once ``min_count`` messages arrived (with
``match: all`` every one must satisfy ``where``, with ``any`` only the counted ones) and fails
when ``within_s`` passes first, or at once when a message breaks ``match: all``.
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
    from harness.services.mqtt import IotCoreBroker, IotCoreMessage, IotCoreSubscription

__all__ = ["IotCoreRecorder", "step_expect_iot_core"]

_POLL_S = 0.2


class IotCoreRecorder:
    """The harness's subscriptions to IoT Core, one per topic filter the scenario checks."""

    def __init__(self, broker: IotCoreBroker | None) -> None:
        self.broker = broker
        self._subscriptions: dict[str, IotCoreSubscription] = {}

    def start(self, scenario: m.Scenario, values: dict[str, str]) -> None:
        for step in scenario.steps:
            if isinstance(step, m.ExpectIotCoreStep):
                self.subscription(substitute(step.topic, values))

    def subscription(self, topic_filter: str) -> IotCoreSubscription:
        if self.broker is None:
            raise HarnessError(
                "expect_iot_core: this target has no IoT Core broker the harness can read",
                hint="run the scenario on the simulated target (--target sim)",
            )
        if topic_filter not in self._subscriptions:
            self._subscriptions[topic_filter] = self.broker.subscribe(topic_filter)
        return self._subscriptions[topic_filter]


def _payload(message: IotCoreMessage) -> Any:
    try:
        return json.loads(message.payload)
    except ValueError:
        return message.payload.decode("utf-8", errors="replace")


def step_expect_iot_core(ctx: RunContext, step: m.ExpectIotCoreStep) -> dict[str, Any]:
    from harness.scenario.runner import StepFailed

    topic = substitute(step.topic, ctx.values)
    subscription = ctx.iot_core.subscription(topic)
    started = time.time()
    deadline = time.monotonic() + step.within_s
    while True:
        messages = [m for m in subscription.messages if step.from_start or m.received >= started]
        counted = 0
        for message in messages:
            payload = _payload(message)
            problems = [p for p in (predicate_problem(payload, pred) for pred in step.where) if p]
            if problems and step.match == "all":
                raise StepFailed(
                    f"{message.topic}: {problems[0]} (in {json.dumps(payload)[:300]})",
                    details={"topic": topic, "messages": len(messages)},
                )
            counted += 0 if problems else 1
        details = {
            "topic": topic,
            "messages": len(messages),
            "matching": counted,
            "last": [_payload(m) for m in messages[-3:]],
        }
        if counted >= step.min_count:
            return details
        if time.monotonic() >= deadline:
            raise StepFailed(
                f"{topic}: {counted} matching message(s) of {len(messages)} within {step.within_s:g} s, "
                f"expected at least {step.min_count}",
                details=details,
            )
        time.sleep(_POLL_S)
