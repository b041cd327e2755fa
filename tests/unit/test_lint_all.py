"""``edge-harness lint PATH…``: classification by content and one run over whole trees."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.lint.detect import classify, walk

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "scenarios/traffic/app"
COMPONENT = ROOT / "scenarios/traffic/components/nvds-awsgg-deployment"

# every file of the example app, the component versions and the model repositories, with its kind
EXPECTED = {
    APP / "config_infer_primary_rtdetr.txt": "nvinfer",
    APP / "config_infer_primary_rtdetr_triton.yml": "nvinferserver",
    APP / "config_nvdsanalytics.txt": "nvdsanalytics",
    APP / "config_tracker_NvSORT.yml": "tracker",
    APP / "deepstream_app.py": None,
    APP / "common/__init__.py": None,
    APP / "common/bus_call.py": None,
    APP / "common/perf.py": None,
    APP / "common/tracks.py": None,
    APP / "deepstream_app_config.txt": "deepstream-app",
    APP / "msgconv_config.txt": "msgconv",
    COMPONENT / "1.0.0/artifact.yaml": "artifact",
    COMPONENT / "1.0.0/config_infer_primary_rtdetr_triton.yml": "nvinferserver",
    COMPONENT / "1.0.0/msgconv_config.txt": "msgconv",
    COMPONENT / "1.0.0/recipe.yaml": "recipe",
    COMPONENT / "1.0.1/artifact.yaml": "artifact",
    COMPONENT / "1.0.1/recipe.yaml": "recipe",
    COMPONENT / "1.0.2/artifact.yaml": "artifact",
    COMPONENT / "1.0.2/config.pbtxt": None,
    COMPONENT / "1.0.2/recipe.yaml": "recipe",
    COMPONENT / "1.1.0/artifact.yaml": "artifact",
    COMPONENT / "1.1.0/config_infer_primary_rtdetr_triton_grpc.yml": "nvinferserver",
    COMPONENT / "1.1.0/recipe.yaml": "recipe",
    COMPONENT / "1.1.0/wait_for_triton.py": None,
    ROOT / "scenarios/seed/recipe.json": "recipe",
    ROOT / "scenarios/seed/artifact.yaml": "artifact",
    ROOT / "scenarios/traffic_ota.yaml": "scenario",
    ROOT / "scenarios/seed_recipe_as_written.yaml": "scenario",
    ROOT / "scenarios/faults/kafka_pause.yaml": "scenario",
    ROOT / "scenarios/faults/triton_kill.yaml": "scenario",
    ROOT / "scenarios/faults/device_kill_install.yaml": "scenario",
    ROOT / "scenarios/faults/device_partition.yaml": "scenario",
    ROOT / "scenarios/traffic/world/highway.yaml": "world",
    ROOT / "models_repo/A": "model-repository",
    ROOT / "models_repo/B": "model-repository",
    ROOT / "models_repo": None,
    ROOT / "models_repo/README.md": None,
}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", sorted(EXPECTED), ids=lambda p: str(p.relative_to(ROOT)))
def test_classify_examples(path: Path) -> None:
    assert classify(path) == EXPECTED[path]


def test_every_example_file_is_expected() -> None:
    """New files in the examples must be added above, so their kind is pinned."""
    listed = set(_files(APP)) | set(_files(COMPONENT))
    assert listed <= set(EXPECTED)


def test_files_inside_model_repositories_are_not_classified_on_their_own() -> None:
    for repo in (ROOT / "models_repo/A", ROOT / "models_repo/B"):
        for file in _files(repo):
            assert classify(file) is None, file
    walked = list(walk([ROOT / "models_repo"]))
    assert ROOT / "models_repo/A" in walked and ROOT / "models_repo/B" in walked
    assert not any("rtdetr" in p.parts for p in walked)


def test_classify_by_content_not_name(tmp_path: Path) -> None:
    cases = {
        "a.txt": "infer_config {\n  unique_id: 1\n}\n",
        "b.yml": "[property]\nonnx-file=m.onnx\n",
        "c.cfg": "[message-broker]\npartition-key=sensor.id\n",
        "d.json": '{"ComponentName": "x", "Manifests": []}',
        "e.conf": "%YAML:1.0\nStateEstimator:\n  stateEstimatorType: 1\n",
        "f.txt": "[source0]\nenable=1\n[sink0]\nenable=1\n",
        "g.yaml": "layers:\n  - source: app\n",
        "h.yaml": "steps: []\ndevices: []\n",
        "i.txt": "[place0]\nenable=1\n",
        "j.txt": "[property]\nenable=1\n[line-crossing-stream-0]\nenable=1\n",
        "k.yaml": "recipeformatversion: '2020-01-25'\n",  # keys are case-insensitive in recipes
        "l.txt": "just some notes\n",
        "m.yaml": "version: 1\nframe: {width: 1}\n",
    }
    kinds = {}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        kinds[name] = classify(tmp_path / name)
    assert kinds == {
        "a.txt": "nvinferserver",
        "b.yml": "nvinfer",
        "c.cfg": "msgbroker",
        "d.json": "recipe",
        "e.conf": "tracker",
        "f.txt": "deepstream-app",
        "g.yaml": "artifact",
        "h.yaml": "scenario",
        "i.txt": "msgconv",
        "j.txt": "nvdsanalytics",
        "k.yaml": "recipe",
        "l.txt": None,
        "m.yaml": None,
    }


def test_broken_yaml_is_still_classified(tmp_path: Path) -> None:
    """A syntax error must reach the checker (which says where), not make the file vanish."""
    (tmp_path / "s.yaml").write_text("devices:\n  - name: [unclosed\nsteps: []\n")
    assert classify(tmp_path / "s.yaml") == "scenario"


def test_binary_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07\x00\x01layers:")
    assert classify(tmp_path / "model.onnx") is None


def _run(*args: str) -> object:
    return CliRunner().invoke(main, ["lint", *args], catch_exceptions=False)


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


def test_lint_examples_pass(in_root: Path) -> None:
    """Every example passes but the seed's recipe as published, whose Run script cds into a folder
    that its package.zip does not unpack into (scenarios/seed_recipe_as_written.yaml shows it fail)."""
    result = _run("scenarios/", "models_repo/")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0].startswith(
        "scenarios/seed/recipe.json:/Manifests/0/Lifecycle/Run/Script (21:31): error: "
        "{artifacts:decompressedPath}/nvds-aws-gg: no ZIP artifact"
    ), errors
    summary = result.output.strip().splitlines()[-1]
    assert ": 1 error," in summary
    # every recipe and scenario of the examples was recognised and checked (update when adding one)
    assert "recipe 10" in summary and "scenario 8" in summary, summary
    assert "model-repository 2" in summary
    # a config packaged by an artifact spec is checked where the package puts it
    assert "[packaged by scenarios/seed/artifact.yaml]" in result.output


def test_lint_all_and_subcommands_both_work(in_root: Path) -> None:
    assert _run("all", "models_repo/B").exit_code == 0
    assert _run("scenarios/traffic", "scenarios/traffic_ota.yaml", "models_repo/B").exit_code == 0
    result = _run("models", "models_repo/B")
    assert result.exit_code == 0 and "1 model, 0 errors" in result.output
    assert (
        _run("recipe", "scenarios/traffic/components/nvds-awsgg-deployment/1.0.1/recipe.yaml").exit_code == 0
    )
    assert _run("recipe", "scenarios/seed/recipe.json").exit_code == 1


def test_verbose_lists_skipped_files(in_root: Path) -> None:
    result = _run("--verbose", "scenarios/traffic/world")
    assert result.exit_code == 0
    assert "skipped: scenarios/traffic/world/README.md" in result.output
    assert "(world 1)" in result.output  # the preset is checked, not skipped


def test_lone_pbtxt_is_a_warning(in_root: Path) -> None:
    path = "scenarios/traffic/components/nvds-awsgg-deployment/1.0.2"
    result = _run(path)
    assert result.exit_code == 0
    assert f"{path}/config.pbtxt: warning: not recognised" in result.output
    assert _run("--strict", path).exit_code == 1


BROKEN = {
    "recipe.yaml": (
        'RecipeFormatVersion: "2020-01-25"\nComponentName: com.example.Broken\n'
        'ComponentVersion: "1.0.xx"\nManifests:\n  - Lifecycle:\n      Run: echo hi\n',
        "recipe.yaml:/ComponentVersion (3:",
    ),
    "scenario.yaml": ("name: broken\ndevices: []\nsteps:\n  - sleep: 1\n", "scenario.yaml:4:"),
    "artifact.yaml": ("name: package\nlayers:\n  - source: does-not-exist\n", "artifact.yaml:3:"),
    "infer.yml": ('infer_config {\n  unique_id: "one"\n}\n', "infer.yml:2:"),
    "nvinfer.txt": ("[property]\ngpu-id=0\nnet-scale-factor=abc\n", "nvinfer.txt:3:"),
    "analytics.txt": (
        "[property]\nenable=1\nconfig-width=abc\nconfig-height=720\n[roi-filtering-stream-0]\nenable=1\n",
        "analytics.txt:3:",
    ),
    "msgconv.txt": ("[sensor0]\nenable=1\nbogus-key=1\n", "msgconv.txt:3:"),
    "broker.txt": ("[message-broker]\nbogus=1\n", "broker.txt:2:"),
    "tracker.yml": ("%YAML:1.0\nBaseConfig:\n  minDetectorConfidence: abc\n", "tracker.yml:3:"),
    "app.txt": ("[application]\nenable-perf-measurement=1\nbogus-key=1\n", "app.txt:3:"),
    "repo/m/config.pbtxt": ('name: "m"\nplatform: "no_such_platform"\n', "m/config.pbtxt:2:"),
}


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    for name, (text, _) in BROKEN.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "repo/m/1").mkdir()
    (tmp_path / "repo/m/1/model.onnx").write_bytes(b"")
    (tmp_path / "notes.md").write_text("# not an input\n")
    return tmp_path


def test_broken_tree_names_every_file_and_line(broken: Path) -> None:
    result = _run(str(broken))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for name, (_, where) in BROKEN.items():
        assert any(where in line and ": error: " in line for line in lines), (name, result.output)
    summary = lines[-1]
    assert summary.startswith("11 files: ") and "0 warnings" in summary and "; 1 skipped" in summary
    assert "notes.md" not in result.output


def test_json_output_parses(broken: Path) -> None:
    result = CliRunner().invoke(main, ["lint", "--format", "json", str(broken)])
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    kinds = {row["kind"] for row in findings if row["severity"] == "error"}
    assert kinds == {
        "recipe", "scenario", "artifact", "model-repository", "nvinferserver", "nvinfer",
        "nvdsanalytics", "msgconv", "msgbroker", "tracker", "deepstream-app",
    }  # fmt: skip
    assert {"file", "location", "message", "expected", "hint"} <= set(findings[0])
    assert all(os.path.exists(row["file"]) for row in findings)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = _run(str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_broken_symbolic_links_in_a_folder_are_errors_and_the_rest_is_checked(tmp_path: Path) -> None:
    (tmp_path / "recipe.yaml").write_text(
        'RecipeFormatVersion: "2020-01-25"\nComponentName: com.example.Fine\nComponentVersion: "1.0.0"\n'
        "Manifests:\n  - Platform: {os: linux}\n    Lifecycle: {Run: echo hi}\n"
    )
    (tmp_path / "config.txt").symlink_to("gone/config.txt")
    (tmp_path / "also.txt").symlink_to("gone/config.txt")  # the same missing target: reported too
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    result = _run(str(tmp_path))
    assert result.exit_code == 1, result.output
    for name in ("config.txt", "also.txt"):
        assert f"{tmp_path / name}: error: broken symbolic link to gone/config.txt" in result.output
    assert f"{tmp_path / 'loop.yaml'}: error: symbolic link loop (loop.yaml leads back to itself)" in (
        result.output
    )
    assert result.output.count("hint: ") == 3
    assert "remove the link or point it at an existing file" in result.output
    summary = result.output.strip().splitlines()[-1]
    assert summary.startswith("4 files: 3 errors, 0 warnings") and "recipe 1" in summary, summary
