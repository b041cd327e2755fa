"""The keeper kills the process groups still registered when its pipe closes (the harness died),
and leaves alone the groups that were forgotten (stopped by the harness itself)."""

from __future__ import annotations

import subprocess

from harness.services.keeper import _Client


def _group() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "120"], start_new_session=True)


def test_registered_groups_die_when_the_pipe_closes_and_forgotten_ones_stay() -> None:
    watched, forgotten = _group(), _group()
    client = _Client()
    try:
        client.watch_group(watched.pid)
        client.watch_group(forgotten.pid)
        client.forget_group(forgotten.pid)
        assert client.process is not None and client._pipe is not None
        assert client.process.poll() is None  # the keeper waits while the harness lives
        client._pipe.close()  # what the kernel does to the write end when the harness dies
        assert client.process.wait(timeout=30) == 0
        assert watched.wait(timeout=10) == -9
        assert forgotten.poll() is None
    finally:
        for proc in (watched, forgotten):
            proc.kill()
            proc.wait()


def test_no_keeper_when_disabled(monkeypatch) -> None:
    monkeypatch.setenv("EDGE_HARNESS_KEEPER", "0")
    client = _Client()
    client.watch_group(1)
    assert client.process is None
