"""The nvinfer config loader: the traffic app's key file loads, bad files fail at their line."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import pytest

from fake_device.deepstream.bbox_parsers import BUILTIN_PARSER, PARSERS
from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.inferserver_config import load_inferserver_config
from fake_device.deepstream.msgconv import KeyFile
from fake_device.deepstream.nvinfer_config import (
    CLUSTER_NMS,
    CLUSTER_NONE,
    ClassAttrs,
    NvInferConfig,
    load_nvinfer_config,
    parse_nvinfer_config,
)

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "scenarios" / "traffic" / "app"
APP_CONFIG = APP / "config_infer_primary_rtdetr.txt"
TRITON_CONFIG = APP / "config_infer_primary_rtdetr_triton.yml"
MODEL = ROOT / "models_repo" / "B" / "rtdetr"
MODEL_INPUTS = {"input": (3, 640, 640)}
MODEL_OUTPUTS = {"output": (300, 6)}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The app's folder as the artifact ships it; the ONNX file is a stand-in (nothing runs it here)."""
    app = tmp_path / "app"
    model = app / "models" / "rtdetr"
    (model / "2").mkdir(parents=True)
    shutil.copy(MODEL / "labels.txt", model / "labels.txt")
    shutil.copy(MODEL / "config.pbtxt", model / "config.pbtxt")
    (model / "2" / "model.onnx").write_bytes(b"stand-in")
    return app


def edited(*edits: tuple[str, str]) -> str:
    text = APP_CONFIG.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def write(app_dir: Path, text: str, name: str = "config.txt") -> Path:
    path = app_dir / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(needle))


def error(app_dir: Path, text: str) -> ConfigError:
    path = write(app_dir, text)
    with pytest.raises(ConfigError) as info:
        load_nvinfer_config(path)
    return info.value


def assert_at(err: ConfigError, app_dir: Path, text: str, needle: str, message: str) -> None:
    """The error names this file and the line starting with ``needle``, and says ``message``."""
    line = line_of(text, needle)
    assert err.line == line
    assert err.message.startswith(f"{app_dir / 'config.txt'}:{line}: "), err.message
    assert message in err.message, err.message


# --- the good file -------------------------------------------------------------------------------


