"""Lifecycle operations: a component reports its state and takes part in deployments.

Follows aws-greengrass-nucleus ``builtin/services/lifecycle/LifecycleIPCEventStreamAgent`` and
``lifecyclemanager/UpdateSystemPolicyService``:

- **UpdateState** (``RUNNING`` | ``ERRORED``): the caller's own state, as
  ``Lifecycle.reportState`` takes it — only transitions the nucleus allows from the current
  state count (STARTING → RUNNING/ERRORED, RUNNING → ERRORED, …); any other report is logged and
  ignored, and the call still succeeds. A component that reports RUNNING while its ``startup``
  script still runs is RUNNING; ERRORED starts the usual recover/restart path.
- **SubscribeToComponentUpdates**: before a deployment with ``componentUpdatePolicy``
  NOTIFY_COMPONENTS changes anything, every subscription gets a ``preUpdateEvent``; the deployment
  waits until each has answered with **DeferComponentUpdate** or the policy's timeout passed; the
  largest ``recheckAfterMs`` asked for delays it, after which the components are asked again; no
  deferral (or ``recheckAfterMs`` 0) lets it go on. After the deployment (success, failure or
  rollback) each subscription gets a ``postUpdateEvent``.
- **DeferComponentUpdate**: only from a subscribed component, with the ``deploymentId`` of the
  pending event; an answer that comes too late (or for another deployment) is a ``ServiceError``
  "Time limit to respond to PreComponentUpdateEvent exceeded". The nucleus keeps one pending answer
  per component and deployment: a component with two subscriptions completes only the last one,
  and the deployment waits out the timeout for the other, on the device as here.
- A deployment canceled while components defer it stops waiting at once
  (``DeploymentService.cancelCurrentDeployment`` → ``discardPendingUpdateAction``); the device
  then sends the postUpdateEvent that tells components to go on with their work.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from fake_device.nucleus.ipc.model import (
    InvalidArgumentsError,
    ResourceNotFoundError,
    ServiceError,
    ShapeError,
    field,
    shape,
)
from fake_device.nucleus.ipc.server import Call, IpcServer, Reply, Stream
from fake_device.nucleus.lifecycle import ComponentService, State
from fake_device.nucleus.logs import NucleusLog

__all__ = ["LifecycleAgent", "LifecycleHost"]

LOGGER = "com.aws.greengrass.lifecyclemanager.UpdateSystemPolicyService"
REPORTABLE = ("RUNNING", "ERRORED")  # ReportedLifecycleState
#: how often a wait for components looks whether its deployment was canceled
CANCEL_CHECK_SECONDS = 1.0


class LifecycleHost(Protocol):
    log: NucleusLog

    @property
    def services(self) -> Mapping[str, ComponentService]: ...


class LifecycleAgent:
    """The lifecycle operations of one device's IPC server."""

    def __init__(self, host: LifecycleHost) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Stream]] = {}
        self._answers: dict[tuple[str, str], concurrent.futures.Future[Mapping[str, Any]]] = {}

    def register(self, server: IpcServer) -> None:
        server.register(shape("UpdateState"), self.update_state)
        server.register(shape("SubscribeToComponentUpdates"), self.subscribe_to_component_updates)
        server.register(shape("DeferComponentUpdate"), self.defer_component_update)

    # -- operations ------------------------------------------------------------------------------
    def update_state(self, call: Call) -> Reply:
        state = field(call.request, "state", str)
        if state not in REPORTABLE:
            raise ShapeError(f"state must be one of {', '.join(REPORTABLE)}, got {state!r}")
        service = self.host.services.get(call.component)
        if service is None:
            raise ResourceNotFoundError(
                "Component with given name not found", resource_type="Component", resource_name=call.component
            )
        service.report_state(State(state))
        return Reply(shape("UpdateStateResponse"))

    def subscribe_to_component_updates(self, call: Call) -> Reply:
        component = call.component
        if component not in self.host.services:
            raise ResourceNotFoundError(
                "Component with given name not found currently in Greengrass",
                resource_type="Component",
                resource_name=component,
            )
        with self._lock:
            self._listeners.setdefault(component, []).append(call.stream)

        def unsubscribe() -> None:
            with self._lock:
                streams = self._listeners.get(component, [])
                if call.stream in streams:
                    streams.remove(call.stream)
                if not streams:
                    self._listeners.pop(component, None)

        call.stream.on_close(unsubscribe)
        return Reply(shape("SubscribeToComponentUpdatesResponse"), keep_open=True)

    def defer_component_update(self, call: Call) -> Reply:
        with self._lock:
            subscribed = call.component in self._listeners
        if not subscribed:
            raise InvalidArgumentsError("Component is not subscribed to component update events")
        deployment_id = field(call.request, "deploymentId", str)
        if deployment_id is None:
            raise InvalidArgumentsError("Cannot defer the update, the deployment ID provided was null")
        recheck = field(call.request, "recheckAfterMs", int)
        with self._lock:
            answer = self._answers.pop((call.component, deployment_id), None)
        if answer is None:
            raise ServiceError("Time limit to respond to PreComponentUpdateEvent exceeded")
        answer.set_result(
            {"deploymentId": deployment_id, "recheckAfterMs": recheck, "message": call.request.get("message")}
        )
        return Reply(shape("DeferComponentUpdateResponse"))

    # -- from the device's deployments -----------------------------------------------------------
    @property
    def has_subscribers(self) -> bool:
        with self._lock:
            return bool(self._listeners)

    def _send_pre_update(self, deployment_id: str) -> list[concurrent.futures.Future[Mapping[str, Any]]]:
        """``sendPreComponentUpdateEvent``: one event and one pending answer per subscription."""
        event = {"preUpdateEvent": {"deploymentId": deployment_id, "isGgcRestarting": False}}
        futures = []
        with self._lock:
            self._answers.clear()  # discardDeferComponentUpdateFutures
            for component, streams in self._listeners.items():
                for stream in streams:
                    future: concurrent.futures.Future[Mapping[str, Any]] = concurrent.futures.Future()
                    self._answers[(component, deployment_id)] = future  # the latest one per component
                    stream.send_event(shape("ComponentUpdatePolicyEvents"), event)
                    futures.append(future)
        return futures

    def wait_for_disruptable(
        self,
        deployment_id: str,
        timeout: float,
        stop: threading.Event,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> bool:
        """``UpdateSystemPolicyService.startup``'s loop: notify, collect deferrals, wait, repeat
        until no component defers. Returns early when ``stop`` is set, or when ``cancelled()``
        (asked about once a second) says the deployment was canceled; returns whether it was."""
        while not stop.is_set():
            futures = self._send_pre_update(deployment_id)
            if not futures:
                return False
            if self._wait_answers(futures, timeout, stop, cancelled):
                with self._lock:
                    self._answers.clear()
                return True
            recheck_ms = 0
            for future in futures:
                if not future.done():
                    continue
                answer = future.result()
                if answer.get("recheckAfterMs") is None:
                    self.host.log.warn(LOGGER, "", "Deferral request contains null value, ignoring...")
                    continue
                if int(answer["recheckAfterMs"]) > recheck_ms:
                    recheck_ms = int(answer["recheckAfterMs"])
                    self.host.log.info(
                        LOGGER,
                        "service-update-deferred",
                        f"deferred for {recheck_ms} millis with message {answer.get('message')}",
                    )
            with self._lock:
                self._answers.clear()
            if recheck_ms <= 0:
                return False
            # the nucleus sleeps the whole deferral after the answers are in, then asks again
            self.host.log.info(LOGGER, "service-update-pending", waitInMS=recheck_ms)
            if _sleep(recheck_ms / 1000, stop, cancelled):
                return True
        return False

    @staticmethod
    def _wait_answers(
        futures: list[concurrent.futures.Future[Mapping[str, Any]]],
        timeout: float,
        stop: threading.Event,
        cancelled: Callable[[], bool],
    ) -> bool:
        """Wait for every answer or ``timeout``; whether the deployment was canceled meanwhile."""
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _, pending = concurrent.futures.wait(futures, timeout=min(left, CANCEL_CHECK_SECONDS))
            if not pending:
                return False
            if cancelled():
                return True
        return False

    def send_post_update(self, deployment_id: str) -> None:
        """``sendPostComponentUpdateEvent``: the deployment's changes are done."""
        event = {"postUpdateEvent": {"deploymentId": deployment_id}}
        with self._lock:
            streams = [s for listeners in self._listeners.values() for s in listeners]
        for stream in streams:
            stream.send_event(shape("ComponentUpdatePolicyEvents"), event)


def _sleep(seconds: float, stop: threading.Event, cancelled: Callable[[], bool]) -> bool:
    """Sleep ``seconds`` unless stopped; whether the deployment was canceled meanwhile."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if stop.wait(min(left, CANCEL_CHECK_SECONDS)):
            return False
        if cancelled():
            return True
    return False
