"""SIGTERM handled like Ctrl-C: one orderly shutdown, whichever way a run is cancelled.

A CI job that is cancelled or times out gets SIGTERM (GitHub Actions sends SIGINT, then SIGTERM,
then SIGKILL; GitLab and Jenkins send SIGTERM). Python's default for SIGTERM is to die on the spot,
skipping every ``finally``: devices, components and the run's work folder would be left behind.
Inside :func:`orderly_stop_on_signals` the first SIGINT or SIGTERM raises
:class:`~harness.errors.Interrupted` on the main thread instead, which unwinds like Ctrl-C; later
signals are only acknowledged, so a second Ctrl-C cannot cut the teardown short and leave
half-stopped processes (a SIGKILL still can; PR_SET_PDEATHSIG and the device's parent watch
cover that).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from harness.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def orderly_stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into :class:`Interrupted`; restore the handlers on exit."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if received:
            name = signal.Signals(signum).name
            print(f"{name}: already stopping, waiting for everything to stop", file=sys.stderr, flush=True)
            return
        received.append(signum)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