def test_app_config_loads(app_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = app_dir / APP_CONFIG.name
    shutil.copy(APP_CONFIG, path)
    monkeypatch.chdir(tmp_path)  # relative paths follow the config file, not the working directory
    config = load_nvinfer_config(path)
    assert config.path == path
    assert config.onnx_file == app_dir / "models" / "rtdetr" / "2" / "model.onnx"
    assert config.model_engine_file == app_dir / "models" / "rtdetr" / "2" / "model_b1_gpu0_fp16.engine"
    assert config.labelfile_path == app_dir / "models" / "rtdetr" / "labels.txt"
    assert config.labels == ("car", "truck", "bus", "motorcycle")
    assert (config.unique_id, config.gpu_id, config.batch_size, config.interval) == (1, 0, 1, 0)
    assert config.network_mode == 2 and config.network_type == 0 and config.process_mode == 1
    assert config.net_scale_factor == pytest.approx(1 / 255)
    assert config.offsets == () and config.model_color_format == "RGB"
    assert config.network_input_order == "LINEAR"
    assert not config.maintain_aspect_ratio and not config.symmetric_padding
    assert config.scaling_filter == 1
    assert config.num_detected_classes == 4
    assert config.cluster_mode == CLUSTER_NONE
    assert config.parse_bbox_func_name == "NvDsInferParseYolo"
    assert config.custom_lib_path.endswith("/libnvdsinfer_custom_impl_Yolo.so")
    assert config.engine_create_func_name == "NvDsInferYoloCudaEngineGet"
    assert config.class_attrs == (ClassAttrs(pre_cluster_threshold=0.5, topk=300),) * 4
    text = path.read_text()
    assert config.line_of("onnx-file") == line_of(text, "onnx-file=")
    assert config.line_of("topk", "class-attrs-all") == line_of(text, "topk=")
    assert any("network-mode=2 (FP16) has no effect" in w for w in config.warnings)


def test_same_inference_settings_as_the_triton_config(app_dir: Path) -> None:
    """The app's two configs describe the same preprocessing, parser, labels and thresholds."""
    nvinfer = load_nvinfer_config(write(app_dir, APP_CONFIG.read_text())).to_inferserver_config(
        MODEL_INPUTS, MODEL_OUTPUTS, model_max_batch_size=0
    )
    shutil.copy(TRITON_CONFIG, app_dir / TRITON_CONFIG.name)
    triton = load_inferserver_config(app_dir / TRITON_CONFIG.name)
    # nvinfer takes the model's one input; no offsets are zero offsets
    assert nvinfer.preprocess == dataclasses.replace(triton.preprocess, tensor_name="", channel_offsets=())
    assert triton.preprocess.channel_offsets == (0.0, 0.0, 0.0)
    assert nvinfer.detection == dataclasses.replace(triton.detection, nms_iou_threshold=0.3)
    assert nvinfer.labels == triton.labels and nvinfer.labelfile_path == triton.labelfile_path
    assert (nvinfer.unique_id, nvinfer.gpu_ids, nvinfer.interval) == (1, (0,), 0)
    assert nvinfer.max_batch_size == 1
    assert nvinfer.backend.model_name == "model.onnx" and nvinfer.backend.repo_root is None
    assert nvinfer.path == app_dir / "config.txt"
    # errors of the shared code point at the nvinfer key's line
    text = APP_CONFIG.read_text()
    assert nvinfer.line_of("infer_config", "postprocess", "detection", "custom_parse_bbox_func") == line_of(
        text, "parse-bbox-func-name="
    )
    assert nvinfer.line_of("infer_config", "max_batch_size") == line_of(text, "batch-size=")


def test_defaults(app_dir: Path) -> None:
    """gst-nvinfer's defaults for everything the file leaves out."""
    text = (
        "[property]\nonnx-file=models/rtdetr/2/model.onnx\nnum-detected-classes=4\ncluster-mode=2\n"
        "parse-bbox-func-name=NvDsInferParseYolo\ncustom-lib-path=libnvdsinfer_custom_impl_Yolo.so\n"
    )
    config = load_nvinfer_config(write(app_dir, text))
    assert config.unique_id == 15 and config.batch_size == 1 and config.net_scale_factor == 1.0
    assert config.scaling_filter == 6  # NvBufSurfTransformInter_Default
    assert config.labels == () and config.labelfile_path is None
    assert config.class_attrs == (ClassAttrs(),) * 4
    assert ClassAttrs().pre_cluster_threshold == 0.2 and ClassAttrs().nms_iou_threshold == 0.3
    assert ClassAttrs().topk == -1
    # a bare library name is resolved against the config's folder too, as gst-nvinfer does
    assert config.custom_lib_path == str(app_dir / "libnvdsinfer_custom_impl_Yolo.so")
    converted = config.to_inferserver_config()
    assert converted.detection.clustering == "nms" and config.cluster_mode == CLUSTER_NMS
    assert converted.detection.nms_iou_threshold == pytest.approx(0.3)
    assert converted.detection.pre_thresholds == (pytest.approx(0.2),) * 4


def test_paths_resolve_against_the_real_config_folder(app_dir: Path, tmp_path: Path) -> None:
    """Relative paths follow the config file's real folder (DeepStream calls realpath on it)."""
    shutil.copy(APP_CONFIG, app_dir / APP_CONFIG.name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "pgie.txt"
    link.symlink_to(app_dir / APP_CONFIG.name)
    config = load_nvinfer_config(link)
    assert config.onnx_file == app_dir / "models" / "rtdetr" / "2" / "model.onnx"
    assert config.path == link  # errors name the file as it was given


def test_absolute_paths_are_kept(app_dir: Path, tmp_path: Path) -> None:
    onnx = tmp_path / "detector.onnx"
    onnx.write_bytes(b"stand-in")
    config = load_nvinfer_config(
        write(app_dir, edited(("onnx-file=models/rtdetr/2/model.onnx", f"onnx-file={onnx}")))
    )
    assert config.onnx_file == onnx


def test_class_attrs_n_override_class_attrs_all(app_dir: Path) -> None:
    text = edited(
        ("cluster-mode=4", "cluster-mode=2"),
        ("topk=300", "topk=300\nnms-iou-threshold=0.45\npost-cluster-threshold=0.1"),
    )
    text += (
        "\n[class-attrs-2]\npre-cluster-threshold=0.8\ndetected-min-w=20\n"
        "\n[class-attrs-3]\nthreshold=0.6\nnms-iou-threshold=0.6\ntopk=5\nroi-top-offset=100\n"
    )
    config = load_nvinfer_config(write(app_dir, text))
    base = ClassAttrs(pre_cluster_threshold=0.5, topk=300, nms_iou_threshold=0.45, post_cluster_threshold=0.1)
    assert config.class_attrs[0] == base and config.class_attrs[1] == base
    assert config.class_attrs[2] == ClassAttrs(
        pre_cluster_threshold=0.8,
        topk=300,
        nms_iou_threshold=0.45,
        post_cluster_threshold=0.1,
        detected_min_w=20,
    )
    assert config.class_attrs[3] == ClassAttrs(
        pre_cluster_threshold=0.6,
        topk=5,
        nms_iou_threshold=0.6,
        post_cluster_threshold=0.1,
        roi_top_offset=100,
    )
    assert any("'threshold' is deprecated" in w for w in config.warnings)
    assert config.line_of("detected-min-w", "class-attrs-2") == line_of(text, "detected-min-w=")
    converted = config.to_inferserver_config()
    assert converted.detection.pre_thresholds == pytest.approx((0.5, 0.5, 0.8, 0.6))
    assert converted.detection.nms_iou_threshold == 0.0  # per-class values: NvInfer applies them


def test_infer_dims_fix_dynamic_model_dims(app_dir: Path) -> None:
    config = load_nvinfer_config(
        write(app_dir, edited(("batch-size=1", "batch-size=1\ninfer-dims=3;640;640")))
    )
    converted = config.to_inferserver_config({"input": (3, -1, -1)}, MODEL_OUTPUTS)
    assert converted.backend.input_dims == {"input": (3, 640, 640)}


def test_engine_beside_onnx_is_ignored_with_a_log_line(
    app_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = APP_CONFIG.read_text()
    with caplog.at_level(logging.INFO, logger="fake_device.deepstream.nvinfer_config"):
        config = load_nvinfer_config(write(app_dir, text))
    line = line_of(text, "model-engine-file=")
    assert any(
        f"config.txt:{line}: model-engine-file 'models/rtdetr/2/model_b1_gpu0_fp16.engine' is ignored"
        in r.message
        for r in caplog.records
    )
    assert any("engines are GPU-specific" in w for w in config.warnings)


# --- errors --------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file does not exist"):
        load_nvinfer_config(tmp_path / "nope.txt")


def test_no_property_group(app_dir: Path) -> None:
    err = error(app_dir, "[class-attrs-all]\ntopk=3\n")
    assert "no [property] group" in err.message and err.line == 0


def test_unknown_key_with_did_you_mean(app_dir: Path) -> None:
    text = edited(("net-scale-factor=", "net-scale-facter="))
    err = error(app_dir, text)
    assert_at(err, app_dir, text, "net-scale-facter=", "unknown key 'net-scale-facter' in [property]")
    assert err.hint == "did you mean 'net-scale-factor'?"


def test_unknown_class_key_with_did_you_mean(app_dir: Path) -> None:
    text = edited(("pre-cluster-threshold=", "pre-cluster-treshold="))
    err = error(app_dir, text)
    assert_at(
        err, app_dir, text, "pre-cluster-treshold=", "unknown key 'pre-cluster-treshold' in [class-attrs-all]"
    )
    assert err.hint == "did you mean 'pre-cluster-threshold'?"


def test_unknown_group_with_did_you_mean(app_dir: Path) -> None:
    text = edited(("[class-attrs-all]", "[class-atrs-all]"))
    err = error(app_dir, text)
    assert_at(err, app_dir, text, "[class-atrs-all]", "unknown group [class-atrs-all]")
    assert err.hint is not None and err.hint.startswith("did you mean 'class-attrs-all'?")


def test_class_group_without_a_class_id(app_dir: Path) -> None:
    text = APP_CONFIG.read_text() + "\n[class-attrs-car]\ntopk=1\n"
    assert_at(error(app_dir, text), app_dir, text, "[class-attrs-car]", "invalid group [class-attrs-car]")


def test_class_group_beyond_the_classes(app_dir: Path) -> None:
    text = APP_CONFIG.read_text() + "\n[class-attrs-4]\ntopk=1\n"
    err = error(app_dir, text)
    assert_at(
        err, app_dir, text, "[class-attrs-4]", "[class-attrs-4] sets class 4 but num-detected-classes is 4"
    )
    assert "class ids 0..3" in err.message


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("tlt-model-key=tlt_encode", "TAO (TLT) encoded models"),
        ("tlt-encoded-model=model.etlt", "TAO (TLT) encoded models"),
        ("mean-file=mean.ppm", "mean image subtraction"),
        (
            "custom-network-config=yolo.cfg",
            "networks built by the custom library, e.g. from Darknet cfg files",
        ),
    ],
)
def test_keys_that_are_not_emulated(app_dir: Path, key: str, what: str) -> None:
    text = edited(("gpu-id=0", f"gpu-id=0\n{key}"))
    err = error(app_dir, text)
    name = key.split("=")[0]
    assert_at(err, app_dir, text, key, f"{name} is valid in DeepStream but not emulated ({what})")
    assert err.hint is not None and "give onnx-file" in err.hint


def test_uff_and_caffe_keys_beside_an_onnx_file_are_dead(app_dir: Path) -> None:
    """deepstream-test3's PeopleNet config keeps UFF keys next to onnx-file; DeepStream 7 builds ONNX only."""
    text = edited(("gpu-id=0", "gpu-id=0\ninput-dims=3;544;960;0\nuff-input-blob-name=input_1"))
    config = parse_nvinfer_config(KeyFile.parse(text, app_dir / "c.txt"), app_dir / "c.txt")
    assert "input-dims has no effect: onnx-file is the model" in config.warnings
    assert "uff-input-blob-name has no effect: onnx-file is the model" in config.warnings
    text = edited(("onnx-file=models/rtdetr/2/model.onnx", "uff-file=model.uff"))
    err = error(app_dir, text)
    assert_at(
        err, app_dir, text, "uff-file=", "uff-file is valid in DeepStream but not emulated (UFF models)"
    )
    assert err.hint == "the emulation runs ONNX models: give onnx-file"


def test_onnx_file_missing_names_the_resolved_path(app_dir: Path) -> None:
    text = edited(("onnx-file=models/rtdetr/2/model.onnx", "onnx-file=models/rtdetr/1/model.onnx"))
    err = error(app_dir, text)
    resolved = app_dir / "models" / "rtdetr" / "1" / "model.onnx"
    assert_at(
        err,
        app_dir,
        text,
        "onnx-file=",
        f"onnx-file 'models/rtdetr/1/model.onnx' not found (resolved to {resolved})",
    )


def test_engine_without_onnx(app_dir: Path) -> None:
    text = edited(("onnx-file=models/rtdetr/2/model.onnx\n", ""))
    err = error(app_dir, text)
    assert_at(
        err,
        app_dir,
        text,
        "model-engine-file=",
        "model-engine-file without onnx-file: TensorRT engines cannot run here; give onnx-file",
    )


def test_no_model_at_all(app_dir: Path) -> None:
    text = edited(
        ("onnx-file=models/rtdetr/2/model.onnx\n", ""), ("model-engine-file=", "#model-engine-file=")
    )
    assert_at(error(app_dir, text), app_dir, text, "[property]", "no model: onnx-file is not set")


def test_label_count_must_match_num_detected_classes(app_dir: Path) -> None:
    text = edited(("num-detected-classes=4", "num-detected-classes=1"))
    err = error(app_dir, text)
    labels = app_dir / "models" / "rtdetr" / "labels.txt"
    assert_at(
        err,
        app_dir,
        text,
        "num-detected-classes=",
        f"labels file {labels} has 4 labels but num-detected-classes is 1",
    )


def test_labels_file_missing(app_dir: Path) -> None:
    text = edited(("labelfile-path=models/rtdetr/labels.txt", "labelfile-path=labels.txt"))
    err = error(app_dir, text)
    assert_at(
        err,
        app_dir,
        text,
        "labelfile-path=",
        f"labelfile-path 'labels.txt' not found (resolved to {app_dir / 'labels.txt'})",
    )


def test_unknown_parser_lists_the_known_ones(app_dir: Path) -> None:
    text = edited(("parse-bbox-func-name=NvDsInferParseYolo", "parse-bbox-func-name=NvDsInferParseYoloV8"))
    err = error(app_dir, text)
    assert_at(
        err, app_dir, text, "parse-bbox-func-name=", "unknown parse-bbox-func-name 'NvDsInferParseYoloV8'"
    )
    assert (
        err.hint
        == "the emulation knows: " + ", ".join(PARSERS) + " (or none: the built-in DetectNet_v2 parser)"
    )


def test_no_parser_is_the_builtin_detectnet_parser(app_dir: Path) -> None:
    """Without parse-bbox-func-name nvinfer parses DetectNet_v2 grids itself: no library needed."""
    text = edited(
        ("parse-bbox-func-name=NvDsInferParseYolo\n", ""), ("custom-lib-path=", "#custom-lib-path=")
    )
    config = parse_nvinfer_config(KeyFile.parse(text, app_dir / "c.txt"), app_dir / "c.txt")
    assert (config.parse_bbox_func_name, config.custom_lib_path) == (BUILTIN_PARSER, "")
    converted = config.to_inferserver_config()
    assert converted.detection is not None and converted.detection.custom_parse_bbox_func == BUILTIN_PARSER


def test_secondary_classifier(app_dir: Path) -> None:
    """deepstream-test2's sgie keys: a classifier on the objects of GIE 1's class 0, labels per layer."""
    (app_dir / "labels_make.txt").write_text("acura;audi;bmw\n", encoding="utf-8")
    text = edited(
        ("process-mode=1", "process-mode=2"),
        ("network-type=0", "is-classifier=1"),
        ("labelfile-path=models/rtdetr/labels.txt", "labelfile-path=labels_make.txt"),
        (
            "gpu-id=0",
            "gpu-id=0\noperate-on-gie-id=1\noperate-on-class-ids=0\nclassifier-threshold=0.51\n"
            "classifier-async-mode=1\ninput-object-min-width=64\ninput-object-min-height=20\n"
            "secondary-reinfer-interval=15\nclassifier-type=vehiclemake",
        ),
    )
    config = parse_nvinfer_config(KeyFile.parse(text, app_dir / "c.txt"), app_dir / "c.txt")
    assert config.is_classifier and config.process_mode == 2
    assert (config.operate_on_gie_id, config.operate_on_class_ids) == (1, (0,))
    assert (config.classifier_threshold, config.classifier_async_mode, config.classifier_type) == (
        0.51,
        True,
        "vehiclemake",
    )
    assert config.secondary_reinfer_interval == 15
    assert config.min_input_object_size == (64, 20)
    assert dataclasses.replace(config, input_object_min_height=0).min_input_object_size == (
        64,
        16,
    )  # VIC floor
    assert config.label_lines == (("acura", "audi", "bmw"),)
    converted = config.to_inferserver_config()
    assert converted.detection is None and converted.process_mode == "CLIP_OBJECTS"
    assert converted.classification is not None
    assert converted.classification.labels == (("acura", "audi", "bmw"),)


def test_parser_needs_the_custom_library(app_dir: Path) -> None:
    text = edited(("custom-lib-path=", "#custom-lib-path="))
    err = error(app_dir, text)
    assert_at(err, app_dir, text, "parse-bbox-func-name=", "is set but there is no custom-lib-path")


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (0, "cluster-mode=0 (OpenCV groupRectangles clustering) is not emulated"),
        (1, "cluster-mode=1 (DBSCAN clustering) is not emulated"),
        (3, "cluster-mode=3 (DBSCAN + NMS hybrid clustering) is not emulated"),
    ],
)
def test_cluster_modes_that_are_not_emulated(app_dir: Path, mode: int, message: str) -> None:
    text = edited(("cluster-mode=4", f"cluster-mode={mode}"))
    err = error(app_dir, text)
    assert_at(err, app_dir, text, "cluster-mode=", message)
    assert err.hint is not None and err.hint.startswith("use cluster-mode=2 (NMS) or cluster-mode=4")


