"""The device ends when the harness that started it is gone.

A simulated device started by ``edge-harness run`` is useless without it: the AWS endpoint it
polls and the Kafka broker its components send to are the harness's children and die with it.
Left running, it would poll a closed port for ever and keep its components (DeepStream apps,
Triton, ffmpeg) busy. The harness starts devices with ``PR_SET_PDEATHSIG`` (SIGTERM), which
covers the common case; this watch covers the rest — a device started from a thread that ended
(the signal follows the parent *thread*), or a harness that sets no death signal — by noticing
that the process was re-parented (``getppid()`` changed).

When the parent is gone the device shuts down as on SIGTERM, without talking to the cloud; if
that shutdown does not finish within ``exit_after`` seconds the process exits anyway, and its
reaper kills the components that are still running.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["ParentWatch"]

#: the exit code of a device whose orderly shutdown after its parent's death did not finish
EXIT_PARENT_GONE = 1


class ParentWatch:
    """Calls ``on_gone`` once when ``parent_pid`` is no longer this process's parent."""

    def __init__(
        self,
        parent_pid: int,
        on_gone: Callable[[], None],
        *,
        interval: float = 0.5,
        exit_after: float = 30.0,
    ) -> None:
        self.parent_pid = parent_pid
        self._on_gone = on_gone
        self._interval = interval
        self._exit_after = exit_after
        self._fired = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="parent-watch", daemon=True)

    @property
    def parent_gone(self) -> bool:
        return os.getppid() != self.parent_pid

    def start(self) -> ParentWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def fire(self) -> None:
        """Run ``on_gone`` (once) and arm the deadline for the shutdown it starts."""
        if self._fired.is_set():
            return
        self._fired.set()
        self._on_gone()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if self.parent_gone:
                self.fire()
                break
        if self._fired.is_set() and not self._stop.wait(self._exit_after):
            os._exit(EXIT_PARENT_GONE)  # the shutdown hung; the reaper takes the components down
