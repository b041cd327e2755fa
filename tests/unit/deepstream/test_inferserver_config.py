"""The nvinferserver config loader: the seed app's file loads, bad files fail at their line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.inferserver_config import (
    PluginControl,
    check_against_model,
    load_inferserver_config,
    parse_inferserver_config,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
APP_CONFIG = ROOT / "scenarios" / "traffic" / "app" / "config_infer_primary_rtdetr_triton.yml"
MODEL = ROOT / "models_repo" / "B" / "rtdetr"
MODEL_INPUTS = {"input": (3, 640, 640)}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The app's folder as the artifact ships it: the config with ./models beside it (no ONNX needed)."""
    model = tmp_path / "app" / "models" / "rtdetr"
    model.mkdir(parents=True)
    for name in ("config.pbtxt", "labels.txt"):
        shutil.copy(MODEL / name, model / name)
    return tmp_path / "app"


def write(app_dir: Path, text: str, name: str = "config.yml") -> Path:
    path = app_dir / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    text = APP_CONFIG.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def error(app_dir: Path, text: str) -> ConfigError:
    path = write(app_dir, text)
    with pytest.raises(ConfigError) as info:
        load_inferserver_config(path)
    return info.value


# --- the good file -------------------------------------------------------------------------------


def test_app_config_loads(app_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = app_dir / APP_CONFIG.name
    shutil.copy(APP_CONFIG, path)
    monkeypatch.chdir(tmp_path)  # relative paths follow the config file, not the working directory
    config = load_inferserver_config(path)
    assert config.unique_id == 1
    assert config.gpu_ids == (0,)
    assert config.max_batch_size == 4
    assert config.backend.model_name == "rtdetr"
    assert config.backend.version == -1
    assert config.backend.repo_root == app_dir / "models"
    assert config.backend.grpc_url is None
    pre = config.preprocess
    assert (pre.network_format, pre.tensor_order, pre.tensor_name) == ("RGB", "LINEAR", "input")
    assert not pre.maintain_aspect_ratio and not pre.symmetric_padding
    assert pre.scale_factor == pytest.approx(1 / 255)
    assert pre.channel_offsets == (0.0, 0.0, 0.0)
    assert pre.frame_scaling_filter == 1
    assert config.labelfile_path == app_dir / "models" / "rtdetr" / "labels.txt"
    assert config.labels == ("car", "truck", "bus", "motorcycle")
    det = config.detection
    assert det.num_detected_classes == 4
    assert det.custom_parse_bbox_func == "NvDsInferParseYolo"
    assert det.pre_thresholds == pytest.approx((0.5,) * 4)
    assert det.clustering == "none"
    assert (config.process_mode, config.operate_on_gie_id, config.interval) == ("FULL_FRAME", -1, 0)
    assert config.custom_lib_path.endswith("libnvdsinfer_custom_impl_Yolo.so")
    # the library is not here; the emulation does not need it, and says so
    assert any("custom_lib" in w for w in config.warnings)
    assert config.line_of("infer_config", "preprocess", "tensor_name") == line_of(
        path.read_text(), 'tensor_name: "input"'
    )


def test_the_seed_app_as_published_loads(app_dir: Path) -> None:
    """The seed's own file: `gpu_ids: 0` scalar form, no thresholds (every class at 0), one class."""
    (app_dir / "models" / "rtdetr" / "labels.txt").write_text("vehicle\n")
    seed = """infer_config {
  unique_id: 1
  gpu_ids: 0
  max_batch_size: 1
  backend {
    triton {
      model_name: "rtdetr"
      version: -1
      model_repo { root: "./models" strict_model_config: true }
    }
    output_mem_type: MEMORY_TYPE_CPU
  }
  preprocess {
    network_format: IMAGE_FORMAT_RGB
    tensor_order: TENSOR_ORDER_LINEAR
    tensor_name: "input"
    frame_scaling_hw: FRAME_SCALING_HW_DEFAULT
    frame_scaling_filter: 1
    symmetric_padding: 0
    maintain_aspect_ratio: 0
    normalize { scale_factor: 0.0039215697906911373 channel_offsets: [0.0,0.0,0.0] }
  }
  postprocess {
    labelfile_path: "./models/rtdetr/labels.txt"
    detection { num_detected_classes: 1 custom_parse_bbox_func: "NvDsInferParseYolo" }
  }
  custom_lib {
    path: "/home/siot/DeepStream-Yolo/nvdsinfer_custom_impl_Yolo/libnvdsinfer_custom_impl_Yolo.so"
  }
}
input_control { process_mode: PROCESS_MODE_FULL_FRAME operate_on_gie_id: -1 interval: 0 }
"""
    config = load_inferserver_config(write(app_dir, seed))
    assert config.detection.pre_thresholds == (0.0,)
    assert config.max_batch_size == 1


def test_defaults_are_deepstreams(app_dir: Path) -> None:
    """validateProtoConfig's auto-updates: batch 1, RGB, scale 1.0, full frame, one GPU."""
    text = """infer_config {
  unique_id: 3
  backend { triton { model_name: "rtdetr" version: 2 model_repo { root: "models" } } }
  postprocess { detection { num_detected_classes: 4 custom_parse_bbox_func: "NvDsInferParseYolo" } }
  custom_lib { path: "libnvdsinfer_custom_impl_Yolo.so" }
}
"""
    config = load_inferserver_config(write(app_dir, text))
    assert config.max_batch_size == 1
    assert config.gpu_ids == (0,)
    assert config.backend.version == 2
    assert config.preprocess.network_format == "RGB"
    assert config.preprocess.scale_factor == 1.0
    assert config.preprocess.tensor_order == "NONE"
    assert config.preprocess.frame_scaling_filter == 0  # NvBufSurfTransformInter_Nearest
    assert config.process_mode == "FULL_FRAME"
    assert config.custom_lib_path == "libnvdsinfer_custom_impl_Yolo.so"  # a bare name: dlopen's search
    assert config.labelfile_path is None and config.labels == ()
    joined = "\n".join(config.warnings)
    for update in ("max_batch_size to 1", "IMAGE_FORMAT_RGB", "scale_factor", "FULL_FRAME"):
        assert update in joined


def test_clustering_thresholds(app_dir: Path) -> None:
    """The policy's threshold is every class's default; per_class_params override it per class."""
    text = edited(
        '      custom_parse_bbox_func: "NvDsInferParseYolo"',
        '      custom_parse_bbox_func: "NvDsInferParseYolo"\n'
        "      nms { confidence_threshold: 0.3 iou_threshold: 0.45 topk: 20 }",
    )
    text = text.replace("{ key: 1, value { pre_threshold: 0.5 } },\n", "")
    config = load_inferserver_config(write(app_dir, text))
    det = config.detection
    assert det.clustering == "nms"
    assert det.pre_thresholds == pytest.approx((0.5, 0.3, 0.5, 0.5))
    assert (det.nms_iou_threshold, det.nms_topk) == (pytest.approx(0.45), 20)


def test_group_rectangle_falls_back_to_nms(app_dir: Path) -> None:
    text = edited(
        '      custom_parse_bbox_func: "NvDsInferParseYolo"',
        '      custom_parse_bbox_func: "NvDsInferParseYolo"\n'
        "      group_rectangle { confidence_threshold: 0.2 group_threshold: 1 eps: 0.2 }",
    )
    config = load_inferserver_config(write(app_dir, text))
    assert config.detection.clustering == "nms"
    assert (config.detection.nms_iou_threshold, config.detection.nms_topk) == (0.5, 20)


def test_grpc_backend(app_dir: Path) -> None:
    text = edited(
        'model_repo {\n        root: "./models"\n        strict_model_config: true\n      }',
        'grpc { url: "127.0.0.1:8001" }',
    )
    config = load_inferserver_config(write(app_dir, text))
    assert config.backend.grpc_url == "127.0.0.1:8001"
    assert config.backend.repo_root is None


def test_trt_is_is_the_deprecated_name_of_triton(app_dir: Path) -> None:
    config = load_inferserver_config(write(app_dir, edited("    triton {", "    trt_is {")))
    assert config.backend.model_name == "rtdetr"
    assert any("trt_is is deprecated" in w for w in config.warnings)


def test_the_schema_has_upstream_field_numbers() -> None:
    """Field numbers are the upstream .proto's, so the binary form matches DeepStream's too."""
    fields = PluginControl.DESCRIPTOR.fields_by_name
    assert fields["infer_config"].number == 1
    infer = fields["infer_config"].message_type.fields_by_name
    assert (infer["unique_id"].number, infer["custom_lib"].number, infer["extra"].number) == (1, 7, 8)
    pre = infer["preprocess"].message_type.fields_by_name
    assert (pre["normalize"].number, pre["symmetric_padding"].number) == (7, 8)
    det = infer["postprocess"].message_type.fields_by_name["detection"].message_type.fields_by_name
    assert (det["nms"].number, det["simple_cluster"].number) == (4, 7)
    assert det["per_class_params"].message_type.GetOptions().map_entry


# --- syntax --------------------------------------------------------------------------------------


def test_syntax_error_names_line_and_column(app_dir: Path) -> None:
    text = edited('      model_name: "rtdetr"', '      model_name "rtdetr" }}')
    err = error(app_dir, text)
    assert err.line == line_of(text, 'model_name "rtdetr"')
    assert f"config.yml:{err.line}:" in str(err)
    assert "syntax error at column" in str(err)


def test_unquoted_string(app_dir: Path) -> None:
    text = edited('tensor_name: "input"', "tensor_name: input-0")
    err = error(app_dir, text)
    assert err.line == line_of(text, "tensor_name: input-0")


def test_misspelt_field_suggests_the_right_one(app_dir: Path) -> None:
    text = edited("tensor_order:", "tensor_ordr:")
    err = error(app_dir, text)
    assert err.line == line_of(text, "tensor_ordr")
    assert "unknown field 'tensor_ordr' in PreProcessParams" in str(err)
    assert "did you mean `tensor_order`" in str(err)


def test_bad_enum_value(app_dir: Path) -> None:
    text = edited("network_format: IMAGE_FORMAT_RGB", "network_format: RGB")
    err = error(app_dir, text)
    assert err.line == line_of(text, "network_format: RGB")
    assert "IMAGE_FORMAT_RGB" in str(err)


def test_upstream_field_the_emulation_does_not_implement(app_dir: Path) -> None:
    text = edited(
        "  custom_lib {", '  extra { custom_process_funcion: "CreateCustomProcessor" }\n  custom_lib {'
    )
    err = error(app_dir, text)
    assert err.line == line_of(text, "custom_process_funcion")
    assert "valid in DeepStream but not emulated" in str(err)


def test_two_clustering_policies(app_dir: Path) -> None:
    text = edited(
        '      custom_parse_bbox_func: "NvDsInferParseYolo"',
        '      custom_parse_bbox_func: "NvDsInferParseYolo"\n'
        "      nms { iou_threshold: 0.5 }\n      simple_cluster { threshold: 0.3 }",
    )
    err = error(app_dir, text)
    assert err.line == line_of(text, "simple_cluster")
    assert "clustering_policy" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_inferserver_config(tmp_path / "nope.yml")


# --- semantics -----------------------------------------------------------------------------------


def test_unknown_parser_lists_the_known_ones(app_dir: Path) -> None:
    text = edited('"NvDsInferParseYolo"', '"NvDsInferParseCustomYoloV7"')
    err = error(app_dir, text)
    assert err.line == line_of(text, "NvDsInferParseCustomYoloV7")
    assert "unknown custom_parse_bbox_func 'NvDsInferParseCustomYoloV7'" in str(err)
    for known in ("NvDsInferParseYolo", "NvDsInferParseYoloCuda", "NvDsInferParseRTDETR"):
        assert known in (err.hint or "")


def test_parser_without_custom_lib(app_dir: Path) -> None:
    text = edited("  custom_lib {\n", "  # custom_lib {\n")
    text = text.replace('    path: "/home/siot', '    # path: "/home/siot').replace("\n  }\n}\n", "\n}\n", 1)
    err = error(app_dir, text)
    assert "no custom_lib" in str(err)
    assert err.line == line_of(text, "custom_parse_bbox_func")


def test_labels_count_disagrees_with_num_detected_classes(app_dir: Path) -> None:
    text = edited("num_detected_classes: 4", "num_detected_classes: 5")
    err = error(app_dir, text)
    assert err.line == line_of(text, "num_detected_classes: 5")
    message = str(err)
    assert "has 4 labels but num_detected_classes is 5" in message
    assert str(app_dir / "models" / "rtdetr" / "labels.txt") in message


def test_labels_file_missing(app_dir: Path) -> None:
    text = edited("./models/rtdetr/labels.txt", "./models/rtdetr/labels_v2.txt")
    err = error(app_dir, text)
    assert err.line == line_of(text, "labels_v2.txt")
    assert "labels file './models/rtdetr/labels_v2.txt' not found" in str(err)
    assert str(app_dir / "models" / "rtdetr" / "labels_v2.txt") in str(err)


def test_model_repo_root_missing(app_dir: Path) -> None:
    text = edited('root: "./models"', 'root: "./model_repository"')
    err = error(app_dir, text)
    assert err.line == line_of(text, "model_repository")
    assert "model_repo.root './model_repository' does not exist" in str(err)
    assert str(app_dir / "model_repository") in str(err)


def test_model_not_in_repository(app_dir: Path) -> None:
    text = edited('model_name: "rtdetr"', 'model_name: "yolo"')
    err = error(app_dir, text)
    assert err.line == line_of(text, 'model_name: "yolo"')
    assert "rtdetr" in err.expected


def test_per_class_key_out_of_range(app_dir: Path) -> None:
    text = edited("{ key: 3, value", "{ key: 4, value")
    err = error(app_dir, text)
    assert err.line == line_of(text, "key: 4")
    assert "per_class_params key 4" in str(err)


def test_secondary_mode_on_objects(app_dir: Path) -> None:
    text = edited("PROCESS_MODE_FULL_FRAME", "PROCESS_MODE_CLIP_OBJECTS")
    text = text.replace("operate_on_gie_id: -1", "operate_on_gie_id: 1\n  operate_on_class_ids: [0, 2]")
    config = load_inferserver_config(write(app_dir, text))
    assert (config.process_mode, config.operate_on_gie_id) == ("CLIP_OBJECTS", 1)
    assert config.operate_on_class_ids == (0, 2)


def test_builtin_detectnet_parser_needs_no_library(app_dir: Path) -> None:
    text = edited('custom_parse_bbox_func: "NvDsInferParseYolo"', "")
    start = text.index("  custom_lib {")
    text = text[:start] + text[text.index("}", start) + 1 :]
    config = load_inferserver_config(write(app_dir, text))
    assert config.detection is not None and config.detection.custom_parse_bbox_func == ""
    assert config.custom_lib_path == ""


def test_unique_id_required(app_dir: Path) -> None:
    text = edited("unique_id: 1", "unique_id: 0")
    assert error(app_dir, text).line == line_of(text, "unique_id: 0")


def test_too_few_channel_offsets(app_dir: Path) -> None:
    text = edited("channel_offsets: [0.0, 0.0, 0.0]", "channel_offsets: [0.5]")
    err = error(app_dir, text)
    assert err.line == line_of(text, "channel_offsets")
    assert "1 values for 3 channels" in str(err)


# --- against the model ---------------------------------------------------------------------------


@pytest.fixture
def app_config(app_dir: Path) -> Path:
    path = app_dir / APP_CONFIG.name
    shutil.copy(APP_CONFIG, path)
    return path


def test_matches_the_shipped_model(app_config: Path) -> None:
    config = load_inferserver_config(app_config)
    found = check_against_model(config, MODEL_INPUTS, model_tensor_order="LINEAR", model_max_batch_size=4)
    assert found.tensor_name == "input"
    assert (found.network.width, found.network.height, found.network.channels) == (640, 640, 3)


def test_wrong_tensor_name_names_the_models_inputs(app_config: Path) -> None:
    text = app_config.read_text().replace('tensor_name: "input"', 'tensor_name: "images"')
    config = parse_inferserver_config(text, app_config)
    with pytest.raises(ConfigError) as info:
        check_against_model(config, MODEL_INPUTS)
    err = info.value
    assert err.line == line_of(text, 'tensor_name: "images"')
    assert "preprocess.tensor_name 'images' is not an input of model 'rtdetr'" in str(err)
    assert "'input'" in err.expected
    assert "input [3, 640, 640]" in (err.hint or "")


def test_empty_tensor_name_takes_the_first_input(app_config: Path) -> None:
    text = app_config.read_text().replace('tensor_name: "input"', "")
    config = parse_inferserver_config(text, app_config)
    assert check_against_model(config, {"images": (3, 320, 480)}).network.width == 480


def test_tensor_order_against_the_model(app_config: Path) -> None:
    config = load_inferserver_config(app_config)
    with pytest.raises(ConfigError, match="TENSOR_ORDER_NHWC"):
        check_against_model(config, MODEL_INPUTS, model_tensor_order="NHWC")


def test_channels_against_network_format(app_config: Path) -> None:
    text = app_config.read_text().replace("IMAGE_FORMAT_RGB", "IMAGE_FORMAT_GRAY")
    text = text.replace("channel_offsets: [0.0, 0.0, 0.0]", "")
    config = parse_inferserver_config(text, app_config)
    with pytest.raises(ConfigError, match="needs 1"):
        check_against_model(config, MODEL_INPUTS)


def test_wildcard_dims_need_backend_inputs(app_config: Path) -> None:
    config = load_inferserver_config(app_config)
    with pytest.raises(ConfigError, match="wildcard") as info:
        check_against_model(config, {"input": (3, -1, -1)})
    assert "backend { inputs" in (info.value.hint or "")
    text = app_config.read_text().replace(
        "    output_mem_type:", '    inputs [ { name: "input" dims: [3, 384, 640] } ]\n    output_mem_type:'
    )
    config = parse_inferserver_config(text, app_config)
    assert check_against_model(config, {"input": (3, -1, -1)}).network.height == 384


def test_batch_larger_than_the_model_allows(app_config: Path) -> None:
    config = load_inferserver_config(app_config)
    with pytest.raises(ConfigError, match="more than model 'rtdetr' accepts") as info:
        check_against_model(config, MODEL_INPUTS, model_max_batch_size=2)
    assert info.value.line == line_of(app_config.read_text(), "max_batch_size: 4")
