"""The one interface every service (Triton, Kafka broker, AWS endpoint) implements.

A service is started, waited on until it answers its own readiness probe, used through the
endpoints it publishes and stopped. Process-backed services run in their own process group with
``PR_SET_PDEATHSIG`` set, so that neither a failing test, a Ctrl-C nor a SIGKILL of the harness
leaves a server behind (the orphan tests in tests/integration/test_no_orphans.py prove it).

Scenario fault injection goes through the same interface: :meth:`Service.pause`,
:meth:`Service.resume`, :meth:`Service.kill` and :meth:`Service.restart` are what an ``inject``
step calls, whatever runs the service (a local process here, a container in the docker backend).
A service that cannot do one of them raises :class:`ServiceError` saying so, so a scenario fails
with a reason instead of silently not injecting its fault.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from harness.errors import EXIT_SERVICE, HarnessError
from harness.services.keeper import keeper
from harness.services.workdirs import OwnedFolder

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
    #: the hint of the error a fault this service cannot do raises (see :meth:`pause`)
    fault_hint: str = (
        "faults need a service the harness runs itself: the process backend (a local process) "
        "or --backend docker (a container)"
    )

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

    def failure(self) -> str | None:
        """Why the service is down although nothing stopped it (it exited or crashed on its
        own), in one line for a failed step's message; None while it runs, and after
        :meth:`stop`, :meth:`kill` or :meth:`halt` (a fault a scenario asked for)."""
        return None

    # -- faults ----------------------------------------------------------------------------
    # Defaults refuse: a backend implements the faults it can do. The refusal is an error (not a
    # no-op) because a scenario that believes it paused the broker must not pass unpaused.

    def _unsupported(self, what: str) -> ServiceError:
        return ServiceError(
            f"{self.name}: {what} is not supported by this service/backend", hint=self.fault_hint
        )

    def pause(self) -> None:
        """Freeze the service: connections stay open, nothing is answered until :meth:`resume`."""
        raise self._unsupported("pause")

    def resume(self) -> None:
        """Undo :meth:`pause`: the service answers again, with its state as it was."""
        raise self._unsupported("resume")

    def kill(self) -> None:
        """Stop the service abruptly (SIGKILL, a power cut): no shutdown, nothing flushed."""
        raise self._unsupported("kill")

    def halt(self) -> None:
        """Stop the service gracefully, as :meth:`stop` does, but keep what :meth:`restart` needs
        (its endpoints, its log): the ``stop_service`` fault, as opposed to the end of a run."""
        raise self._unsupported("halt")

    def restart(self) -> Self:
        """Start the service again after :meth:`kill` or :meth:`stop`, on the *same* endpoints.

        The same endpoints, because clients and devices that were configured with them (a
        deployment's ConnString, an nvinferserver gRPC url) must reconnect without being told.
        Returns once the service is ready again.
        """
        raise self._unsupported("restart")

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


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` that asks the kernel to send ``sig`` to the child when its parent dies,
    however the parent dies (SIGKILL included).

    Caveat: the kernel tracks the parent *thread*, not the process: a child started from a
    thread that ends gets ``sig`` at that moment. Start such children from a thread that lives as
    long as they should (the main thread), or give them another way to notice (see ``device run
    --parent-pid``).
    """

    def setup() -> None:  # runs in the child between fork and exec
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, int(sig))

    return setup