def test_default_cluster_mode_is_group_rectangles(app_dir: Path) -> None:
    text = edited(("cluster-mode=4\n", ""))
    err = error(app_dir, text)
    assert_at(err, app_dir, text, "[property]", "cluster-mode is not set, and its default 0")
    assert err.hint is not None and "nms-iou-threshold=0.5 and topk=20" in err.hint


def test_enable_dbscan_is_dbscan(app_dir: Path) -> None:
    text = edited(("cluster-mode=4", "enable-dbscan=1"))
    assert_at(
        error(app_dir, text),
        app_dir,
        text,
        "enable-dbscan=",
        "enable-dbscan=1 (DBSCAN clustering) is not emulated",
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("cluster-mode=4", "cluster-mode=7", "invalid cluster-mode=7"),
        ("network-mode=2", "network-mode=5", "invalid network-mode=5"),
        ("model-color-format=0", "model-color-format=3", "invalid model-color-format=3"),
        ("network-type=0", "network-type=2", "network-type=2 (segmentation) is not emulated"),
        ("process-mode=1", "process-mode=3", "invalid process-mode=3"),
        ("gpu-id=0", "gpu-id=0\ninput-object-min-width=-1", "input-object-min-width=-1 is out of range"),
        (
            "gpu-id=0",
            "gpu-id=0\nparse-classifier-func-name=f",
            "parse-classifier-func-name is valid in DeepStream",
        ),
        ("batch-size=1", "batch-size=0", "batch-size=0 is out of range"),
        ("gie-unique-id=1", "gie-unique-id=0", "gie-unique-id=0 should be > 0"),
        ("interval=0", "interval=-1", "interval=-1 is out of range"),
        ("batch-size=1", "batch-size=one", "batch-size='one' is not an integer"),
        ("batch-size=1", "batch-size=1 # frames", "batch-size='1 # frames' is not an integer"),
        (
            "maintain-aspect-ratio=0",
            "maintain-aspect-ratio=yes",
            "maintain-aspect-ratio='yes' is not a boolean",
        ),
        (
            "net-scale-factor=0.0039215697906911373",
            "net-scale-factor=1/255",
            "net-scale-factor='1/255' is not a number",
        ),
        (
            "net-scale-factor=0.0039215697906911373",
            "net-scale-factor=1;2",
            "net-scale-factor='1;2' is not a number",
        ),
        ("gpu-id=0", "gpu-id=0\noffsets=1;2", "offsets has 2 values for 3 channels (RGB)"),
        ("gpu-id=0", "gpu-id=0\ninfer-dims=640;640", "infer-dims has 2 values"),
        ("scaling-filter=1", "scaling-filter=9", "invalid scaling-filter=9"),
        ("num-detected-classes=4", "num-detected-classes=0", "num-detected-classes=0 is not a count"),
        (
            "pre-cluster-threshold=0.5",
            "pre-cluster-threshold=-0.5",
            "pre-cluster-threshold=-0.5 is out of range",
        ),
        ("topk=300", "topk=300\nnms-iou-threshold=1.5", "nms-iou-threshold=1.5 is out of range"),
        ("topk=300", "topk=-1", "topk=-1 is out of range"),
        ("topk=300", "topk=300\nborder-color=1;0;0", "border-color needs 4 values"),
    ],
)
def test_bad_values(app_dir: Path, old: str, new: str, message: str) -> None:
    text = edited((old, new))
    assert_at(error(app_dir, text), app_dir, text, new.split("\n")[-1], message)


