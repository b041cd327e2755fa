"""The tools around the elements: the environment, gst-launch-1.0's options, `deepstream exec`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from fake_device.deepstream.gst.environment import BIN_DIR, SITE_DIR, deepstream_environment
from fake_device.deepstream.gst.launch import USAGE, Options, UsageError, parse_args


def test_the_environment_puts_the_site_dir_and_tools_first_and_keeps_the_rest() -> None:
    env = deepstream_environment({"PATH": "/usr/bin:/bin", "PYTHONPATH": "/app/lib", "HOME": "/root"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(SITE_DIR), "/app/lib"]
    path = env["PATH"].split(os.pathsep)
    assert path[:2] == [str(BIN_DIR), os.path.dirname(sys.executable)]
    assert path[2:] == ["/usr/bin", "/bin"]
    assert env["HOME"] == "/root"
    assert set(env) == {"PATH", "PYTHONPATH", "HOME"}  # nothing invented
    assert deepstream_environment(env) == env  # applying it twice changes nothing


def test_the_stand_in_tools_exist_and_run() -> None:
    assert (SITE_DIR / "sitecustomize.py").is_file()
    tool = BIN_DIR / "gst-launch-1.0"
    assert os.access(tool, os.X_OK)


def test_gst_launch_options_as_the_real_tool() -> None:
    options = parse_args(["-e", "-q", "videotestsrc", "!", "fakesink", "sync=false"])
    assert isinstance(options, Options)
    assert options.eos_on_shutdown and options.quiet
    assert options.description == ["videotestsrc", "!", "fakesink", "sync=false"]
    grouped = parse_args(["-vm", "-X", "caps", "--", "-weird", "!", "fakesink"])
    assert isinstance(grouped, Options)
    assert grouped.verbose and grouped.messages and grouped.exclude == ["caps"]
    assert grouped.description == ["-weird", "!", "fakesink"]
    assert parse_args(["--help"]) == USAGE
    with pytest.raises(UsageError, match="Unknown option --frobnicate"):
        parse_args(["--frobnicate", "fakesrc"])


def _exec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "deepstream", "exec", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_exec_returns_the_commands_exit_code_and_gives_it_the_environment() -> None:
    result = _exec("--", "sh", "-c", 'echo "$PYTHONPATH"; exit 7')
    assert result.returncode == 7
    assert result.stdout.split(os.pathsep)[0].strip() == str(SITE_DIR)


def test_exec_reports_a_signal_as_the_shell_does() -> None:
    assert _exec("--", "sh", "-c", "kill -TERM $$").returncode == 128 + 15


def test_exec_of_a_missing_command_says_so() -> None:
    result = _exec("--", "no-such-command-here")
    assert result.returncode == 127
    assert "cannot run no-such-command-here: no such file or command" in result.stderr


def test_exec_checks_kafka_and_fills_in_the_conn_str() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = _exec("--kafka", f"127.0.0.1:{port}", "--", "echo", "{kafka}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"127.0.0.1;{port}"


def test_exec_refuses_a_broker_that_does_not_answer() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        result = _exec("--kafka", f"127.0.0.1:{port}", "--", "true")
    assert result.returncode == 1
    assert f"--kafka: nothing answers on 127.0.0.1:{port}" in result.stderr
    assert "edge-harness services up" in result.stderr


def test_exec_refuses_a_malformed_address() -> None:
    result = _exec("--triton", "not an address", "--", "true")
    assert result.returncode == 1
    assert "--triton 'not an address': expected HOST:PORT or a URL" in result.stderr
