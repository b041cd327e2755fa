"""Temporary folders and the sweep of dead runs' folders: a folder is removed only when it carries
the harness's lock file and the process that made it is gone; live folders, kept folders and
anything else are never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.services.workdirs import LOCK_NAME, OwnedFolder, folder_in_use, sweep_dead_folders

pytestmark = pytest.mark.unit

MAKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from harness.services.workdirs import OwnedFolder

    folder = OwnedFolder.create("edge-harness-run-", Path(sys.argv[1]))
    print(folder.path, flush=True)
    if sys.argv[2] == "wait":
        sys.stdin.read()  # until the test closes stdin or kills us
    """
)


def make_in_child(parent: Path, mode: str) -> tuple[subprocess.Popen[str], Path]:
    """A folder made (and locked) by another process, which exits at once or waits."""
    proc = subprocess.Popen(
        [sys.executable, "-c", MAKER, str(parent), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_folder_of_a_live_process_is_kept_and_of_a_killed_one_removed(tmp_path: Path) -> None:
    live, live_folder = make_in_child(tmp_path, "wait")
    killed, killed_folder = make_in_child(tmp_path, "wait")
    try:
        (killed_folder / "devices").mkdir()
        (killed_folder / "devices" / "greengrass.log").write_text("x" * 1000)
        killed.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel drops the lock
        killed.wait(10)
        assert folder_in_use(live_folder) is True
        assert folder_in_use(killed_folder) is False

        assert sweep_dead_folders(tmp_path) == [killed_folder]
        assert not killed_folder.exists()
        assert live_folder.is_dir() and (live_folder / LOCK_NAME).is_file()
    finally:
        live.kill()
        live.wait(10)
    assert sweep_dead_folders(tmp_path) == [live_folder]


def test_folders_without_the_lock_file_or_the_prefix_are_never_removed(tmp_path: Path) -> None:
    given = tmp_path / "edge-harness-given-by-user"  # e.g. --work, or an older run's folder
    given.mkdir()
    (given / "keep.txt").write_text("mine")
    exited, exited_folder = make_in_child(tmp_path, "exit")
    assert exited.wait(30) == 0  # exited without removing its folder
    other = tmp_path / "someone-else"
    other.mkdir()
    (other / LOCK_NAME).write_text("{}")  # a lock file nobody holds, but not our prefix

    assert folder_in_use(given) is None
    assert sweep_dead_folders(tmp_path) == [exited_folder]
    assert (given / "keep.txt").read_text() == "mine"
    assert other.is_dir()


def test_a_kept_folder_loses_its_lock_and_is_never_swept(tmp_path: Path) -> None:
    folder = OwnedFolder.create("edge-harness-run-", tmp_path)
    (folder.path / "logs").mkdir()
    folder.keep()
    assert not folder.held and not (folder.path / LOCK_NAME).exists()
    assert sweep_dead_folders(tmp_path) == []
    assert (folder.path / "logs").is_dir()


def test_own_folder_is_not_swept_by_its_own_process_and_remove_is_idempotent(tmp_path: Path) -> None:
    folder = OwnedFolder.create("edge-harness-run-", tmp_path)
    assert oct(os.stat(folder.path).st_mode & 0o777) == "0o700"
    assert sweep_dead_folders(tmp_path) == []  # the lock is per open file: this process holds it
    folder.remove()
    folder.remove()
    assert not folder.path.exists()
