"""Property tests: every parser entry point, fed mutated versions of the project's own inputs, ends
in the project's own errors (HarnessError and its subclasses, or Diagnostics) in bounded time.

Each test starts from a real file (the traffic app's configs, its recipe, scenario and artifact
spec) and applies a few random edits: text inserted (control characters, NUL, bidi marks,
brackets, YAML anchors), spans deleted, lines repeated or replaced, values replaced by
troublesome ones (empty, huge numbers, NaN, 300-character paths, ``..``), raw bytes that are not
UTF-8. The files sit where the app's relative paths resolve (./models, the clip, the other
configs), so the edits reach the checks behind the parsers too. Any other exception is a defect:
bad input must never end in a traceback. The deadline bounds the time of one example: an input
that makes a parser hang (an alias bomb) fails it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import Diagnostic, DiagnosticReport, HarnessError

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "scenarios" / "traffic" / "app"
COMPONENT = ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment"

# Modest, so that CI's two cores stay free (EDGE_HARNESS_BAD_INPUT_EXAMPLES=2000 for a long hunt);
# the deadline is per example and generous because the machine is shared (one example of the
# scenario loader once took 53 s on a stalled machine and 0.4 s when retried): a hang (what it is
# there to catch) runs until pytest-timeout's 600 s.
PROPERTY = settings(
    max_examples=int(os.environ.get("EDGE_HARNESS_BAD_INPUT_EXAMPLES", "40")),
    deadline=timedelta(seconds=120),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=False,
)

_ODD_CHARS = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u200f\u202e\u2028\ufeff\ufffe\t\r\n é中🙂"
_SYNTAX = "{}[]<>:;=,#&*!|>%@`'\"\\-/. 0123456789"
_TOKENS = [
    "",
    " ",
    "-1",
    "0",
    "1",
    "4294967296",
    "99999999999999999999999",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "0x10",
    "1.5",
    "yes",
    "true",
    "null",
    "~",
    '"',
    "'",
    '""',
    "[",
    "{",
    "}",
    "&a",
    "*a",
    "!!binary x",
    "!!python/object:os.system",
    "a" * 300,
    "/" + "b" * 300,
    "models/" + "c" * 260 + ".onnx",
    "../../../../../../etc/passwd",
    "..",
    "/",
    "/dev/zero",
    "file:///dev/zero",
    "kafka..local;9092;t",
    "ho\u202est;9092;t",
    "localhost;0;t",
    "localhost;99999",
    ";;;",
    "\x00",
    "\u202e",
    "é",
    "-",
    "1;2;3;4;5;6;7;8;9",
    "[" * 200,
    "0;0;0;0",
    "991",
]


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> bytes:
    """``seed`` with one to four random edits; the result may not be UTF-8."""
    text = seed
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        op = draw(st.sampled_from(["insert", "delete", "line", "repeat", "value", "swap", "nest", "aliases"]))
        if op == "insert":
            at = draw(st.integers(0, len(text)))
            piece = draw(st.text(alphabet=_ODD_CHARS + _SYNTAX, min_size=1, max_size=12))
            text = text[:at] + piece + text[at:]
        elif op == "delete" and text:
            start = draw(st.integers(0, len(text) - 1))
            text = text[:start] + text[start + draw(st.integers(1, 40)) :]
        elif op == "line":
            index = draw(st.integers(0, len(lines) - 1))
            lines[index] = draw(st.text(alphabet=_ODD_CHARS + _SYNTAX + "abcxyz", max_size=30))
            text = "\n".join(lines)
        elif op == "repeat":
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            text = "\n".join(lines)
        elif op == "swap" and len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif op == "aliases":  # an alias bomb: a few hundred bytes that expand to billions of values
            bomb = ['z0: &z0 ["x","x","x","x","x","x","x","x","x"]']
            bomb += [f"z{i}: &z{i} [{', '.join([f'*z{i - 1}'] * 9)}]" for i in range(1, 10)]
            index = draw(st.integers(0, len(lines)))
            lines[index:index] = bomb
            text = "\n".join(lines)
        elif op == "nest":
            at = draw(st.integers(0, len(text)))
            depth = draw(st.sampled_from([5, 120, 600]))
            text = text[:at] + draw(st.sampled_from(["[", "{", "- ", "a:\n "])) * depth + text[at:]
        else:  # value: replace what follows a separator on a line that has one
            candidates = [i for i, line in enumerate(lines) if any(s in line for s in ("=", ": "))]
            if candidates:
                index = draw(st.sampled_from(candidates))
                line = lines[index]
                sep = "=" if "=" in line and not line.lstrip().startswith("#") else ": "
                key = line.split(sep, 1)[0]
                lines[index] = f"{key}{sep}{draw(st.sampled_from(_TOKENS))}"
                text = "\n".join(lines)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # sometimes a byte that is not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xe9", b"\xff\xfe", b"\xc3", b"\x80"])) + data[at:]
    return data


def _assert_only_own_errors(call: Callable[[], Any]) -> Any:
    """Run ``call``; only HarnessError (or a report of Diagnostics) may come out of it."""
    try:
        result = call()
    except HarnessError as err:
        assert str(err), "an error without a message"
        return err
    if isinstance(result, DiagnosticReport):
        assert all(isinstance(d, Diagnostic) and d.message for d in result.diagnostics)
    return result


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's folder as the package ships it, and scenarios/ next to the models, in a temp dir.

    models/ is a link to the model repository; the clip is an empty stand-in (parsers only check
    that it exists). The fuzzed files are written into these folders, so their relative paths
    resolve as on the device.
    """
    root = tmp_path_factory.mktemp("bad-input")
    app = root / "app"
    app.mkdir()
    for source in APP.iterdir():
        if source.is_file():
            shutil.copy(source, app / source.name)
    (app / "models").symlink_to(ROOT / "models_repo" / "B")
    (app / "awsgg-example.mp4").write_bytes(b"")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    (scenarios / "traffic").symlink_to(ROOT / "scenarios" / "traffic")
    (scenarios / "seed_copy").mkdir()
    (root / "models_repo").symlink_to(ROOT / "models_repo")
    return root


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# --- DeepStream configs ----------------------------------------------------------------------------


