"""The one interface every service (Triton, Kafka broker, AWS endpoint) implements.

A service is started, waited on until it answers its own readiness probe, used through the
endpoints it publishes and stopped. Process-backed services run in their own process group with
``PR_SET_PDEATHSIG`` set, so that neither a failing test, a Ctrl-C nor a SIGKILL of the harness
leaves a server behind (the orphan tests in tests/integration/test_no_orphans.py prove it).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from harness.errors import EXIT_SERVICE, HarnessError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
LOG_TAIL_LINES = 40


class ServiceError(HarnessError):
    """A service could not be started, did not become ready, or failed a check."""

    exit_code = EXIT_SERVICE


def log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    """Last ``lines`` lines of a log file, for error messages; empty if there is none."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 64 * 1024))
        text = fh.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


class Service(ABC):
    """Base class of all services; also a context manager."""

    #: short name used in logs, environment exports and the CLI ("triton", "kafka", "aws")
    name: str = "service"

    def __init__(self, *, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------
    @abstractmethod
    def start(self) -> Self:
        """Start the service and return once it is ready (or raise :class:`ServiceError`)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the service and release everything it holds. Safe to call twice."""

    @property
    def running(self) -> bool:
        return self._started

    # -- what clients need -----------------------------------------------------------------
    @property
    @abstractmethod
    def endpoints(self) -> dict[str, str]:
        """Named endpoints, e.g. ``{"http": "127.0.0.1:8000"}``."""

    def environment(self) -> dict[str, str]:
        """Environment variables that point clients (and child processes) at this service."""
        return {}

    @property
    def log_path(self) -> Path | None:
        """The service's log file, if it writes one."""
        return None

    def check(self) -> str:
        """Smoke-test the service through its real client; return a one-line summary."""
        return "ready"

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {state} {self.endpoints if self.running else ''}>"


# -- process services ----------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not Linux: fall back to process groups only
    _libc = None


def _child_setup() -> None:  # runs in the child between fork and exec
    """Ask the kernel to SIGKILL the child when the harness dies, however it dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_live: weakref.WeakSet[ProcessService] = weakref.WeakSet()
_live_lock = threading.Lock()


def stop_all_services() -> None:
    """Stop every process service still running in this interpreter (atexit, signal handlers)."""
    with _live_lock:
        services = list(_live)
    for service in services:
        with contextlib.suppress(Exception):
            service.stop()


atexit.register(stop_all_services)


class ProcessService(Service):
    """A service backed by one local process (and whatever that process starts).

    Subclasses say how to build the command line (:meth:`command`), how to tell that the service
    answers (:meth:`probe_ready`), and may add environment (:meth:`process_environment`) and
    preparation (:meth:`prepare`). Ports are chosen free on 127.0.0.1 by :meth:`allocate_ports`.
    """

    #: retried when the log shows the port was taken between choosing and binding it
    port_conflict_markers: Sequence[str] = ("address already in use", "address in use", "eaddrinuse")
    stop_timeout: float = 10.0

    def __init__(self, *, workdir: Path | None = None, startup_timeout: float = 60.0) -> None:
        super().__init__(startup_timeout=startup_timeout)
        self._own_workdir = workdir is None
        self._workdir_arg = workdir
        self.workdir: Path | None = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Path | None = None
        self._stop_lock = threading.Lock()

    # -- subclass hooks ----------------------------------------------------------------------
    @abstractmethod
    def allocate_ports(self) -> None:
        """Choose the ports this run will bind (called before each start attempt)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line to run."""

    @abstractmethod
    def probe_ready(self) -> bool:
        """True once the service answers requests; must not raise for 'not yet'."""

    def prepare(self) -> None:
        """Stage files the process needs (called once, before the first start attempt)."""

    def process_environment(self) -> dict[str, str]:
        """Extra environment for the process."""
        return {}

    def cleanup(self) -> None:
        """Release what :meth:`prepare` made (called by :meth:`stop`)."""

    # -- Service ---------------------------------------------------------------------------
    @property
    def log_path(self) -> Path | None:
        return self._log_file

    def start(self) -> Self:
        if self._started:
            return self
        if self._own_workdir:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"edge-harness-{self.name}-"))
        else:
            assert self.workdir is not None
            self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.workdir / f"{self.name}.log"
        try:
            self.prepare()
            for attempt in range(3):
                self.allocate_ports()
                try:
                    self._spawn_and_wait()
                    break
                except ServiceError as err:
                    if attempt < 2 and self._port_conflict():
                        log.warning("%s: port taken while starting, retrying on new ports", self.name)
                        continue
                    raise err
        except BaseException:
            self._terminate()
            self.cleanup()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        with self._stop_lock:
            self._terminate()
            if self._started or self.process is not None:
                self.cleanup()
            self._started = False
            if (
                self._own_workdir
                and self.workdir is not None
                and not os.environ.get("EDGE_HARNESS_KEEP_WORKDIR")
            ):
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- internals ---------------------------------------------------------------------------
    def _spawn_and_wait(self) -> None:
        assert self._log_file is not None
        cmd = self.command()
        env = dict(os.environ)
        env.update(self.process_environment())
        log.info("%s: starting %s", self.name, " ".join(cmd))
        with self._log_file.open("ab") as log_fh:
            log_fh.write(f"--- edge-harness: {' '.join(cmd)}\n".encode())
            log_fh.flush()
            try:
                self.process = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log_fh,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.workdir,
                    start_new_session=True,  # own session and process group: killpg reaches all
                    preexec_fn=_child_setup,
                )
            except OSError as err:
                raise ServiceError(
                    f"{self.name}: cannot run {cmd[0]}: {err.strerror}",
                    hint="is the package that ships it installed? (pip install -e .)",
                ) from err
        with _live_lock:
            _live.add(self)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.05
        while True:
            code = self.process.poll()
            if code is not None:
                raise self._start_failure(f"exited with code {code} before it was ready")
            if self.probe_ready():
                log.info("%s: ready %s", self.name, self.endpoints)
                return
            if time.monotonic() > deadline:
                raise self._start_failure(f"not ready after {self.startup_timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _start_failure(self, what: str) -> ServiceError:
        tail = log_tail(self._log_file)
        message = f"{self.name} {what}; log {self._log_file}"
        if tail:
            message += ":\n" + "\n".join("  | " + line for line in tail.splitlines())
        return ServiceError(message, hint=self.start_hint())

    def start_hint(self) -> str | None:
        """A hint shown with a start failure."""
        return None

    def _port_conflict(self) -> bool:
        tail = log_tail(self._log_file, 20).lower()
        return any(marker in tail for marker in self.port_conflict_markers)

    def _terminate(self) -> None:
        proc = self.process
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group id is the leader's pid
        if proc.poll() is None:
            _signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s: did not stop in %.0f s, killing", self.name, self.stop_timeout)
                _signal_group(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Members of the group that outlived the leader (e.g. model stubs) go too.
        _signal_group(pgid, signal.SIGKILL)
        self.process = None
        with _live_lock:
            _live.discard(self)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
