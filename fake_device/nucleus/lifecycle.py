"""Component lifecycles and states, as the nucleus's ``Lifecycle`` and ``GenericExternalService``.

Each component runs a lifecycle thread that moves it through the states of
``dependency/State.java``::

    NEW → INSTALLED → STARTING → RUNNING → STOPPING → FINISHED
                         ↘ ERRORED (recover, then retry) → BROKEN on the 3rd error in a row

The rules follow ``lifecyclemanager/Lifecycle.java`` (state handlers, the desired-state list,
error counting) and ``GenericExternalService.java`` (what each step's exit code means):

- ``install`` (timeout 120 s) → INSTALLED, or ERRORED with INSTALL_ERROR / INSTALL_TIMEOUT;
- INSTALLED waits until every HARD dependency is RUNNING or FINISHED, then STARTING;
- ``startup`` (timeout 120 s): exit 0 → RUNNING, else ERRORED (STARTUP_ERROR / _TIMEOUT);
  without ``startup``, ``run`` starts and the state is RUNNING at once: exit 0 → STOPPING →
  FINISHED, else ERRORED (RUN_ERROR); a ``run`` timeout (none by default) → ERRORED RUN_TIMEOUT;
  neither step → FINISHED ("Nothing done");
- STOPPING runs ``shutdown`` (timeout 15 s) and then stops every process the component started;
- ERRORED runs ``recover`` (60 s) and then: from NEW → NEW (install again), from STARTING or
  RUNNING → STOPPING → INSTALLED → STARTING (restart), from STOPPING → the desired state;
- an ERRORED counts against the state it came from (only NEW, STARTING, RUNNING count); any other
  report from that state resets its count, and so does a gap of ``errorResetTime`` (3600 s); the
  3rd count turns the report into BROKEN. BROKEN stops the component and stays until a
  deployment asks for a reinstall.

A ``Skipif`` that holds makes a step "nothing done": a skipped install counts as installed, a
skipped ``startup`` falls through to ``run``, a skipped ``run`` finishes the component.

A component's own process may report its state over IPC (``UpdateState``, :meth:`report_state`):
only the transitions ``Lifecycle.ALLOWED_STATE_TRANSITION_FOR_REPORTING`` allows count. RUNNING
while ``startup`` still runs makes the component RUNNING (the startup script keeps running; a
non-zero exit still errors it); ERRORED while STARTING or RUNNING takes the usual error path.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from fake_device.nucleus.logs import NucleusLog
from fake_device.nucleus.shell import ProcessRegistry, RunAs, ScriptProcess, start_script
from harness.lint.recipe_lifecycle import DEFAULT_TIMEOUTS

__all__ = ["ComponentService", "LifecycleHost", "ServiceSpec", "State"]

MAXIMUM_CONTINUAL_ERROR = 3  # Lifecycle.MAXIMUM_CONTINUAL_ERROR
DEFAULT_ERROR_RESET_SECONDS = 3600  # Lifecycle.DEFAULT_ERROR_RESET_TIME_IN_SEC
_POLL = 0.05


class State(StrEnum):
    """``dependency/State.java`` (STATELESS and the uninstall states are not simulated)."""

    NEW = "NEW"
    INSTALLED = "INSTALLED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    ERRORED = "ERRORED"
    BROKEN = "BROKEN"
    FINISHED = "FINISHED"


#: Lifecycle.STATES_TO_ERRORED: errors from these states count towards BROKEN
_COUNTED = frozenset({State.NEW, State.STARTING, State.RUNNING})
#: Lifecycle.ALLOWED_STATE_TRANSITION_FOR_REPORTING: what a component may report from each state
REPORTABLE: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.ERRORED}),
    State.STARTING: frozenset({State.RUNNING, State.ERRORED, State.FINISHED}),
    State.RUNNING: frozenset({State.ERRORED, State.FINISHED}),
    State.STOPPING: frozenset({State.ERRORED, State.FINISHED}),
}
#: ComponentStatusCode.getDefaultErrorCodeFrom: a reported ERRORED's code and description
_REPORTED_ERRORS = {
    State.STARTING: ("STARTUP_ERROR", "An error occurred during startup."),
    State.RUNNING: ("RUN_ERROR", "An error occurred while running the component."),
}


@dataclass(frozen=True)
class ServiceSpec:
    """One component as the effective configuration holds it (``services.<name>``)."""

    name: str
    version: str
    lifecycle: Mapping[str, Any] = field(default_factory=dict)  # canonical, interpolated
    dependencies: Mapping[str, str] = field(default_factory=dict)  # name → HARD | SOFT
    component_type: str = "aws.greengrass.generic"
    configuration: Mapping[str, Any] = field(default_factory=dict)

    def step(self, name: str) -> dict[str, Any] | None:
        """The step's canonical object, or None when the lifecycle does not have it. A step
        without a ``script`` key is kept: the nucleus fails it ("Missing script"); one whose
        script is empty runs nothing."""
        value = self.lifecycle.get(name)
        return dict(value) if isinstance(value, Mapping) else None


class LifecycleHost(Protocol):
    """What a component's lifecycle needs from the device around it."""

    log: NucleusLog
    registry: ProcessRegistry | None

    def work_path(self, component: str) -> Path: ...

    def base_environment(self, spec: ServiceSpec) -> dict[str, str]: ...

    def run_as(self, spec: ServiceSpec, privileged: bool) -> RunAs | None: ...

    def dependency_state(self, name: str) -> State | None: ...

    def state_changed(self, service: ComponentService, old: State, new: State) -> None: ...

    @property
    def state_condition(self) -> threading.Condition: ...


