"""The ``nvinferserver`` element without a Triton: properties, and what fails its start.

Inference through the real tritonserver is tested in
tests/integration/deepstream/test_nvinferserver_element_triton.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gst_batches import BatchPipeline

from fake_device.deepstream.gst.registry import register
from fake_device.deepstream.gst.runtime import Gst

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
APP_CONFIG = ROOT / "scenarios" / "traffic" / "app" / "config_infer_primary_rtdetr_triton.yml"
MODEL = ROOT / "models_repo" / "B" / "rtdetr"
MODEL_REPO = 'model_repo {\n        root: "./models"\n        strict_model_config: true\n      }'


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The app's folder as the component ships it: the config with ./models beside it."""
    model = tmp_path / "models" / "rtdetr"
    model.mkdir(parents=True)
    for name in ("config.pbtxt", "labels.txt"):
        shutil.copy(MODEL / name, model / name)
    shutil.copy(APP_CONFIG, tmp_path / APP_CONFIG.name)
    return tmp_path / APP_CONFIG.name


@pytest.fixture
def pipelines() -> Iterator[list[BatchPipeline]]:
    made: list[BatchPipeline] = []
    yield made
    for pipeline in made:
        pipeline.close()


def failed_start(pipelines: list[BatchPipeline], chain: str) -> BatchPipeline:
    pipeline = BatchPipeline(chain)
    pipelines.append(pipeline)
    assert not pipeline.start()
    return pipeline


def test_properties_as_deepstream_declares_them() -> None:
    register("nvinferserver")
    element = Gst.ElementFactory.make("nvinferserver")
    assert element.get_name().startswith("nvinferserver")
    specs = {p.name: p for p in element.list_properties()}
    expected = {
        "unique-id": ("guint", 0, 0, 2**32 - 1),
        "process-mode": ("guint", 0, 0, 2),
        "batch-size": ("guint", 0, 0, 1024),
        "infer-on-gie-id": ("gint", -1, -1, 2**31 - 1),
        "interval": ("guint", 0, 0, 2**31 - 1),
    }
    for name, (type_name, default, minimum, maximum) in expected.items():
        spec = specs[name]
        got = (spec.value_type.name, spec.default_value, spec.minimum, spec.maximum)
        assert got == (type_name, default, minimum, maximum), name
    for name in ("config-file-path", "infer-on-class-ids"):
        assert (specs[name].value_type.name, specs[name].default_value) == ("gchararray", ""), name
    assert (specs["input-tensor-meta"].value_type.name, specs["input-tensor-meta"].default_value) == (
        "gboolean",
        False,
    )
    templates = {
        t.name_template: t.get_caps()
        for t in Gst.ElementFactory.find("nvinferserver").get_static_pad_templates()
    }
    for caps in templates.values():
        assert caps.can_intersect(Gst.Caps.from_string("video/x-raw(memory:NVMM), format=NV12"))
        assert not caps.can_intersect(Gst.Caps.from_string("video/x-raw, format=RGBA"))


def test_the_config_is_read_at_start_not_when_set(app: Path) -> None:
    """deepstream-test3 reads batch-size after setting the file: nvinferserver still says 0 then."""
    register("nvinferserver")
    element = Gst.ElementFactory.make("nvinferserver")
    element.set_property("config-file-path", str(app))
    assert element.get_property("batch-size") == 0
    element.set_property("batch-size", 3)
    assert element.get_property("batch-size") == 3


def test_no_config_file_fails_the_start(pipelines: list[BatchPipeline]) -> None:
    [error] = failed_start(pipelines, "nvinferserver name=pgie").errors()
    assert "pgie: Configuration file not provided" in error


def test_a_syntax_error_fails_the_start_at_its_line(app: Path, pipelines: list[BatchPipeline]) -> None:
    text = app.read_text(encoding="utf-8").replace("max_batch_size: 4", "max_batch_sise: 4")
    app.write_text(text, encoding="utf-8")
    [error] = failed_start(pipelines, f"nvinferserver name=pgie config-file-path={app}").errors()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "max_batch_sise" in t)
    assert f"pgie: Configuration file parsing failed: {app}:{line}: syntax error" in error
    assert "unknown field 'max_batch_sise' in InferenceConfig" in error
    assert "hint: did you mean `max_batch_size`?" in error


def test_a_missing_model_repository_fails_the_start(app: Path, pipelines: list[BatchPipeline]) -> None:
    shutil.rmtree(app.parent / "models")
    [error] = failed_start(pipelines, f"nvinferserver name=pgie config-file-path={app}").errors()
    line = next(i for i, t in enumerate(app.read_text().splitlines(), 1) if 'root: "./models"' in t)
    assert f"{app}:{line}: model_repo.root './models' does not exist" in error


def test_a_model_missing_from_the_repository_fails_the_start(
    app: Path, pipelines: list[BatchPipeline]
) -> None:
    text = app.read_text(encoding="utf-8").replace('model_name: "rtdetr"', 'model_name: "yolov8"')
    app.write_text(text, encoding="utf-8")
    [error] = failed_start(pipelines, f"nvinferserver name=pgie config-file-path={app}").errors()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if 'model_name: "yolov8"' in t)
    assert f"{app}:{line}: model 'yolov8' is not in the model repository" in error
    assert "(expected one of: rtdetr)" in error


def test_properties_replace_the_files_values_with_a_warning_and_an_unreachable_triton_fails(
    app: Path, pipelines: list[BatchPipeline]
) -> None:
    """validatePluginConfig's order: the properties apply, then the backend connects (and fails here)."""
    text = app.read_text(encoding="utf-8").replace(MODEL_REPO, 'grpc { url: "127.0.0.1:9" }')
    app.write_text(text, encoding="utf-8")
    pipeline = failed_start(
        pipelines, f"nvinferserver name=pgie config-file-path={app} batch-size=2 unique-id=7 process-mode=2"
    )
    assert pipeline.warnings() == [
        "Configuration file batch-size reset to: 2",
        "Configuration file unique-id reset to: 7",
        "Configuration file process_mode reset to: PROCESS_MODE_CLIP_OBJECTS",
    ]
    [error] = pipeline.errors()
    assert "pgie: Failed to initialize InferTrtIsContext: Triton at 127.0.0.1:9" in error
