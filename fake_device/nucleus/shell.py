"""Running lifecycle scripts: ``sh -c`` in its own process group, output into the component log.

The nucleus runs every step as ``sh -c <script>`` (``UnixPlatform.ShellDecorator``), through
``sudo -u <user>`` when the step does not require privilege and the nucleus runs as root
(``UnixPlatform.UserDecorator``), with the current directory ``work/<component>``
(``ShellRunner.setup``). Output is copied line by line into the component's log by ``Copier``
threads (``Exec``). Stopping a step sends SIGTERM to the whole process tree and SIGKILL after a
grace period (``UnixPlatform.killProcessAndChildren``).

The simulator puts each script in its own session (so one ``killpg`` reaches every process the
script started) and records its process group in ``<root>/run/processes.json`` together with the
kernel's start time of the leader. A watchdog process (:mod:`fake_device.nucleus.reaper`) kills
the recorded groups when the device process dies, however it dies, as systemd does with the
nucleus's control group; a device starting on the same root kills survivors of an earlier run
the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fake_device.nucleus.logs import NucleusLog

__all__ = ["ProcessRegistry", "ScriptProcess", "kill_recorded", "signal_recorded", "start_script"]

#: seconds between SIGTERM and SIGKILL when a step is stopped (Exec.close grace period)
STOP_GRACE_SECONDS = 5.0


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: tells a live process from a later one that reused its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


class ProcessRegistry:
    """The process groups a device's lifecycle scripts run in, persisted for the reaper."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._groups: dict[int, str] = {}

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({str(k): v for k, v in self._groups.items()}))
        os.replace(tmp, self.path)

    def add(self, pgid: int) -> None:
        start = process_start_time(pgid)
        with self._lock:
            self._groups[pgid] = start or ""
            self._write()

    def remove(self, pgid: int) -> None:
        with self._lock:
            if self._groups.pop(pgid, None) is not None:
                self._write()


def signal_recorded(path: Path, sig: signal.Signals) -> int:
    """Send ``sig`` to every recorded process group whose leader is still the same process;
    returns how many groups got it. The registry file is left as it is."""
    try:
        groups = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return 0
    reached = 0
    for pgid_text, start in groups.items():
        pgid = int(pgid_text)
        current = process_start_time(pgid)
        # The leader may have exited while others of its group live on: signal the group anyway
        # unless the pid now belongs to a different process.
        if current is not None and start and current != start:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
            reached += 1
    return reached


def kill_recorded(path: Path) -> int:
    """SIGKILL every recorded process group whose leader is still the same process; returns how
    many groups were killed. Used at boot and by the reaper."""
    killed = signal_recorded(path, signal.SIGKILL)
    with contextlib.suppress(OSError):
        Path(path).unlink()
    return killed


@dataclass(frozen=True)
class RunAs:
    """The POSIX user a script runs as (``runWith.posixUser`` / ``componentDefaultUser``)."""

    user: str
    uid: int
    gid: int

    @staticmethod
    def lookup(name: str) -> RunAs:
        user, _, group = name.partition(":")
        entry = pwd.getpwnam(user)
        gid = entry.pw_gid
        if group:
            import grp

            gid = grp.getgrnam(group).gr_gid
        return RunAs(user, entry.pw_uid, gid)


class ScriptProcess:
    """One running lifecycle script."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        registry: ProcessRegistry | None,
        copiers: list[threading.Thread],
    ) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._registry = registry
        self._copiers = copiers

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or ``None`` if still running after ``timeout`` seconds."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for copier in self._copiers:
            copier.join(timeout=2.0)
        return code

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM the script's process group, SIGKILL what is left after ``grace`` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(self.pid):
                time.sleep(0.02)
            if not _group_alive(self.pid):
                break
        self.popen.poll()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(1.0)
        self.release()

    def release(self) -> None:
        if self._registry is not None and not _group_alive(self.pid):
            self._registry.remove(self.pid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie leader with no other member still "exists"; reap check through /proc
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _copy(stream, write: Callable[[str], None]) -> None:  # type: ignore[no-untyped-def]
    with stream:
        for raw in iter(stream.readline, b""):
            write(raw.decode("utf-8", "replace").rstrip("\r\n"))


def start_script(
    script: str,
    *,
    component: str,
    step: str,
    cwd: Path,
    env: Mapping[str, str],
    log: NucleusLog,
    current_state: Callable[[], str],
    run_as: RunAs | None = None,
    registry: ProcessRegistry | None = None,
) -> ScriptProcess:
    """Start ``sh -c script``; stdout/stderr lines go to ``logs/<component>.log``.

    The child gets its own session (its pid is its process group), and dies with the thread
    that started it only through the reaper, never through ``PR_SET_PDEATHSIG`` — that signal
    follows the *thread*, and lifecycle threads come and go while their scripts run on.
    """
    script_name = f"services.{component}.lifecycle.{step}"
    popen = subprocess.Popen(
        ["sh", "-c", script],
        cwd=str(cwd),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        user=run_as.uid if run_as else None,
        group=run_as.gid if run_as else None,
        extra_groups=[] if run_as else None,
    )
    if registry is not None:
        registry.add(popen.pid)

    def writer(level: str, event: str) -> Callable[[str], None]:
        def write(line: str) -> None:
            log.component(
                component,
                level,
                event,
                line,
                thread="Copier",
                scriptName=script_name,
                serviceName=component,
                currentState=current_state(),
            )

        return write

    copiers = []
    for stream, level, event in ((popen.stdout, "INFO", "stdout"), (popen.stderr, "WARN", "stderr")):
        thread = threading.Thread(
            target=_copy, args=(stream, writer(level, event)), name=f"Copier-{component}", daemon=True
        )
        thread.start()
        copiers.append(thread)
    return ScriptProcess(popen, registry, copiers)