@PROPERTY
@given(data=mutated((APP / "config_infer_primary_rtdetr.txt").read_text(encoding="utf-8")))
def test_nvinfer_config(tree: Path, data: bytes) -> None:
    from fake_device.deepstream.nvinfer_config import load_nvinfer_config

    path = _write(tree / "app", "fuzz_nvinfer.txt", data)
    _assert_only_own_errors(lambda: load_nvinfer_config(path))


@PROPERTY
@given(data=mutated((APP / "config_infer_primary_rtdetr_triton.yml").read_text(encoding="utf-8")))
def test_nvinferserver_config_and_its_model(tree: Path, data: bytes) -> None:
    from harness.lint.inferserver_model import load_and_check_inferserver_config

    path = _write(tree / "app", "fuzz_nvinferserver.yml", data)
    _assert_only_own_errors(lambda: load_and_check_inferserver_config(path))


@PROPERTY
@given(data=mutated((APP / "config_tracker_NvSORT.yml").read_text(encoding="utf-8")))
def test_tracker_config(tree: Path, data: bytes) -> None:
    from fake_device.deepstream.tracker import load_tracker_config

    path = _write(tree / "app", "fuzz_tracker.yml", data)
    _assert_only_own_errors(lambda: load_tracker_config(path))


@PROPERTY
@given(data=mutated((APP / "config_nvdsanalytics.txt").read_text(encoding="utf-8")))
def test_analytics_config(tree: Path, data: bytes) -> None:
    from fake_device.deepstream.analytics import load_analytics_config

    path = _write(tree / "app", "fuzz_analytics.txt", data)
    _assert_only_own_errors(lambda: load_analytics_config(path))


