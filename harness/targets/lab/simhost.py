"""The "init" of a simulated lab Jetson: what runs when its power is switched on.

Started inside the host's network namespace by the simulated lab's power switch
(:mod:`harness.targets.lab.simulated`), it does what a Jetson's systemd does for the lab: brings
up loopback, starts ``sshd`` on the host's address, and keeps the Greengrass nucleus running
(``edge-harness device run`` on the host's root, restarted when it exits, as
``greengrass.service`` has ``Restart=on-failure``). Cutting the power SIGKILLs everything in the
namespace; every child also dies with this process (``PR_SET_PDEATHSIG``).

``python -m harness.targets.lab.simhost HOST.json LAB_PID`` — the file says the address, the sshd
config, the thing, group, profile and root, and the nucleus's environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from harness.services.base import die_with_parent

#: seconds between a nucleus exit and its restart (systemd's RestartSec of greengrass.service)
RESTART_S = 2.0


def main(config_file: str, parent: int) -> int:
    # Dies with the lab. Set here, after exec, not by the lab in a preexec_fn: the lab's process
    # has other threads (gRPC, HTTP), and a forked child of a threaded process may deadlock
    # before exec if it runs Python code there.
    die_with_parent(signal.SIGKILL)()
    if os.getppid() != parent:  # the lab died before the line above
        return 1
    config = json.loads(Path(config_file).read_text())
    folder = Path(config["folder"])
    stopping = threading.Event()
    children: list[subprocess.Popen[bytes]] = []

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    print(f"{time.strftime('%H:%M:%S')} boot: {config['thing']} at {config['sshd_config']}", flush=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    sshd_log = (folder / "sshd.log").open("ab")
    children.append(
        subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", config["sshd_config"]],
            stdout=sshd_log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
    )
    print(f"{time.strftime('%H:%M:%S')} sshd: pid {children[0].pid}", flush=True)
    nucleus_log = (folder / "nucleus.out").open("ab")
    command = [
        sys.executable, "-m", "harness.cli", "device", "run",
        "--thing", config["thing"], "--group", config["group"], "--profile", config["profile"],
        "--root", config["root"], "--poll-interval", "0.5", "--give-up-after", "0", "--quiet",
    ]  # fmt: skip
    environment = {**os.environ, **config["environment"]}
    while not stopping.is_set():
        nucleus = subprocess.Popen(
            command,
            stdout=nucleus_log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        children.append(nucleus)
        while nucleus.poll() is None and not stopping.is_set():
            time.sleep(0.2)
        if stopping.is_set():
            break
        children.remove(nucleus)
        stopping.wait(RESTART_S)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
