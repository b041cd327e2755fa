"""No service process survives the harness: not on normal exit, Ctrl-C, SIGTERM, SIGKILL, or a
failing test.

Each case runs the harness in a child interpreter, records every descendant process while the
services run, ends the child the way a user or CI would, and then requires every recorded
process to be gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

DRIVER = textwrap.dedent(
    """
    import faulthandler, signal, sys, threading
    from harness.services.aws import AwsEndpoint

    faulthandler.register(signal.SIGUSR1)  # where it hangs, if it does
    # Ctrl-C as a terminal gives it: a shell that starts jobs in the background leaves SIGINT
    # ignored in them, and Python then installs no KeyboardInterrupt handler
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from harness.services.kafka import KafkaBroker
    from harness.services.triton import TritonServer

    with AwsEndpoint() as aws, KafkaBroker() as kafka, TritonServer() as triton:
        print("READY", flush=True)
        if sys.argv[1] == "exit":
            sys.exit(0)
        threading.Event().wait()
    """
)


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _alive(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait_gone(procs: list[psutil.Process], timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (alive := _alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def _start_driver(mode: str) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the services are ready or the driver died
    if line.strip() != "READY":
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"driver did not start its services: {line!r}\n{err[-3000:]}")
    procs = _descendants(proc.pid)
    names = " ".join(p.name() for p in procs)
    assert "tritonserver" in names and "tansu" in names, names
    return proc, procs


@pytest.mark.parametrize(
    ("mode", "how"),
    [
        ("exit", None),  # normal exit through the context managers
        ("wait", signal.SIGINT),  # Ctrl-C
        ("wait", signal.SIGKILL),  # the harness itself is killed: PR_SET_PDEATHSIG
    ],
    ids=["exit", "ctrl-c", "sigkill"],
)
def test_no_service_process_survives_the_harness(mode: str, how: signal.Signals | None) -> None:
    proc, procs = _start_driver(mode)
    if how is not None:
        os.kill(proc.pid, how)
    try:
        proc.wait(timeout=120)  # three services stopped in turn, each SIGKILLed after its grace period
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGUSR1)
        time.sleep(1)
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"the harness did not exit; its threads:\n{err[-6000:]}")
    assert _wait_gone(procs) == []


PAUSED_DRIVER = textwrap.dedent(
    """
    import threading
    from harness.services.triton import TritonServer

    triton = TritonServer()
    triton.start()
    triton.pause()  # what a pause fault leaves when the harness dies mid-scenario
    print("READY", flush=True)
    threading.Event().wait()
    """
)


def test_a_paused_service_group_dies_with_a_killed_harness() -> None:
    """A frozen group cannot notice anything: tritonserver gets its death signal (SIGKILL works on
    a stopped process) but its python backend stub, stopped too and without a death signal of
    its own, would stay for good. The keeper SIGKILLs the whole group when the harness dies."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSED_DRIVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        pytest.fail(f"driver did not start Triton: {line!r}\n{proc.communicate(timeout=30)[1][-3000:]}")
    procs = _descendants(proc.pid)
    names = [p.name() for p in procs]
    assert "triton_python_backend_stub" in names, names
    stub = procs[names.index("triton_python_backend_stub")]
    assert stub.status() == psutil.STATUS_STOPPED
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    try:
        assert _wait_gone(procs) == []
    finally:
        for leftover in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()


def test_no_service_process_survives_a_failing_test(tmp_path: Path) -> None:
    test_file = tmp_path / "test_fails.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import os, psutil

            def test_uses_services_then_fails(kafka_broker, aws_endpoint):
                me = psutil.Process(os.getpid())
                with open(os.environ["PIDS_FILE"], "w") as fh:
                    for child in me.children(recursive=True):
                        fh.write(f"{child.pid}\\n")
                assert False, "deliberate failure"
            """
        )
    )
    pids_file = tmp_path / "pids"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "PIDS_FILE": str(pids_file)},
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "deliberate failure" in result.stdout
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) >= 2  # tansu + the AWS endpoint
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    assert _wait_gone(procs) == []


def test_services_up_stops_everything_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "services", "up", "--kafka", "--aws"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    exports = []
    for _ in range(20):  # bounded: one line per exported variable
        line = proc.stdout.readline()
        if not line:
            break
        exports.append(line)
        if line.startswith("export KAFKA_BOOTSTRAP_SERVERS="):
            break
    assert any(line.startswith("export AWS_ENDPOINT_URL=http://127.0.0.1:") for line in exports), exports
    procs = _descendants(proc.pid)
    assert procs, "services up started no process"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert _wait_gone(procs) == []
