"""The set-up entry point (harness/prerequisites.py) and ``edge-harness doctor``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import prerequisites
from harness.cli import doctor as doctor_cli
from harness.cli import main
from harness.prerequisites import Finding

pytestmark = pytest.mark.unit


def _installed(monkeypatch: pytest.MonkeyPatch, installed: set[str], python_needs: list[str] = ()) -> None:
    monkeypatch.setattr(prerequisites, "_dpkg_installed", lambda packages: installed & set(packages))
    monkeypatch.setattr(prerequisites, "_python_packages", lambda python: list(python_needs))


def test_missing_packages_lists_what_dpkg_lacks_in_profile_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    everything = {name for names in prerequisites.PACKAGES.values() for name in names}
    _installed(monkeypatch, everything - {"gstreamer1.0-libav", "chromium"})
    assert prerequisites.missing_packages("main") == ["gstreamer1.0-libav"]
    assert prerequisites.missing_packages("tests") == ["gstreamer1.0-libav", "chromium"]


def test_debian_python_without_venv_or_headers_adds_their_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    everything = {name for names in prerequisites.PACKAGES.values() for name in names}
    _installed(monkeypatch, everything, ["python3.11-venv", "python3.11-dev"])
    assert prerequisites.missing_packages("main") == ["python3.11-venv", "python3.11-dev"]


def test_the_running_interpreter_is_probed_for_venv_and_headers() -> None:
    # this interpreter (a venv of a source-built or Debian Python 3.11) can make venvs and build wheels
    assert prerequisites._python_packages(sys.executable) == []


def test_nothing_missing_installs_nothing_and_prints_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = {name for names in prerequisites.PACKAGES.values() for name in names}
    _installed(monkeypatch, everything)

    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"nothing should run: {args}")

    monkeypatch.setattr(subprocess, "run", no_run)
    assert prerequisites.install_system("tests", sys.executable) == 0
    assert capsys.readouterr() == ("", "")


def test_without_root_or_sudo_the_apt_command_is_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _installed(monkeypatch, set())
    monkeypatch.setattr(prerequisites.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(
        prerequisites.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    assert prerequisites.install_system("main", sys.executable) == 1
    err = capsys.readouterr().err
    assert "is not root (no sudo either)" in err
    assert "apt-get install -y libpython3.11 gstreamer1.0-tools" in err


def test_a_failing_apt_names_the_command_and_returns_its_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _installed(monkeypatch, set())
    monkeypatch.setattr(prerequisites.os, "geteuid", lambda: 0)
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: f"/usr/bin/{name}")
    calls: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 100 if "install" in command else 0)

    monkeypatch.setattr(prerequisites.subprocess, "run", fake_run)
    assert prerequisites.install_system("main", sys.executable) == 100
    assert calls[0] == ["apt-get", "update", "-qq"]
    assert calls[1][:5] == ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    assert "apt-get install -y -qq --no-install-recommends libpython3.11" in capsys.readouterr().err


def test_overrides_are_linked_once_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    debian = tmp_path / "debian" / "gi" / "overrides"
    debian.mkdir(parents=True)
    names = [*prerequisites.OVERRIDE_FILES, prerequisites._gi_gst_extension()]
    for name in names:
        (debian / name).write_text(name)
    env_overrides = tmp_path / "venv" / "gi" / "overrides"
    env_overrides.mkdir(parents=True)
    (env_overrides / "Gst.py").write_text("stale copy")  # replaced by the link
    monkeypatch.setattr(prerequisites, "DEBIAN_OVERRIDES", debian)
    monkeypatch.setattr(prerequisites, "_gi_overrides_dir", lambda: env_overrides)

    assert prerequisites.link_gst_overrides() == []
    for name in names:
        assert (env_overrides / name).resolve() == (debian / name).resolve()
    assert prerequisites.check_gst_overrides() == []
    assert prerequisites.link_gst_overrides() == []  # idempotent


def test_missing_debian_overrides_name_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_overrides = tmp_path / "venv" / "gi" / "overrides"
    env_overrides.mkdir(parents=True)
    monkeypatch.setattr(prerequisites, "DEBIAN_OVERRIDES", tmp_path / "nowhere")
    monkeypatch.setattr(prerequisites, "_gi_overrides_dir", lambda: env_overrides)
    [finding] = prerequisites.link_gst_overrides()
    assert "Debian's GStreamer overrides lack Gst.py" in finding.what
    assert finding.fix == "apt-get install python3-gst-1.0"
    [finding] = prerequisites.check_gst_overrides()
    assert "no GStreamer overrides" in finding.what and "harness.prerequisites python" in finding.fix


def test_doctor_fails_on_a_missing_requirement_and_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        doctor_cli,
        "CHECKS",
        (
            ("ffmpeg", lambda: [Finding("no ffmpeg binary", "pip install imageio-ffmpeg")], True),
            ("docker", lambda: [Finding("engine does not answer", "dockerd &")], False),
            ("python", list, True),
        ),
    )
    result = CliRunner().invoke(main, ["doctor"], terminal_width=200)
    assert result.exit_code == 1
    assert "no ffmpeg binary" in result.output and "fix: pip install imageio-ffmpeg" in result.output
    assert "warning" in result.output and "engine does not answer" in result.output


def test_doctor_passes_when_only_optional_checks_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        doctor_cli, "CHECKS", (("docker", lambda: [Finding("engine does not answer", "dockerd &")], False),)
    )
    result = CliRunner().invoke(main, ["doctor"], terminal_width=200)
    assert result.exit_code == 0, result.output


def test_tox_work_folder_gets_only_the_search_bit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tox = tmp_path / "project" / ".tox"
    env = tox / "tests"
    env.mkdir(parents=True)
    tox.chmod(0o700)
    (tmp_path / "project").chmod(0o750)
    monkeypatch.setattr(prerequisites.sys, "prefix", str(env))
    prerequisites.open_tox_dir_to_components()
    assert tox.stat().st_mode & 0o777 == 0o701  # search only: nothing can be listed through it
    assert (tmp_path / "project").stat().st_mode & 0o777 == 0o750  # not tox's: left alone