_MSGCONV_YAML = """sensor0:
  enable: 1
  type: Camera
  id: HWY_20_AND_LOCUST__EBA__4_11_2018_4_59_59_508_AM_UTC-07_00
  location: 45.293701447;-75.8303914499;48.1557479338
  description: Aisle Camera
  coordinate: 5.2;10.1;11.2
place0:
  enable: 1
  id: 1
  type: intersection/road
  name: HWY_20_AND_LOCUST__EBA
  location: 30.32;-40.55;100.0
  coordinate: 1.0;2.0;3.0
  place-sub-field1: C_127_158
  place-sub-field2: Lane 1
  place-sub-field3: P1
analytics0:
  enable: 1
  id: XYZ_1
  description: Vehicle Detection and License Plate Recognition
  source: OpenALR
  version: "1.0"
"""


@PROPERTY
@given(data=mutated((APP / "msgconv_config.txt").read_text(encoding="utf-8")))
def test_msgconv_key_file_config(tree: Path, data: bytes) -> None:
    from fake_device.deepstream.msgconv import load_msgconv_config

    path = _write(tree / "app", "fuzz_msgconv.txt", data)
    _assert_only_own_errors(lambda: load_msgconv_config(path))


@PROPERTY
@given(data=mutated(_MSGCONV_YAML))
def test_msgconv_yaml_config(tree: Path, data: bytes) -> None:
    from fake_device.deepstream.msgconv import load_msgconv_config

    path = _write(tree / "app", "fuzz_msgconv.yml", data)
    _assert_only_own_errors(lambda: load_msgconv_config(path))


_MSGBROKER_CFG = """[message-broker]
proto-cfg = "message.timeout.ms=2000;retries=3"
producer-proto-cfg = "queue.buffering.max.ms=20"
consumer-proto-cfg = "max.poll.interval.ms=20000"
partition-key = sensor.id
consumer-group-id = mygrp
share-connection = 1
"""


@PROPERTY
@given(data=mutated(_MSGBROKER_CFG))
def test_msgbroker_config(tree: Path, data: bytes) -> None:
    from fake_device.deepstream.msgbroker import load_msgbroker_config

    path = _write(tree / "app", "fuzz_msgbroker.txt", data)
    _assert_only_own_errors(lambda: load_msgbroker_config(path))


@PROPERTY
@given(data=mutated((APP / "deepstream_app_config.txt").read_text(encoding="utf-8")))
def test_deepstream_app_config(tree: Path, data: bytes) -> None:
    from fake_device.deepstream.reference_app import load_app_config

    path = _write(tree / "app", "fuzz_deepstream_app.txt", data)
    _assert_only_own_errors(lambda: load_app_config(path))


@PROPERTY
@given(
    text=st.one_of(
        st.sampled_from(_TOKENS),
        st.text(alphabet=_ODD_CHARS + _SYNTAX + "abkz", max_size=40),
        st.builds(
            lambda host, port, topic: f"{host};{port};{topic}",
            st.text(alphabet=_ODD_CHARS + "ab.-:[]", max_size=20),
            st.sampled_from(["9092", "0", "65536", "x", "", "-1"]),
            st.text(max_size=8),
        ),
    )
)
def test_conn_str(text: str) -> None:
    """Whatever conn-str is accepted can be handed to the broker check (its host resolves as IDNA)."""
    from fake_device.deepstream.msgbroker import parse_conn_str

    result = _assert_only_own_errors(lambda: parse_conn_str(text))
    if not isinstance(result, HarnessError):
        result.host.encode("idna")  # what socket.getaddrinfo does with the host; must not raise


# --- Triton model config ---------------------------------------------------------------------------


