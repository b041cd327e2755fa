"""A device's life is bounded: its job poll backs off while the AWS endpoint is down, recovers when
it returns and gives up after ``give_up_after``; a ``device run`` started with ``--parent-pid``
stops when that parent dies, even without PR_SET_PDEATHSIG (a device started from a thread)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import psutil
import pytest
from fleet import unique, wait_for

from fake_device.nucleus.kernel import CoreDevice
from harness.errors import HarnessError
from harness.services.aws import AwsEndpoint

pytestmark = pytest.mark.integration


def poll_lines(root: Path, event: str) -> list[str]:
    log = root / "logs" / "greengrass.log"
    return [line for line in log.read_text().splitlines() if f": {event}." in line] if log.exists() else []


def test_poll_backs_off_recovers_and_gives_up_when_the_endpoint_is_gone(device_root: Path) -> None:
    with AwsEndpoint() as endpoint:
        device = CoreDevice(
            device_root,
            unique("lifetime"),
            client_factory=endpoint.client,
            poll_interval=0.1,
            give_up_after=15.0,  # long enough for a restart on a loaded machine
        )
        device.boot()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                device.run()
            except BaseException as err:
                failure.append(err)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            endpoint.kill()
            wait_for(lambda: len(poll_lines(device_root, "jobs-poll-error")) >= 3, 30, "three poll errors")
            delays = [
                float(re.search(r"retryInSeconds=([\d.]+)", line).group(1))  # type: ignore[union-attr]
                for line in poll_lines(device_root, "jobs-poll-error")
            ]
            assert delays[:3] == [0.1, 0.2, 0.4]  # doubling, not two lines a second for ever

            endpoint.restart()  # on the same port, but empty: the device's thing is registered again
            endpoint.client("iot").create_thing(thingName=device.thing_name)
            wait_for(lambda: poll_lines(device_root, "jobs-poll-recovered"), 30, "the poll to recover")
            assert thread.is_alive()

            endpoint.kill()
            thread.join(60)
            assert not thread.is_alive(), "the device kept polling a dead endpoint"
        finally:
            device.request_stop(cloud_gone=True)
            thread.join(30)
            device.stop()
        assert len(failure) == 1 and isinstance(failure[0], HarnessError)
        message = str(failure[0])
        given_up = re.search(
            r"every poll of the IoT Jobs endpoint failed for (\d+) s \(last error: Could not", message
        )
        assert given_up is not None and int(given_up.group(1)) >= 15, message
        assert len(poll_lines(device_root, "jobs-poll-give-up")) == 1


MIDDLE = textwrap.dedent(
    """
    # a parent that starts the device without PR_SET_PDEATHSIG, then waits to be killed
    import os, subprocess, sys
    device = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "device", "run", "--thing", sys.argv[1],
         "--root", sys.argv[2], "--poll-interval", "0.2", "--quiet", "--parent-pid", str(os.getpid())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    print(device.pid, flush=True)
    sys.stdin.read()
    """
)


def test_device_run_stops_when_its_parent_dies(device_root: Path) -> None:
    with AwsEndpoint() as endpoint:
        middle = subprocess.Popen(
            [sys.executable, "-c", MIDDLE, unique("orphan"), str(device_root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **endpoint.environment()},
        )
        assert middle.stdout is not None
        device = psutil.Process(int(middle.stdout.readline()))
        try:
            status = device_root / "run" / "status.json"
            wait_for(status.exists, 60, "the device to boot")
            family = [device, *device.children(recursive=True)]  # the device and its reaper
            assert any("fake_device.nucleus.reaper" in " ".join(p.cmdline()) for p in family[1:])

            middle.send_signal(signal.SIGKILL)
            middle.wait(10)
            _gone, alive = psutil.wait_procs(family, timeout=30)
            assert alive == [], [p.cmdline() for p in alive]
        finally:
            middle.kill()
            middle.wait(10)
            with contextlib.suppress(psutil.NoSuchProcess):
                device.kill()
    log = (device_root / "logs" / "greengrass.log").read_text()
    assert "Nucleus stopped" in log  # an orderly stop, not the watch's hard exit