#: SIGKILL the child when the harness dies (what services, ffmpeg and apps run by the harness use)
_child_setup = die_with_parent()


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
        self._owned_workdir: OwnedFolder | None = None
        self._workdir_arg = workdir
        self.workdir: Path | None = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Path | None = None
        self._stop_lock = threading.Lock()
        self._paused = False
        self._ports_chosen = False  # restart() keeps the ports of the last start()

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

    @property
    def running(self) -> bool:
        """Started, not stopped, and its process alive (a killed service is not running)."""
        return self._started and self.process is not None and self.process.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused

    def failure(self) -> str | None:
        proc = self.process
        if not self._started or proc is None or proc.poll() is None:
            return None  # running, or stopped/killed by the harness (which forgets the process)
        tail = " | ".join(line.strip() for line in log_tail(self._log_file, 3).splitlines() if line.strip())
        return f"service {self.name} exited with code {proc.returncode}" + (f": {tail}" if tail else "")

    def _make_workdir(self) -> None:
        if self._own_workdir:
            # locked while this process lives, so a later run can remove it if we are SIGKILLed
            self._owned_workdir = OwnedFolder.create(f"edge-harness-{self.name}-")
            self.workdir = self._owned_workdir.path
        else:
            assert self.workdir is not None
            self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.workdir / f"{self.name}.log"

    def start(self) -> Self:
        if self._started:
            return self
        self._make_workdir()
        try:
            self.prepare()
            for attempt in range(3):
                self.allocate_ports()
                self._ports_chosen = True
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
            self._paused = False
            if self._owned_workdir is not None:
                if os.environ.get("EDGE_HARNESS_KEEP_WORKDIR"):
                    self._owned_workdir.keep()
                else:
                    self._owned_workdir.remove()
                self._owned_workdir = None

    # -- faults ------------------------------------------------------------------------------
    def _alive(self, what: str) -> subprocess.Popen[bytes]:
        proc = self.process
        if not self._started or proc is None or proc.poll() is not None:
            raise ServiceError(
                f"{self.name}: cannot {what}: it is not running",
                hint="start() it first (after a kill or stop, restart() brings it back)",
            )
        return proc

    def pause(self) -> None:
        """SIGSTOP to the whole process group: the kernel still accepts connections on the
        listening sockets (their backlog), but nothing is answered — a hung server, which is
        what a client's timeouts must cope with."""
        proc = self._alive("pause")
        _signal_group(proc.pid, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT to the process group; the service carries on with its state as it was."""
        proc = self._alive("resume")
        _signal_group(proc.pid, signal.SIGCONT)
        self._paused = False

    def kill(self) -> None:
        """SIGKILL the process group and wait for the leader: no shutdown handler runs.

        The workdir, the log and the chosen ports are kept for :meth:`restart`; :meth:`stop`
        still releases everything afterwards. Killing a service that is not running is a no-op.
        """
        proc = self.process
        if proc is None:
            return
        _signal_group(proc.pid, signal.SIGKILL)  # works on a stopped (paused) process too
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        self.process = None
        self._paused = False
        log.info("%s: killed", self.name)

    def halt(self) -> None:
        """SIGTERM the process group (SIGKILL after :attr:`stop_timeout`) and wait, keeping the
        workdir, the log and the ports for :meth:`restart`; :meth:`stop` still cleans up."""
        if self.process is None:
            return
        with self._stop_lock:
            self._terminate()
        self._paused = False
        log.info("%s: halted", self.name)

    def restart(self) -> Self:
        """Start again on the ports of the last :meth:`start` (terminating the process first if
        it still runs), then wait until ready.

        Unlike :meth:`start` it never chooses new ports: whoever was given the old endpoints
        (a device's configuration) must find the service there again. If another process took a
        port meanwhile, the error names it instead of moving elsewhere.
        """
        if not self._ports_chosen:
            raise ServiceError(
                f"{self.name}: restart needs an earlier start() (it reuses that start's ports)",
                hint="call start() first",
            )
        with self._stop_lock:
            self._terminate()
            self.cleanup()  # e.g. what a killed process could not remove itself
        self._paused = False
        if self.workdir is None or not self.workdir.exists():  # stop() removed it
            self._make_workdir()
        taken = [port for port in self.bound_ports() if not _port_free(port)]
        if taken:
            raise self._ports_taken(taken)
        assert self._log_file is not None
        log_start = self._log_file.stat().st_size if self._log_file.exists() else 0
        try:
            self.prepare()
            self._spawn_and_wait()
        except ServiceError as err:
            self._terminate()
            if self._port_conflict(since=log_start):
                raise self._ports_taken(self.bound_ports(), err.message) from err
            raise
        except BaseException:
            self._terminate()
            raise
        self._started = True
        log.info("%s: restarted on %s", self.name, self.endpoints)
        return self

    def bound_ports(self) -> list[int]:
        """The TCP ports the service listens on, read from :attr:`endpoints` (``host:port`` or
        a URL); subclasses whose endpoints do not show their ports override it."""
        ports = []
        for value in self.endpoints.values():
            match = _PORT_IN_ENDPOINT.search(value)
            if match:
                ports.append(int(match.group(1)))
        return ports

    def _ports_taken(self, ports: Sequence[int], detail: str = "") -> ServiceError:
        listed = ", ".join(f"{LOOPBACK}:{port}" for port in ports)
        return ServiceError(
            f"{self.name}: cannot restart on the same port(s) {listed}: another process took them "
            "while the service was down" + (f"\n{detail}" if detail else ""),
            hint="clients and devices keep the old address, so the service must come back on it; "
            f"find the process holding it with: ss -ltnp 'sport = :{ports[0] if ports else 0}'",
        )

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
        # the group outlives the harness only until the keeper sees it die (stubs and other
        # members without a death signal of their own)
        keeper.watch_group(self.process.pid)
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

    def _port_conflict(self, since: int = 0) -> bool:
        """Whether the log (from byte ``since``: only what the last attempt wrote) says a port
        was taken."""
        tail = log_tail(self._log_file, 20)
        if since and self._log_file is not None and self._log_file.exists():
            with self._log_file.open("rb") as fh:
                fh.seek(since)
                tail = "\n".join(fh.read().decode("utf-8", errors="replace").splitlines()[-20:])
        return any(marker in tail.lower() for marker in self.port_conflict_markers)

    def _terminate(self) -> None:
        proc = self.process
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group id is the leader's pid
        if proc.poll() is None:
            # a paused (SIGSTOPped) group would keep SIGTERM pending until the grace period ends
            _signal_group(pgid, signal.SIGCONT)
            _signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s: did not stop in %.0f s, killing", self.name, self.stop_timeout)
                _signal_group(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Members of the group that outlived the leader (e.g. model stubs) go too.
        _signal_group(pgid, signal.SIGKILL)
        keeper.forget_group(pgid)
        self.process = None
        with _live_lock:
            _live.discard(self)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


_PORT_IN_ENDPOINT = re.compile(r":(\d{1,5})(?:/.*)?$")


def _port_free(port: int) -> bool:
    """Whether a server could bind ``port`` on loopback now (with SO_REUSEADDR, as servers do,
    so connections of the killed process in TIME_WAIT do not count as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