@dataclass
class _StepResult:
    """How a step ended: exit code, or ``timed_out``/``nothing_done``/``failed_to_start``."""

    exit_code: int | None = None
    timed_out: bool = False
    nothing_done: bool = False
    config_not_valid: bool = False  # a step without script ("Missing script")
    interrupted: bool = False
    error: str = ""
    reported: State | None = None  # the component reported this state while the step ran
    process: ScriptProcess | None = None  # the step's process, still running when ``reported``

    @property
    def ok(self) -> bool:
        return self.nothing_done or (self.exit_code == 0 and not self.timed_out and not self.error)


class ComponentService:
    """One component's lifecycle thread and state."""

    def __init__(
        self,
        spec: ServiceSpec,
        host: LifecycleHost,
        *,
        error_reset_seconds: float = DEFAULT_ERROR_RESET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.host = host
        self.error_reset_seconds = error_reset_seconds
        self.clock = clock
        self.state = State.NEW
        self.previous_state = State.NEW
        self.status_code = "NONE"
        self.status_reason = ""
        self.state_mod_time = time.time()
        self._cv = threading.Condition()
        self._desired: list[State] = []
        self._errors: dict[State, list[float]] = {}
        self._processes: list[ScriptProcess] = []
        self._run_process: ScriptProcess | None = None
        self._startup_process: ScriptProcess | None = None
        self._reported: State | None = None
        self._run_deadline: float | None = None
        self._closing = False
        self._shutdown_spec = spec
        self._thread = threading.Thread(target=self._loop, name=f"lifecycle-{spec.name}", daemon=True)
        self._started = False

    @property
    def name(self) -> str:
        return self.spec.name

    # -- requests (Lifecycle.requestStart/Stop/Restart/Reinstall) ---------------------------------
    def start(self) -> None:
        """Start the lifecycle thread with the desired state RUNNING."""
        self.request_start()
        if not self._started:
            self._started = True
            self._thread.start()

    def request_start(self) -> None:
        with self._cv:
            if not self._desired or self._desired == [State.FINISHED]:
                self._desired = [State.RUNNING]
            elif self._desired[-1] != State.RUNNING:
                self._desired.append(State.RUNNING)
            self._cv.notify_all()

    def request_stop(self) -> None:
        with self._cv:
            if State.NEW in self._desired:
                self._desired = [*self._desired[: self._desired.index(State.NEW) + 1], State.FINISHED]
            else:
                self._desired = [State.FINISHED]
            self._cv.notify_all()

    def request_restart(self) -> None:
        with self._cv:
            self._desired = [State.INSTALLED, State.RUNNING]
            self._cv.notify_all()

    def request_reinstall(self) -> None:
        with self._cv:
            self._desired = [State.NEW, State.RUNNING]
            self._cv.notify_all()

    def update(self, spec: ServiceSpec) -> str:
        """Take a new configuration of the same version, as ``GenericExternalService``'s config
        subscription does: a changed ``install`` step → reinstall; any other lifecycle change →
        restart (reinstall when BROKEN); configuration only → nothing. Returns what was done."""
        old, self.spec = self.spec, spec
        if old.lifecycle.get("install") != spec.lifecycle.get("install"):
            self.request_reinstall()
            return "reinstall"
        if old.lifecycle != spec.lifecycle:
            if self.state == State.BROKEN:
                self.request_reinstall()
                return "reinstall"
            self.request_restart()
            return "restart"
        return ""

    def report_state(self, new: State) -> bool:
        """A state the component's process reports (``UpdateState``): taken by the lifecycle
        thread if ``Lifecycle.reportState`` allows it from the current state, else logged and
        ignored. Returns whether it was taken."""
        with self._cv:
            current = self.state
            if new not in REPORTABLE.get(current, frozenset()) or current not in _REPORTED_ERRORS:
                allowed = new in REPORTABLE.get(current, frozenset())
                self.host.log.component(
                    self.name,
                    "WARN",
                    "service-invalid-state-error" if not allowed else "service-report-state-ignored",
                    "Invalid reported state" if not allowed else "Reported state not simulated in this state",
                    serviceName=self.name,
                    currentState=current,
                    newState=new,
                )
                return False
            self._reported = new
            self._cv.notify_all()
        return True

    def _take_reported(self) -> State | None:
        with self._cv:
            reported, self._reported = self._reported, None
            return reported

    def bootstrap(self) -> int:
        """``GenericExternalService.bootstrap``: run the bootstrap step on the caller's thread and
        return its exit code — 0 without a step (or an empty one), 1 for a step that cannot run.
        Raises ``TimeoutError`` when the step outlives its timeout and ``InterruptedError`` when
        :meth:`close` is called meanwhile (the device stops). Only for a service whose lifecycle
        thread was never started: the device runs bootstrap steps while every component is
        stopped."""
        self._kill_processes()
        try:
            result = self._run_step("bootstrap", keep_running_on_change=False)
        finally:
            self._kill_processes()
        if result.timed_out:
            raise TimeoutError(f"bootstrap of {self.name} timed out")
        if result.interrupted:
            raise InterruptedError(f"bootstrap of {self.name} interrupted")
        if result.nothing_done:
            return 0
        return 1 if result.exit_code is None else result.exit_code

    def close(self, timeout: float = 60.0) -> None:
        """Stop the component (shutdown, then kill its processes) and end the thread."""
        with self._cv:
            self._closing = True
        self.request_stop()
        if self._started:
            self._thread.join(timeout)
        self._kill_processes()

    def wait_for(self, predicate: Callable[[ComponentService], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.2))
        return True

    @property
    def reached_desired_state(self) -> bool:
        """``Lifecycle.reachedDesiredState``: nothing left in the desired list."""
        with self._cv:
            desired = [s for s in self._desired if s != self.state]
            return not desired or (self.state == State.FINISHED and desired == [State.FINISHED])

    # -- desired-state list ----------------------------------------------------------------------
    def _peek_desired(self, active: State) -> State | None:
        """``peekOrRemoveFirstDesiredState``: drop leading entries equal to ``active``."""
        with self._cv:
            while self._desired and self._desired[0] == active:
                self._desired.pop(0)
            return self._desired[0] if self._desired else None

    def _desired_changed_from(self, active: State) -> bool:
        return self._peek_desired(active) not in (None, active)

    # -- state reports ---------------------------------------------------------------------------
    def _report(self, new: State, code: str = "NONE", reason: str = "") -> None:
        """``Lifecycle.internalReportState`` + ``setState``: counts errors, may turn into BROKEN."""
        current = self.state
        if new == State.ERRORED and current in _COUNTED:
            now = self.clock()
            times = self._errors.setdefault(current, [])
            if times and now - times[-1] >= self.error_reset_seconds:
                times.clear()
            times.append(now)
        else:
            self._errors[current] = []
        if len(self._errors.get(current, [])) >= MAXIMUM_CONTINUAL_ERROR:
            new = State.BROKEN
        with self._cv:
            self._reported = None
            self.previous_state = current
            self.state = new
            self.status_code = code
            self.status_reason = reason
            self.state_mod_time = time.time()
            self._cv.notify_all()
        self.host.log.component(
            self.name,
            "INFO",
            "service-set-state",
            serviceName=self.name,
            currentState=current,
            newState=new,
            also_main=True,
        )
        if code != "NONE":
            self.host.log.component(
                self.name, "WARN", "service-report-state", reason, serviceName=self.name, statusCode=code
            )
        self.host.state_changed(self, current, new)

    # -- the lifecycle thread --------------------------------------------------------------------
    def _loop(self) -> None:
        handlers: dict[State, Callable[[], None]] = {
            State.NEW: self._on_new,
            State.INSTALLED: self._on_installed,
            State.STARTING: self._on_starting,
            State.RUNNING: self._on_running,
            State.STOPPING: self._on_stopping,
            State.ERRORED: self._on_errored,
            State.BROKEN: self._on_broken,
            State.FINISHED: self._on_finished,
        }
        while True:
            with self._cv:
                if self._closing and self.state in (State.FINISHED, State.BROKEN):
                    return
            handlers[self.state]()

    def _wait_change(self, active: State) -> State | None:
        """Block until the desired list asks for something other than ``active``."""
        with self._cv:
            while True:
                desired = self._peek_desired(active)
                if desired is not None and desired != active:
                    return desired
                if self._closing:
                    return None
                self._cv.wait(0.5)

    def _on_new(self) -> None:
        if self._closing:
            self._report(State.FINISHED)
            return
        desired = self._peek_desired(State.NEW)
        if desired is None:
            self._wait_change(State.NEW)
            return
        result = self._run_step("install")
        if self.state != State.NEW:
            return
        if result.ok:
            self._report(State.INSTALLED)
        elif result.config_not_valid:
            self._report(State.ERRORED, "INSTALL_CONFIG_NOT_VALID", "Script errored in install")
        elif result.timed_out:
            self._report(State.ERRORED, "INSTALL_TIMEOUT", "Install timed out")
        else:
            self._report(State.ERRORED, "INSTALL_ERROR", _exit_reason("install", result))

    def _on_installed(self) -> None:
        desired = self._peek_desired(State.INSTALLED)
        if desired is None:
            if self._closing:
                self._report(State.FINISHED)
            else:
                self._wait_change(State.INSTALLED)
            return
        if desired != State.RUNNING:
            self._move_to(desired)
            return
        if self._wait_dependencies():
            self._report(State.STARTING)

    def _wait_dependencies(self) -> bool:
        """``GreengrassService.dependencyReady``: HARD dependencies RUNNING or FINISHED."""
        condition = self.host.state_condition
        logged = False
        while True:
            waiting = [
                name
                for name, kind in self.spec.dependencies.items()
                if kind == "HARD" and self.host.dependency_state(name) not in (State.RUNNING, State.FINISHED)
            ]
            if not waiting:
                return True
            if not logged:
                self.host.log.info(self.name, "service-awaiting-start", "waiting for dependencies to start")
                logged = True
            if self._desired_changed_from(State.RUNNING) or self._closing:
                return False
            with condition:
                condition.wait(0.2)

    def _on_starting(self) -> None:
        desired = self._peek_desired(State.RUNNING)
        if desired not in (None, State.RUNNING):
            self._report(State.STOPPING)
            return
        self._kill_processes()
        # GenericExternalService.cacheShutdownExec: the shutdown that runs is the one of the
        # configuration this start used, even if a deployment changed the lifecycle since.
        self._shutdown_spec = self.spec
        startup = self.spec.step("startup")
        if startup is not None:
            result = self._run_step("startup", keep_running_on_change=False)
            if self.state != State.STARTING:
                return
            if result.reported == State.RUNNING:
                self._startup_process = result.process  # still running: its exit is watched
                self._report(State.RUNNING)
            elif result.reported is not None:
                self._report(State.ERRORED, *_REPORTED_ERRORS[State.STARTING])
            elif result.interrupted:
                self._report(State.STOPPING)
            elif result.config_not_valid:
                self._report(State.ERRORED, "STARTUP_CONFIG_NOT_VALID", "Script errored in startup")
            elif result.timed_out:
                self._report(State.ERRORED, "STARTUP_TIMEOUT", "startup timeout")
            elif not result.ok:
                self._report(State.ERRORED, "STARTUP_ERROR", _exit_reason("startup", result))
            elif not result.nothing_done:
                self._report(State.RUNNING)
                return
            else:
                self._start_run()
            return
        self._start_run()

    def _start_run(self) -> None:
        run = self.spec.step("run")
        if run is not None and not self._skip(run) and "script" not in run:
            self._missing_script("run")
            self._report(State.ERRORED, "RUN_CONFIG_NOT_VALID", "Script errored in run")
            return
        if run is None or self._skip(run) or not run.get("script"):
            self.host.log.info(self.name, "generic-service-finished", "Nothing done", serviceName=self.name)
            self._report(State.FINISHED)
            return
        process = self._spawn("run", run)
        if process is None:
            self._report(State.ERRORED, "RUN_ERROR", "Script errored in run")
            return
        self._run_process = process
        timeout = run.get("timeout")
        self._run_deadline = time.monotonic() + float(timeout) if timeout else None
        self._report(State.RUNNING)

    def _on_running(self) -> None:
        while True:
            if self._desired_changed_from(State.RUNNING) or self._closing:
                self._report(State.STOPPING)
                return
            reported = self._take_reported()
            if reported is not None:
                self._report(State.ERRORED, *_REPORTED_ERRORS[State.RUNNING])
                return
            startup = self._startup_process
            if startup is not None and startup.popen.poll() is not None:
                self._startup_process = None
                code = startup.wait(1.0)
                self.host.log.component(self.name, "INFO", "", "Startup script exited", exitCode=code)
                if code:
                    self._report(State.ERRORED, "STARTUP_ERROR", f"Non-zero exit code {code} in startup")
                    return
            process = self._run_process
            if process is not None:
                code = process.popen.poll()
                if code is not None:
                    process.wait(1.0)
                    self._run_process = None
                    self.host.log.component(self.name, "INFO", "", "Run script exited", exitCode=code)
                    if code == 0:
                        self.host.log.info(self.name, "generic-service-stopping", "Service finished running")
                        self.request_stop()
                        self._report(State.STOPPING)
                    else:
                        self._report(State.ERRORED, "RUN_ERROR", f"Run script exited with code {code}")
                    return
                if self._run_deadline is not None and time.monotonic() > self._run_deadline:
                    self.host.log.warn(
                        self.name, "service-run-timed-out", "Service failed to run within timeout"
                    )
                    self._run_process = None
                    self._report(State.ERRORED, "RUN_TIMEOUT", "Run timed out")
                    process.stop()
                    return
            with self._cv:
                self._cv.wait(_POLL)

    def _on_stopping(self) -> None:
        result = self._run_step("shutdown", track=False, spec=self._shutdown_spec)
        self._kill_processes()
        if self.state != State.STOPPING:
            return
        if result.timed_out:
            self._report(State.ERRORED, "SHUTDOWN_TIMEOUT", "Timeout in shutdown")
            return
        if not result.ok and not result.config_not_valid:  # the nucleus ignores a shutdown without script
            self._report(State.ERRORED, "SHUTDOWN_ERROR", _exit_reason("shutdown", result))
            return
        desired = self._peek_desired(State.FINISHED)
        self._move_to(desired or State.FINISHED)

    def _on_errored(self) -> None:
        previous = self.previous_state
        self._run_step("recover", track=False)
        with self._cv:
            if not self._desired and not self._closing:
                self._desired = [State.RUNNING]
        if previous in (State.STARTING, State.RUNNING):
            self._report(State.STOPPING)
        elif previous == State.NEW:
            if self._closing:
                self._report(State.FINISHED)
            else:
                self._report(State.NEW)
        elif previous == State.STOPPING:
            desired = self._peek_desired(State.FINISHED)
            self._move_to(desired or State.FINISHED)
        else:
            self._report(State.FINISHED)

    def _on_broken(self) -> None:
        if self.previous_state in (State.STARTING, State.RUNNING, State.ERRORED):
            self.host.log.info(self.name, "service-broken", "Stopping service in BROKEN state")
            self._run_step("shutdown", track=False, spec=self._shutdown_spec)
            self._kill_processes()
        self._run_process = None
        while True:
            with self._cv:
                if self._closing:
                    return
                if State.NEW in self._desired:
                    while self._desired and self._desired[0] != State.NEW:
                        self._desired.pop(0)
                    break
                self._cv.wait(0.5)
        self._errors.clear()
        self._report(State.NEW)

    def _on_finished(self) -> None:
        desired = self._peek_desired(State.FINISHED)
        if desired is None:
            if self._closing:
                return
            desired = self._wait_change(State.FINISHED)
            if desired is None:
                return
        self._move_to(desired)

    def _move_to(self, desired: State) -> None:
        """``serviceTerminatedMoveToDesiredState``."""
        if self._closing:
            if self.state != State.FINISHED:
                self._report(State.FINISHED)
            return
        target = {State.NEW: State.NEW, State.RUNNING: State.INSTALLED, State.INSTALLED: State.INSTALLED}
        new = target.get(desired, State.FINISHED)
        if new != self.state:
            self._report(new)

    # -- steps and processes ---------------------------------------------------------------------
    def _skip(self, step: Mapping[str, Any]) -> bool:
        """``GenericExternalService.shouldSkip``: ``onpath X`` / ``exists X``, ``!`` negates."""
        expression = str(step.get("skipif") or "").strip()
        if not expression:
            return False
        negate = expression.startswith("!")
        if negate:
            expression = expression[1:].strip()
        kind, _, target = expression.partition(" ")
        target = target.strip()
        env = self._environment(step)
        if kind == "onpath":
            holds = shutil.which(target, path=env.get("PATH")) is not None
        else:
            path = Path(target)
            if not path.is_absolute():
                path = self.host.work_path(self.name) / path
            holds = path.exists()
        return holds != negate

    def _environment(self, step: Mapping[str, Any]) -> dict[str, str]:
        """Device environment, then the lifecycle's Setenv, then the step's (ShellRunner.setup)."""
        env = self.host.base_environment(self.spec)
        for source in (self.spec.lifecycle.get("setenv"), step.get("setenv")):
            if isinstance(source, Mapping):
                env.update({str(k): str(v) for k, v in source.items()})
        return env

    def _spawn(self, name: str, step: Mapping[str, Any], *, track: bool = True) -> ScriptProcess | None:
        privileged = bool(step.get("requiresprivilege", False))
        try:
            process = start_script(
                str(step["script"]),
                component=self.name,
                step=_title(name),
                cwd=self.host.work_path(self.name),
                env=self._environment(step),
                log=self.host.log,
                current_state=lambda: str(self.state),
                run_as=self.host.run_as(self.spec, privileged),
                registry=self.host.registry,
            )
        except OSError as err:
            self.host.log.error(self.name, "service-start-error", f"cannot start the {name} script: {err}")
            return None
        script_name = f"services.{self.name}.lifecycle.{_title(name)}"
        self.host.log.component(self.name, "INFO", "shell-runner-start", scriptName=script_name)
        if track:
            self._processes.append(process)
        return process

    def _run_step(
        self,
        name: str,
        *,
        track: bool = True,
        keep_running_on_change: bool = True,
        spec: ServiceSpec | None = None,
    ) -> _StepResult:
        """Run a step to completion (or timeout). ``keep_running_on_change=False`` stops the
        script when the desired state changes (a stop request during startup)."""
        step = (spec or self.spec).step(name)
        if step is None or self._skip(step):
            return _StepResult(nothing_done=True)
        if "script" not in step:
            self._missing_script(name)
            return _StepResult(config_not_valid=True)
        if not step["script"]:
            return _StepResult(nothing_done=True)  # an empty step: no command to run
        process = self._spawn(name, step, track=track)
        if process is None:
            return _StepResult(error="could not start the script")
        timeout = step.get("timeout", DEFAULT_TIMEOUTS.get(name))
        deadline = time.monotonic() + float(timeout) if timeout is not None else None
        while True:
            code = process.wait(_POLL)
            if code is not None:
                self.host.log.component(self.name, "INFO", "", f"{_title(name)} script exited", exitCode=code)
                if not track:
                    process.release()
                return _StepResult(exit_code=code)
            if deadline is not None and time.monotonic() > deadline:
                process.stop()
                return _StepResult(timed_out=True)
            if not keep_running_on_change and (self._desired_changed_from(State.RUNNING) or self._closing):
                process.stop()
                return _StepResult(interrupted=True)
            if self.state == State.STARTING and name == "startup":
                reported = self._take_reported()
                if reported is not None:
                    return _StepResult(reported=reported, process=process)

    def _missing_script(self, step: str) -> None:
        """``GenericExternalService.run``'s error for a step map without ``script``."""
        self.host.log.component(
            self.name,
            "ERROR",
            "generic-service-invalid-config",
            "Missing script",
            configNode=f"services.{self.name}.lifecycle.{step}",
            also_main=True,
        )

    def _kill_processes(self) -> None:
        """``stopAllLifecycleProcesses``."""
        processes, self._processes = self._processes, []
        for process in processes:
            if process.running:
                process.stop()
            else:
                process.stop(grace=0.5)  # children of an exited script may live on in its group
        self._run_process = None
        self._startup_process = None


def _title(step: str) -> str:
    """Step names as the developer guide writes them (``run`` → ``Run``) for log lines."""
    return step[:1].upper() + step[1:]


def _exit_reason(step: str, result: _StepResult) -> str:
    if result.error:
        return f"Script errored in {step}: {result.error}"
    return f"Non-zero exit code {result.exit_code} in {step}"
