"""DeepStream configs, Triton model configs and conn-strs on bad input: each a located error with a
hint (never an OSError, UnicodeError, KeyError or a hang), and lint fails what the device would."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fake_device.deepstream.errors import PATH_HINT, ConfigError
from harness.cli import main
from harness.errors import HarnessError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "scenarios" / "traffic" / "app"
MODELS = ROOT / "models_repo" / "B"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The traffic app's configs next to ./models and the clip, as the package ships them."""
    folder = tmp_path / "app"
    folder.mkdir()
    for source in APP.iterdir():
        if source.is_file():
            shutil.copy(source, folder / source.name)
    (folder / "models").symlink_to(MODELS)
    (folder / "awsgg-example.mp4").write_bytes(b"")
    return folder


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The first line holding ``needle`` that is not a comment."""
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line and not line.lstrip().startswith("#"))


def lint(*args: str) -> Result:
    return CliRunner().invoke(main, ["lint", *args])


# --- paths longer than the file system takes ------------------------------------------------------


def test_nvinfer_onnx_file_longer_than_a_name_is_a_located_error(app: Path) -> None:
    from fake_device.deepstream.nvinfer_config import load_nvinfer_config

    config = edit(
        app / "config_infer_primary_rtdetr.txt",
        "onnx-file=models/rtdetr/2/model.onnx",
        f"onnx-file={'x' * 300}",
    )
    with pytest.raises(ConfigError) as err:
        load_nvinfer_config(config)
    assert err.value.line == line_of(config, "onnx-file=")
    assert "onnx-file 'xxxxxxxxxxxxxxxxxxxxxxxx…" in err.value.message
    assert "has a name of 300 bytes" in err.value.message and err.value.hint == PATH_HINT


def test_nvinferserver_model_repo_root_longer_than_a_path_is_a_located_error(app: Path) -> None:
    from fake_device.deepstream.inferserver_config import load_inferserver_config

    config = edit(
        app / "config_infer_primary_rtdetr_triton.yml", 'root: "./models"', f'root: "{"d/" * 2100}"'
    )
    with pytest.raises(ConfigError) as err:
        load_inferserver_config(config)
    assert err.value.line == line_of(config, "root:")
    assert "root" in err.value.message and "a path has at most 4095" in err.value.message
    assert err.value.hint == PATH_HINT


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("ll-config-file=config_tracker_NvSORT.yml", f"ll-config-file={'t' * 256}.yml", "ll-config-file"),
        ("uri=file://awsgg-example.mp4", f"uri=file://{'v' * 256}.mp4", "uri"),
    ],
)
def test_deepstream_app_paths_longer_than_a_name_are_located_errors(
    app: Path, old: str, new: str, key: str
) -> None:
    from fake_device.deepstream.reference_app import load_app_config

    config = edit(app / "deepstream_app_config.txt", old, new)
    with pytest.raises(ConfigError) as err:
        load_app_config(config)
    assert err.value.line == line_of(config, f"{key}=")
    assert f"{key} '" in err.value.message and "has a name of 260 bytes" in err.value.message
    assert err.value.message.endswith("; at most 255") and err.value.hint == PATH_HINT


# --- conn-str -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conn_str", "problem"),
    [
        ("kafka..local;9092;events", "has an empty label (two dots in a row, or a leading dot)"),
        ("kaf\u202eka;9092;events", "has characters no resolver accepts (U+202E)"),
        (f"{'k' * 64}.local;9092", "has a label longer than 63 characters"),
        ("kafka local;9092", "has a label 'kafka local' with characters a host name cannot have"),
    ],
)
def test_a_conn_str_host_no_resolver_takes_is_refused_with_a_hint(conn_str: str, problem: str) -> None:
    from fake_device.deepstream.msgbroker import MsgBrokerError, parse_conn_str

    with pytest.raises(MsgBrokerError) as err:
        parse_conn_str(conn_str)
    assert problem in err.value.message
    assert err.value.hint and "write a host name" in err.value.hint


def test_the_broker_check_reports_a_bad_host_instead_of_a_unicode_error() -> None:
    from fake_device.deepstream.msgbroker import BrokerConnectError, check_broker_endpoint

    with pytest.raises(BrokerConnectError, match=r"cannot resolve the Kafka broker host 'kafka\.\.local'"):
        check_broker_endpoint("kafka..local", 9092, timeout=0.1)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "kafka", "kafka-0.broker.svc", "my_broker.local"])
def test_usual_conn_str_hosts_still_parse(host: str) -> None:
    from fake_device.deepstream.msgbroker import parse_conn_str

    assert parse_conn_str(f"{host};9092;events").host == host


# --- msgconv ----------------------------------------------------------------------------------------


def test_msgconv_enable_yes_is_an_error_with_a_hint(app: Path) -> None:
    config = edit(app / "msgconv_config.txt", "\nenable=1", "\nenable=yes")
    result = lint(str(config))
    assert result.exit_code == 1
    assert f"msgconv_config.txt:{line_of(config, 'enable=yes')}: error: enable='yes' is not a boolean" in (
        result.output
    )
    assert "hint: GLib's key files know no yes/no/on/off: write enable=1 or enable=0" in result.output


def test_msgconv_yaml_enable_yes_is_an_error_with_a_hint(tmp_path: Path) -> None:
    from fake_device.deepstream.msgconv import load_msgconv_config

    config = tmp_path / "msgconv.yml"
    config.write_text("sensor0:\n  enable: yes\n  id: cam\n")
    with pytest.raises(ConfigError) as err:
        load_msgconv_config(config)
    assert err.value.line == 2 and "sensor0.enable: 'yes' is not an integer" in err.value.message
    assert err.value.hint and "write 1 or 0" in err.value.hint


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("991;103.8764;25.0", "location: latitude 991 is outside -90..90"),
        ("1.2966;200;25.0", "location: longitude 200 is outside -180..180"),
        ("nan;103.8764;25.0", "is not three finite numbers"),
    ],
)
def test_msgconv_location_off_the_globe_is_an_error(app: Path, location: str, message: str) -> None:
    from fake_device.deepstream.msgconv import load_msgconv_config

    config = edit(app / "msgconv_config.txt", "location=1.2966;103.8764;25.0", f"location={location}")
    with pytest.raises(ConfigError) as err:
        load_msgconv_config(config)
    assert message in err.value.message and err.value.line == line_of(config, f"location={location}")
    assert err.value.hint


# --- nvinferserver against the model it names --------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'tensor_name: "input"',
            'tensor_name: "images"',
            "preprocess.tensor_name 'images' is not an input of",
        ),
        (
            "max_batch_size: 4",
            "max_batch_size: 8",
            "infer_config.max_batch_size 8 is more than model 'rtdetr'",
        ),
    ],
)
def test_lint_checks_an_nvinferserver_config_against_its_model_repository(
    app: Path, old: str, new: str, message: str
) -> None:
    config = edit(app / "config_infer_primary_rtdetr_triton.yml", old, new)
    result = lint(str(config))
    assert result.exit_code == 1, result.output
    assert f"config_infer_primary_rtdetr_triton.yml:{line_of(config, new)}: error: {message}" in result.output


def test_an_nvinferserver_config_that_fits_its_model_passes_lint(app: Path) -> None:
    result = lint(str(app / "config_infer_primary_rtdetr_triton.yml"))
    assert result.exit_code == 0, result.output


def test_an_enum_number_in_an_nvinferserver_config_is_an_error_not_a_key_error(app: Path) -> None:
    from fake_device.deepstream.inferserver_config import load_inferserver_config

    config = edit(
        app / "config_infer_primary_rtdetr_triton.yml",
        "output_mem_type: MEMORY_TYPE_CPU",
        "output_mem_type: -1",
    )
    with pytest.raises(ConfigError) as err:
        load_inferserver_config(config)
    assert "output_mem_type is -1, which is no MemoryType value" in err.value.message
    assert err.value.line == line_of(config, "output_mem_type")


# --- Triton model configs ----------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "rtdetr" / "2").mkdir(parents=True)
    shutil.copy(MODELS / "rtdetr" / "config.pbtxt", repo / "rtdetr" / "config.pbtxt")
    shutil.copy(MODELS / "rtdetr" / "labels.txt", repo / "rtdetr" / "labels.txt")
    (repo / "rtdetr" / "2" / "model.onnx").symlink_to(MODELS / "rtdetr" / "2" / "model.onnx")
    return repo


def test_a_model_config_with_several_errors_reports_them_all(repo: Path) -> None:
    config = repo / "rtdetr" / "config.pbtxt"
    edit(config, "max_batch_size: 4", "max_batch_sise: 4")
    edit(config, "kind: KIND_GPU", "kind: KIND_GPUS")
    edit(config, "data_type: TYPE_FP32", "data_type: TYPE_FP3")
    result = lint("models", str(repo))
    assert result.exit_code == 1
    assert (
        f"config.pbtxt:{line_of(config, 'max_batch_sise')}:1: error: unknown field 'max_batch_sise'"
        in result.output
    )
    assert f"config.pbtxt:{line_of(config, 'TYPE_FP3')}:16: error: invalid value 'TYPE_FP3'" in result.output
    assert (
        f"config.pbtxt:{line_of(config, 'KIND_GPUS')}:11: error: invalid value 'KIND_GPUS'" in result.output
    )
    assert "1 model, 3 errors" in result.output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "input.0.data_type is -1, which is no DataType value"),
        ("4294967296", "Value out of range: 4294967296"),
    ],
)
def test_an_enum_number_in_a_model_config_is_an_error(repo: Path, value: str, message: str) -> None:
    from harness.lint.model_repo import validate_model_repository

    config = edit(repo / "rtdetr" / "config.pbtxt", "data_type: TYPE_FP32", f"data_type: {value}")
    report = validate_model_repository(repo)
    (error,) = report.errors
    assert message in error.message and error.location.startswith(str(line_of(config, value)))


def test_a_fifo_as_model_onnx_is_an_error_not_a_pass_or_a_hang(repo: Path) -> None:
    model = repo / "rtdetr" / "2" / "model.onnx"
    model.unlink()
    os.mkfifo(model)
    result = lint("models", str(repo))
    assert result.exit_code == 1
    assert "model file for version 2 is not a regular file (a FIFO, socket or device)" in result.output
    assert "hint: tritonserver reads the model file whole" in result.output


def test_a_fifo_as_onnx_file_of_nvinfer_is_an_error(app: Path, tmp_path: Path) -> None:
    from fake_device.deepstream.nvinfer_config import load_nvinfer_config

    os.mkfifo(tmp_path / "model.onnx")
    config = edit(
        app / "config_infer_primary_rtdetr.txt",
        "onnx-file=models/rtdetr/2/model.onnx",
        f"onnx-file={tmp_path / 'model.onnx'}",
    )
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_nvinfer_config(config)


# --- files the device cannot read -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "config_infer_primary_rtdetr.txt",
        "config_infer_primary_rtdetr_triton.yml",
        "config_nvdsanalytics.txt",
        "config_tracker_NvSORT.yml",
        "deepstream_app_config.txt",
        "msgconv_config.txt",
    ],
)
def test_a_byte_that_is_not_utf8_fails_lint_at_its_line(app: Path, name: str) -> None:
    config = app / name
    lines = config.read_bytes().split(b"\n")
    lines[6] += b" # caf\xe9"
    config.write_bytes(b"\n".join(lines))
    result = lint(str(config))
    assert result.exit_code == 1, result.output
    assert f"{name}:7: error: not UTF-8 text: byte 0xe9" in result.output
    assert "hint: save the file as UTF-8" in result.output


def test_a_broken_crlf_tracker_config_is_an_error_not_skipped(app: Path) -> None:
    config = app / "config_tracker_NvSORT.yml"
    text = (
        config.read_text()
        .replace("\n", "\r\n")
        .replace("\r\n  minDetectorConfidence", "\r\n\tminDetectorConfidence")
    )
    config.write_bytes(text.encode())
    result = lint(str(config))
    assert result.exit_code == 1, result.output
    assert "(tracker 1)" in result.output and "invalid YAML: found character '\\t'" in result.output


def test_a_fifo_named_as_a_config_is_refused_without_opening_it(tmp_path: Path) -> None:
    from fake_device.deepstream.analytics import load_analytics_config

    os.mkfifo(tmp_path / "config.txt")
    with pytest.raises(ConfigError) as err:
        load_analytics_config(tmp_path / "config.txt")
    assert "the nvdsanalytics config file is not a regular file" in err.value.message
    assert err.value.hint == "point at the file itself"


# --- hints ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "old", "new", "hint"),
    [
        (
            "config_tracker_NvSORT.yml",
            "minDetectorConfidence: 0.1345",
            "minDetectorConfidence: high",
            "write a number",
        ),
        (
            "config_tracker_NvSORT.yml",
            "minDetectorConfidence: 0.1345",
            "minDetectorConfidence:",
            "write a value",
        ),
        (
            "config_nvdsanalytics.txt",
            "roi-TL1=296;700;608;700;620;315;428;315",
            "roi-TL1=296;700;608",
            "x;y pairs",
        ),
        ("config_nvdsanalytics.txt", "class-id=-1", "class-id=-1;x", "whole numbers"),
        ("msgconv_config.txt", "\n[sensor0]", "\n[sensor]", "number the group"),
        ("config_infer_primary_rtdetr.txt", "gie-unique-id=1", "gie-unique-id=0", "give each GIE its own id"),
        (
            "deepstream_app_config.txt",
            "[sink0]\nenable=1\ntype=4",
            "[sink0]\nenable=1\ntype=3",
            "add output-file",
        ),
    ],
)
def test_key_file_and_tracker_errors_carry_a_hint(
    app: Path, name: str, old: str, new: str, hint: str
) -> None:
    from harness.cli.lint import _check
    from harness.lint.detect import classify

    config = edit(app / name, old, new)
    report = _check(classify(config) or "", config)
    assert report.errors, report.format()
    assert all(d.hint for d in report.errors), report.format()
    assert hint in report.errors[0].hint


# --- lint PATH goes on past a failing checker -------------------------------------------------------


def test_lint_path_reports_a_checker_that_fails_and_checks_the_other_files(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fake_device.deepstream.analytics as analytics

    def broken(path: Path) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(analytics, "load_analytics_config", broken)
    edit(app / "msgconv_config.txt", "\nenable=1", "\nenable=yes")
    result = CliRunner().invoke(main, ["lint", str(app)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "config_nvdsanalytics.txt: error: edge-harness failed while checking it as nvdsanalytics: " in (
        result.output
    )
    assert "RuntimeError: boom" in result.output and "please report it" in result.output
    assert "msgconv_config.txt:" in result.output and "is not a boolean" in result.output  # went on


def test_errors_are_harness_errors() -> None:
    assert issubclass(ConfigError, HarnessError) and issubclass(ValidationError, HarnessError)