@PROPERTY
@given(data=mutated((ROOT / "models_repo" / "B" / "rtdetr" / "config.pbtxt").read_text(encoding="utf-8")))
def test_model_config_in_its_repository(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from harness.lint.model_repo import validate_model_repository

    repo = tmp_path_factory.mktemp("repo")
    model = repo / "rtdetr"
    (model / "2").mkdir(parents=True)
    (model / "2" / "model.onnx").symlink_to(ROOT / "models_repo" / "B" / "rtdetr" / "2" / "model.onnx")
    shutil.copy(ROOT / "models_repo" / "B" / "rtdetr" / "labels.txt", model / "labels.txt")
    (model / "config.pbtxt").write_bytes(data)
    _assert_only_own_errors(lambda: validate_model_repository(repo))
    shutil.rmtree(repo)


# --- recipes, scenarios, artifact specs ------------------------------------------------------------


@PROPERTY
@given(data=mutated((COMPONENT / "1.0.1" / "recipe.yaml").read_text(encoding="utf-8")))
def test_recipe_yaml(data: bytes) -> None:
    from harness.lint.recipe import parse_recipe, validate_recipe_text

    _assert_only_own_errors(lambda: validate_recipe_text(data, fmt="yaml", lint=True))
    _assert_only_own_errors(lambda: parse_recipe(data))


@PROPERTY
@given(data=mutated((ROOT / "scenarios" / "seed" / "recipe.json").read_text(encoding="utf-8")))
def test_recipe_json(data: bytes) -> None:
    from harness.lint.recipe import validate_recipe_text

    _assert_only_own_errors(lambda: validate_recipe_text(data, fmt="json"))
    _assert_only_own_errors(lambda: validate_recipe_text(data))


@PROPERTY
@given(data=mutated((ROOT / "scenarios" / "traffic_ota.yaml").read_text(encoding="utf-8")))
def test_scenario(tree: Path, data: bytes) -> None:
    from harness.scenario.load import lint_scenario, load_scenario

    path = _write(tree / "scenarios", "fuzz_scenario.yaml", data)
    _assert_only_own_errors(lambda: lint_scenario(path))
    _assert_only_own_errors(lambda: load_scenario(path))


@PROPERTY
@given(data=mutated((ROOT / "scenarios" / "seed" / "artifact.yaml").read_text(encoding="utf-8")))
def test_artifact_spec(tree: Path, data: bytes) -> None:
    from harness.package import artifact_layout, load_artifact_spec

    path = _write(tree / "scenarios" / "seed_copy", "artifact.yaml", data)
    spec = _assert_only_own_errors(lambda: load_artifact_spec(path))
    if not isinstance(spec, HarnessError):
        _assert_only_own_errors(lambda: artifact_layout(spec))


# --- lint's detection ------------------------------------------------------------------------------

_DETECTION_SEEDS = [
    (APP / "config_infer_primary_rtdetr.txt", ".txt"),
    (APP / "config_tracker_NvSORT.yml", ".yml"),
    (APP / "deepstream_app_config.txt", ".txt"),
    (COMPONENT / "1.0.1" / "recipe.yaml", ".yaml"),
    (ROOT / "scenarios" / "traffic_ota.yaml", ".yaml"),
    (ROOT / "scenarios" / "seed" / "recipe.json", ".json"),
]


@PROPERTY
@given(
    seed=st.sampled_from(_DETECTION_SEEDS),
    data=st.data(),
)
def test_lint_detection(tree: Path, seed: tuple[Path, str], data: st.DataObject) -> None:
    from harness.lint.detect import classify, classify_text, unrecognised_reason

    content = data.draw(mutated(seed[0].read_text(encoding="utf-8")))
    path = _write(tree, f"fuzz_detect{seed[1]}", content)
    _assert_only_own_errors(lambda: classify(path))
    _assert_only_own_errors(lambda: unrecognised_reason(path))
    _assert_only_own_errors(lambda: classify_text(content.decode("utf-8", "replace")))