def test_num_detected_classes_is_required(app_dir: Path) -> None:
    text = edited(("num-detected-classes=4\n", ""))
    assert_at(error(app_dir, text), app_dir, text, "[property]", "num-detected-classes is not set")


# --- against the model ---------------------------------------------------------------------------


def loaded(app_dir: Path, *edits: tuple[str, str]) -> tuple[str, NvInferConfig]:
    text = edited(*edits)
    return text, load_nvinfer_config(write(app_dir, text))


def test_model_input_must_match_infer_dims(app_dir: Path) -> None:
    text, config = loaded(app_dir, ("batch-size=1", "batch-size=1\ninfer-dims=3;608;608"))
    with pytest.raises(ConfigError) as info:
        config.to_inferserver_config(MODEL_INPUTS, MODEL_OUTPUTS)
    assert_at(
        info.value,
        app_dir,
        text,
        "infer-dims=",
        "infer-dims=3;608;608 (c;h;w) does not match input 'input' of model.onnx: [3, 640, 640]",
    )


def test_dynamic_model_dims_need_infer_dims(app_dir: Path) -> None:
    text, config = loaded(app_dir)
    with pytest.raises(ConfigError) as info:
        config.to_inferserver_config({"input": (3, -1, -1)}, MODEL_OUTPUTS)
    assert_at(
        info.value, app_dir, text, "onnx-file=", "input 'input' of model.onnx has dynamic dims [3, -1, -1]"
    )
    assert "infer-dims=c;h;w" in (info.value.hint or "")


