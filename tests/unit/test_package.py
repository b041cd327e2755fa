"""Artifact specs: layers, overrides, reproducible ZIPs, and errors that point at the line."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from harness.errors import HarnessError, ValidationError
from harness.package import build_artifact, file_sha256, load_artifact_spec, package, zip_folder

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "scenarios" / "traffic" / "components" / "nvds-awsgg-deployment"


def _tree(tmp: Path) -> Path:
    (tmp / "app").mkdir()
    (tmp / "app" / "run.sh").write_text("#!/bin/sh\necho app\n")
    (tmp / "app" / "run.sh").chmod(0o755)
    (tmp / "app" / "conf.txt").write_text("shared\n")
    (tmp / "app" / "__pycache__").mkdir()
    (tmp / "app" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp / "model" / "rtdetr" / "1").mkdir(parents=True)
    (tmp / "model" / "rtdetr" / "1" / "model.onnx").write_bytes(b"onnx")
    (tmp / "v1").mkdir()
    (tmp / "v1" / "conf.txt").write_text("version one\n")
    spec = tmp / "v1" / "artifact.yaml"
    spec.write_text(
        "name: package\n"
        "layers:\n"
        "  - source: ../app\n"
        "  - source: ../model\n"
        "    target: models\n"
        "  - source: conf.txt\n"
        'exclude: ["__pycache__"]\n'
    )
    return spec


def test_layers_are_applied_in_order_and_excludes_apply(tmp_path: Path) -> None:
    folder = build_artifact(_tree(tmp_path), tmp_path / "out")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["conf.txt", "models/rtdetr/1/model.onnx", "run.sh"]
    assert (folder / "conf.txt").read_text() == "version one\n"  # the version's file wins
    assert folder.name == "package"


def test_zip_is_reproducible_flat_and_keeps_modes(tmp_path: Path) -> None:
    spec = _tree(tmp_path)
    _, first = package(spec, tmp_path / "a")
    (tmp_path / "app" / "run.sh").touch()  # a newer mtime must not change the bytes
    _, second = package(spec, tmp_path / "b")
    assert file_sha256(first) == file_sha256(second)
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert names == sorted(names) and "run.sh" in names  # no top-level folder inside
        mode = archive.getinfo("run.sh").external_attr >> 16
    assert mode & 0o111, "the executable bit survives"


def test_missing_source_is_reported_at_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "artifact.yaml"
    spec.write_text("layers:\n  - source: app\n  - source: nowhere\n")
    (tmp_path / "app").mkdir()
    with pytest.raises(ValidationError) as err:
        load_artifact_spec(spec)
    text = str(err.value)
    assert f"{spec}:3:" in text and "at /layers/1/source: nowhere does not exist" in text
    assert "relative to the folder of the artifact spec" in text


def test_schema_errors_name_the_pointer_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "artifact.yaml"
    spec.write_text("name: package\nlayers:\n  - target: models\n    color: red\n")
    with pytest.raises(ValidationError) as err:
        load_artifact_spec(spec)
    text = str(err.value)
    assert "is not a valid artifact spec" in text
    assert "Additional properties are not allowed ('color' was unexpected)" in text
    assert f"{spec}:3:" in text


def test_target_may_not_leave_the_artifact(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    spec = tmp_path / "artifact.yaml"
    spec.write_text("layers:\n  - source: f.txt\n    target: ../../etc/f.txt\n")
    with pytest.raises(ValidationError, match="target must stay inside the artifact"):
        load_artifact_spec(spec)


def test_a_missing_spec_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"artifact spec .*nope\.yaml does not exist"):
        load_artifact_spec(tmp_path / "nope.yaml")


def test_zip_folder_of_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    archive = zip_folder(tmp_path / "empty", tmp_path / "e.zip")
    with zipfile.ZipFile(archive) as z:
        assert z.namelist() == []


def test_traffic_app_version_1_0_0_has_detector_a_and_its_own_configs(tmp_path: Path) -> None:
    folder = build_artifact(COMPONENT / "1.0.0" / "artifact.yaml", tmp_path)
    assert (folder / "models" / "rtdetr" / "1" / "model.onnx").is_file()
    assert not (folder / "models" / "rtdetr" / "2").exists()
    assert (folder / "models" / "rtdetr" / "labels.txt").read_text().split() == ["vehicle"]
    assert "num_detected_classes: 1" in (folder / "config_infer_primary_rtdetr_triton.yml").read_text()
    assert "version=1.0.0" in (folder / "msgconv_config.txt").read_text()
    assert (folder / "deepstream_app.py").is_file() and (
        folder / "awsgg-example.mp4"
    ).stat().st_size > 100_000
    assert not (folder / "models" / "rtdetr" / "PROVENANCE.json").exists()
