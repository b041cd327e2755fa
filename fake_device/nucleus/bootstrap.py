"""Bootstrap steps: which components need theirs run by a deployment, in which order, and what
their exit codes mean (aws-greengrass-nucleus ``deployment/bootstrap/BootstrapManager.java``,
``BootstrapSuccessCode.java``, ``GenericExternalService.isBootstrapRequired``/``bootstrap``).

A deployment needs a component's bootstrap step when the component is new and has one, or is
already on the device and either its version or its bootstrap step changed. Such a deployment is
not applied by ``DefaultActivator`` but by ``KernelUpdateActivator``: every component stops, the
new configuration is written, the bootstrap steps run one after the other (dependencies first),
and the nucleus restarts (exit code 100) or the device reboots (101) to start the components of
the new configuration. :class:`~fake_device.nucleus.kernel.CoreDevice` plays those stages; this
module holds the rules they follow.

Exit codes of a bootstrap step: 0 — done, carry on; 100 — done, restart the nucleus before the
next task; 101 — done, reboot the device before the next task; anything else fails the
deployment (``COMPONENT_BOOTSTRAP_ERROR``). The nucleus restarts even when every step exited 0
("exit code 0 is treated as 100 here"). A step that outlives its timeout (120 s unless its
``Timeout`` says otherwise) fails with ``COMPONENT_BOOTSTRAP_TIMEOUT``. A failure is always
rolled back, whatever the deployment's ``failureHandlingPolicy``
(``KernelUpdateActivator.rollback``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.store import EffectiveConfig

__all__ = [
    "LOGGER",
    "NO_OP",
    "REQUEST_REBOOT",
    "REQUEST_RESTART",
    "bootstrap_failure",
    "bootstrap_tasks",
    "bootstrap_timeout",
    "is_error_code",
]

LOGGER = "com.aws.greengrass.deployment.bootstrap.BootstrapManager"
NO_OP = 0
REQUEST_RESTART = 100
REQUEST_REBOOT = 101
BOOTSTRAP_STACK = ("DEPLOYMENT_FAILURE", "COMPONENT_UPDATE_ERROR")


def is_error_code(code: int) -> bool:
    """``BootstrapSuccessCode.isErrorCode``."""
    return code not in (NO_OP, REQUEST_RESTART, REQUEST_REBOOT)


def _bootstrap_step(entry: Mapping[str, Any]) -> Any:
    """The bootstrap step of a configured component, or None (``serviceLifecycleDefined``: a
    step written with no value does not count)."""
    step = (entry.get("lifecycle") or {}).get("bootstrap")
    if step is None or (isinstance(step, Mapping) and dict(step) == {"script": None}):
        return None
    return step


def _required(name: str, current: EffectiveConfig, new_entry: Mapping[str, Any]) -> bool:
    """``BootstrapManager.serviceBootstrapRequired``."""
    step = _bootstrap_step(new_entry)
    if step is None:
        return False
    old = current.services.get(name)
    if old is None:
        return True  # a new component with a bootstrap step
    if str(old.get("version")) != str(new_entry.get("version")):
        return True
    return _bootstrap_step(old) != step


def bootstrap_tasks(current: EffectiveConfig, new: EffectiveConfig) -> list[str]:
    """The components whose bootstrap step this deployment runs, dependencies first
    (``DependencyOrder`` over the dependencies within the set)."""
    needed = {name for name, entry in new.services.items() if _required(name, current, entry)}
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order or name in path:
            return
        for dependency in sorted(new.services[name].get("dependencies") or {}):
            if dependency in needed:
                visit(dependency, (*path, name))
        order.append(name)

    for name in sorted(needed):
        visit(name, ())
    return order


def bootstrap_failure(component: str, exit_code: int, error_type: str) -> DeploymentError:
    """A bootstrap step that exited with an error code (``executeAllBootstrapTasksSequentially``)."""
    return DeploymentError(
        "COMPONENT_BOOTSTRAP_ERROR",
        f"Fail to execute bootstrap step for {component}, exit code: {exit_code}",
        error_stack=[*BOOTSTRAP_STACK, "COMPONENT_BOOTSTRAP_ERROR"],
        error_types=[error_type],
        hint=f"see logs/{component}.log (scriptName=services.{component}.lifecycle.Bootstrap); exit "
        "codes 100 and 101 ask for a nucleus restart and a device reboot",
    )


def bootstrap_timeout(component: str, seconds: int, error_type: str) -> DeploymentError:
    """A bootstrap step that outlived its timeout; the message is the nucleus's (a
    ``TimeoutException`` wrapped in a ``ServiceUpdateException``, causes joined by ``. ``)."""
    reason = f"Bootstrap step timed out after '{seconds}' seconds."
    return DeploymentError(
        "COMPONENT_BOOTSTRAP_TIMEOUT",
        f"java.util.concurrent.TimeoutException: {reason}. {reason}",
        error_stack=[*BOOTSTRAP_STACK, "COMPONENT_BOOTSTRAP_TIMEOUT"],
        error_types=[error_type],
        hint=f"the bootstrap step of {component} ran longer than its Timeout ({seconds} s)",
    )