def test_model_channels_must_match_the_colour_format(app_dir: Path) -> None:
    text, config = loaded(app_dir, ("model-color-format=0", "model-color-format=2"))
    with pytest.raises(ConfigError) as info:
        config.to_inferserver_config(MODEL_INPUTS, MODEL_OUTPUTS)
    assert_at(info.value, app_dir, text, "model-color-format=", "has 3 channels")


def test_batch_size_within_a_fixed_model_batch(app_dir: Path) -> None:
    text, config = loaded(app_dir, ("batch-size=1", "batch-size=4"))
    with pytest.raises(ConfigError) as info:
        config.to_inferserver_config(MODEL_INPUTS, MODEL_OUTPUTS, model_max_batch_size=2)
    assert_at(info.value, app_dir, text, "batch-size=", "batch-size=4 is more than model.onnx takes")


def test_output_blob_names_must_be_outputs(app_dir: Path) -> None:
    text, config = loaded(app_dir, ("batch-size=1", "batch-size=1\noutput-blob-names=boxes;output"))
    with pytest.raises(ConfigError) as info:
        config.to_inferserver_config(MODEL_INPUTS, MODEL_OUTPUTS)
    assert_at(
        info.value, app_dir, text, "output-blob-names=", "output-blob-names names 'boxes', not an output"
    )


def test_one_image_input(app_dir: Path) -> None:
    text, config = loaded(app_dir)
    with pytest.raises(ConfigError) as info:
        config.to_inferserver_config({"input": (3, 640, 640), "mask": (640, 640)}, MODEL_OUTPUTS)
    assert_at(info.value, app_dir, text, "onnx-file=", "model.onnx has 2 image inputs")
