"""SIGTERM and SIGINT inside ``orderly_stop_on_signals``: the first one unwinds like Ctrl-C with the
exit code a shell reports; one arriving during the teardown does not cut it short."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.unit

CHILD = textwrap.dedent(
    """
    import sys, time
    from harness.cli.interrupts import orderly_stop_on_signals
    from harness.errors import Interrupted

    with orderly_stop_on_signals():
        try:
            print("running", flush=True)
            time.sleep(60)
        except Interrupted as stop:
            print(f"stopping after {stop.signal_name}", flush=True)
            sys.stdin.readline()  # the test signals again, then lets the teardown go on
            time.sleep(0.2)
            print("teardown finished", flush=True)
            sys.exit(stop.exit_code)
    """
)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_first_signal_unwinds_and_a_second_one_waits_for_the_teardown(sig: signal.Signals, code: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline() == "running\n"
    child.send_signal(sig)
    assert child.stdout.readline() == f"stopping after {sig.name}\n"
    child.send_signal(signal.SIGTERM)  # e.g. CI's SIGTERM after its SIGINT
    child.stdin.write("\n")
    child.stdin.flush()
    out, err = child.communicate(timeout=30)
    assert out == "teardown finished\n"
    assert "SIGTERM: already stopping" in err
    assert child.returncode == code
