"""The keeper: a small process that outlives the harness only to clean up after it.

``PR_SET_PDEATHSIG`` covers the processes the harness starts itself, not what those start in turn
nor what another daemon runs for it:

* a service's process group can hold members that outlive its leader — tritonserver's
  ``triton_python_backend_stub`` processes, one per model instance, have no death signal of their
  own, so a SIGKILLed tritonserver can leave them running;
* containers belong to the Docker engine: a SIGKILLed harness cannot remove them, and the next
  run's :func:`~harness.services.containers.session.reap_leftovers` is too late for a CI job that
  was cancelled on a shared machine.

The harness starts one keeper on first use, in a session of its own (a terminal's Ctrl-C or a
CI runner's SIGTERM to the harness's group does not reach it) and without a death signal. It
reads lines from a pipe whose only writer is the harness::

    group <pgid>        forget-group <pgid>
    docker <session>    forget-docker <session>

When the pipe reaches end of file — the harness exited, however it exited — the keeper SIGKILLs
the process groups still registered and removes the Docker sessions still registered, then exits.
A normal exit has forgotten everything by then, so the keeper just exits.

Process-group ids are safe to signal late: Linux does not hand out a pid that is still in use as
a process-group id, so a registered group is the harness's group or no group at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import IO

log = logging.getLogger(__name__)

#: set to ``0`` to run without a keeper (then only death signals and the next run's reaping apply)
ENV_DISABLE = "EDGE_HARNESS_KEEPER"


class _Client:
    """This process's side of the pipe to its keeper (started on first registration)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: IO[str] | None = None
        self._owner_pid = 0
        self.process: subprocess.Popen[bytes] | None = None

    def _send(self, line: str) -> None:
        if os.environ.get(ENV_DISABLE) == "0":
            return
        with self._lock:
            if self._pipe is None or self._owner_pid != os.getpid():  # none yet, or a forked child
                self._start()
            assert self._pipe is not None
            try:
                self._pipe.write(line + "\n")
                self._pipe.flush()
            except (BrokenPipeError, OSError) as err:  # the keeper was killed: say so, go on
                log.warning("the cleanup keeper is gone (%s); leftovers wait for the next run", err)

    def _start(self) -> None:
        read_end, write_end = os.pipe()  # both close-on-exec: no other child holds the write end
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harness.services.keeper"],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(read_end)
        self._pipe = os.fdopen(write_end, "w", encoding="utf-8")
        self._owner_pid = os.getpid()

    def watch_group(self, pgid: int) -> None:
        """SIGKILL process group ``pgid`` if this process dies before :meth:`forget_group`."""
        self._send(f"group {pgid}")

    def forget_group(self, pgid: int) -> None:
        self._send(f"forget-group {pgid}")

    def watch_docker_session(self, session: str) -> None:
        """Remove the containers, network and volumes labelled with ``session`` if this process
        dies before :meth:`forget_docker_session`."""
        self._send(f"docker {session}")

    def forget_docker_session(self, session: str) -> None:
        self._send(f"forget-docker {session}")


#: the harness process's keeper client
keeper = _Client()


def _clean(groups: set[int], sessions: set[str]) -> None:
    for pgid in sorted(groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    if not sessions:
        return
    from harness.services.containers.engine import docker_client
    from harness.services.containers.session import LABEL_SESSION, remove_labelled

    client = docker_client()
    for session in sorted(sessions):
        with contextlib.suppress(Exception):
            remove_labelled(client, f"{LABEL_SESSION}={session}")


def main() -> int:
    """Read registrations until end of file, then clean up what is still registered."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the pipe ends the keeper
    groups: set[int] = set()
    sessions: set[str] = set()
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "group" and arg.isdigit():
            groups.add(int(arg))
        elif verb == "forget-group" and arg.isdigit():
            groups.discard(int(arg))
        elif verb == "docker" and arg:
            sessions.add(arg)
        elif verb == "forget-docker":
            sessions.discard(arg)
    _clean(groups, sessions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
