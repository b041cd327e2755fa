"""The ``nvinfer`` element in real GStreamer pipelines, with tiny ONNX models that look at the pixels.

Batches go appsrc → nvinfer [→ nvinfer] → appsink as nvstreammux would send them (NVMM NV12 or
RGBA frames, one NvDsBatchMeta); the tests read the metadata DeepStream's apps read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from gst_batches import BatchPipeline, frame_metas, square
from tiny_models import build

from fake_device.deepstream import cmemory
from fake_device.deepstream.gst.registry import register
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    NvDsBatchMeta,
    NvDsClassifierMeta,
    NvDsFrameMeta,
    NvDsLabelInfo,
    NvDsMetaType,
    NvDsObjectMeta,
    nvds_acquire_obj_meta_from_pool,
    nvds_add_obj_meta_to_frame,
)
from fake_device.deepstream.meta_infer import NvDsInferTensorMeta

pytestmark = pytest.mark.unit

W, H = 320, 240
RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)  # BGR
LABELS = "red\ngreen\nblue\n"
PGIE = {
    "onnx-file": "box_finder.onnx",
    "labelfile-path": "labels.txt",
    "num-detected-classes": "3",
    "net-scale-factor": "0.0039215697906911373",
    "model-color-format": "0",
    "gie-unique-id": "1",
    "cluster-mode": "4",
    "parse-bbox-func-name": "NvDsInferParseYolo",
    "custom-lib-path": "libnvdsinfer_custom_impl_Yolo.so",
}
CLASS_ATTRS = "\n".join(
    [
        "[class-attrs-all]",
        "pre-cluster-threshold=0.5",
        "",
        "[class-attrs-2]",
        "border-color=0;0;1;1",
        "bg-color=0;0;1;0.3",
    ]
)
SGIE = {
    "onnx-file": "colour_classifier.onnx",
    "labelfile-path": "colours.txt",
    "net-scale-factor": "0.0039215697906911373",
    "model-color-format": "0",
    "gie-unique-id": "2",
    "process-mode": "2",
    "network-type": "1",
    "operate-on-gie-id": "1",
    "operate-on-class-ids": "0",
    "classifier-threshold": "0.51",
    "batch-size": "4",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build(tmp_path_factory.mktemp("models"))
    (folder / "labels.txt").write_text(LABELS, encoding="utf-8")
    (folder / "colours.txt").write_text("red;green;blue\n", encoding="utf-8")
    return folder


def write_config(
    folder: Path, name: str, keys: Mapping[str, str | None], extra: str = "", **changes: str | None
) -> Path:
    """A key-file config in ``folder``: ``keys`` with ``changes`` applied (None removes a key)."""
    merged = {**keys, **{k.replace("_", "-"): v for k, v in changes.items()}}
    lines = ["[property]", *(f"{k}={v}" for k, v in merged.items() if v is not None), "", extra]
    path = folder / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def pipelines() -> Iterator[list[BatchPipeline]]:
    made: list[BatchPipeline] = []
    yield made
    for pipeline in made:
        pipeline.close()


def started(pipelines: list[BatchPipeline], chain: str, **kwargs: object) -> BatchPipeline:
    pipeline = BatchPipeline(chain, **kwargs)  # type: ignore[arg-type]
    pipelines.append(pipeline)
    assert pipeline.start(), pipeline.errors()
    return pipeline


def text_of(obj: NvDsObjectMeta) -> str | None:
    address = obj.text_params.display_text
    return cmemory.string_at(address) if address else None


def colour(c: object) -> tuple[float, float, float, float]:
    return (c.red, c.green, c.blue, c.alpha)  # type: ignore[attr-defined]


def count_inferences(pipeline: BatchPipeline, name: str) -> list[int]:
    """Record the batch size of every inference call the element makes from now on."""
    engine = pipeline.element(name)._gie.engine
    calls: list[int] = []
    infer = engine.backend.infer

    def counting(inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        calls.append(len(next(iter(inputs.values()))))
        return infer(inputs, outputs)

    engine.backend.infer = counting
    return calls


# --- the element as gst-inspect-1.0 shows it -----------------------------------------------------


def test_properties_as_deepstream_declares_them() -> None:
    register("nvinfer")
    element = Gst.ElementFactory.make("nvinfer")
    specs = {p.name: p for p in element.list_properties()}
    expected = {
        "unique-id": ("guint", 15, 0, 2**32 - 1),
        "batch-size": ("guint", 1, 1, 1024),
        "interval": ("guint", 0, 0, 2**31 - 1),
        "infer-on-gie-id": ("gint", -1, -1, 2**31 - 1),
        "gpu-id": ("guint", 0, 0, 2**32 - 1),
    }
    for name, (type_name, default, minimum, maximum) in expected.items():
        spec = specs[name]
        assert (spec.value_type.name, spec.default_value, spec.minimum, spec.maximum) == (
            type_name,
            default,
            minimum,
            maximum,
        ), name
    for name, default in (
        ("config-file-path", ""),
        ("infer-on-class-ids", ""),
        ("filter-out-class-ids", ""),
        ("model-engine-file", ""),
    ):
        assert (specs[name].value_type.name, specs[name].default_value) == ("gchararray", default), name
    for name, default in (
        ("output-tensor-meta", False),
        ("raw-output-file-write", False),
        ("output-instance-mask", False),
        ("input-tensor-meta", False),
        ("clip-object-outside-roi", True),
        ("crop-objects-to-roi-boundary", False),
    ):
        assert (specs[name].value_type.name, specs[name].default_value) == ("gboolean", default), name
    mode = specs["process-mode"]
    assert mode.value_type.name == "GstNvInferProcessModeType" and int(mode.default_value) == 1
    nicks = {int(v): v.value_nick for v in mode.enum_class.__enum_values__.values()}
    assert nicks == {1: "primary", 2: "secondary"}
    element.set_property("process-mode", 2)
    assert int(element.get_property("process-mode")) == 2
    with pytest.warns(Warning, match="out of range for property 'batch-size'"):
        element.set_property("batch-size", 0)  # GObject refuses a value outside the range
    assert element.get_property("batch-size") == 1


def test_pads_take_nvmm_nv12_and_rgba_only() -> None:
    register("nvinfer")
    factory = Gst.ElementFactory.find("nvinfer")
    assert factory.get_klass() == "NvInfer Plugin"
    templates = {t.name_template: t.get_caps() for t in factory.get_static_pad_templates()}
    assert set(templates) == {"sink", "src"}
    for caps in templates.values():
        assert caps.can_intersect(Gst.Caps.from_string("video/x-raw(memory:NVMM), format=NV12"))
        assert caps.can_intersect(Gst.Caps.from_string("video/x-raw(memory:NVMM), format=RGBA"))
        assert not caps.can_intersect(Gst.Caps.from_string("video/x-raw(memory:NVMM), format=I420"))
        assert not caps.can_intersect(Gst.Caps.from_string("video/x-raw, format=NV12"))


def test_setting_the_config_file_reads_it_and_set_properties_win(models: Path) -> None:
    """deepstream-test3 reads batch-size after setting config-file-path and overrides it."""
    register("nvinfer")
    config = write_config(models, "props.txt", PGIE, CLASS_ATTRS, batch_size="4", interval="2")
    element = Gst.ElementFactory.make("nvinfer")
    element.set_property("interval", 5)  # before the file: still wins
    element.set_property("config-file-path", str(config))
    assert element.get_property("batch-size") == 4
    assert element.get_property("unique-id") == 1
    assert element.get_property("interval") == 5
    element.set_property("batch-size", 2)  # after the file
    assert element.get_property("batch-size") == 2
    effective = element.effective_config()
    assert (effective.batch_size, effective.interval, effective.unique_id) == (2, 5, 1)


# --- primary detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["NV12", "RGBA"])
def test_primary_detector_attaches_objects_in_muxer_pixels(
    models: Path, pipelines: list[BatchPipeline], format: str
) -> None:
    config = write_config(models, "pgie.txt", PGIE, CLASS_ATTRS, batch_size="2")
    pipeline = started(pipelines, f"nvinfer name=pgie config-file-path={config}", format=format)
    red = square(W, H, (64, 48, 96, 64), RED)
    blue = square(W, H, (200, 120, 80, 100), BLUE)
    batch = pipeline.push([red, blue])
    boxes = {0: (64, 48, 96, 64), 2: (200, 120, 80, 100)}
    for frame, class_id, label in zip(batch.frames, (0, 2), ("red", "blue"), strict=True):
        assert frame.bInferDone == 1
        [obj] = frame.objects
        assert (obj.class_id, obj.obj_label, text_of(obj)) == (class_id, label, label)
        assert (obj.unique_component_id, obj.object_id, obj.parent) == (1, UNTRACKED_OBJECT_ID, None)
        assert obj.confidence == pytest.approx(1.0, abs=0.02)
        rect = obj.rect_params
        # 320×240 → 128×128: one network pixel is 2.5 × 1.875 muxer pixels (and a chroma row at edges)
        assert [rect.left, rect.top, rect.width, rect.height] == pytest.approx(boxes[class_id], abs=5)
        original = obj.detector_bbox_info.org_bbox_coords
        assert [original.left, original.top, original.width, original.height] == [
            rect.left,
            rect.top,
            rect.width,
            rect.height,
        ]
        text = obj.text_params
        assert (text.x_offset, text.y_offset) == (int(rect.left), int(rect.top - 10))
        assert (text.set_bg_clr, colour(text.text_bg_clr)) == (1, (0, 0, 0, 1))
        assert cmemory.string_at(text.font_params.font_name) == "Serif"
        assert (text.font_params.font_size, colour(text.font_params.font_color)) == (11, (1, 1, 1, 1))
        [(name, t_in, t_out)] = frame.latency
        assert name == "pgie" and t_in <= t_out
    red_rect, blue_rect = batch.frames[0].objects[0].rect_params, batch.frames[1].objects[0].rect_params
    assert (red_rect.border_width, colour(red_rect.border_color), red_rect.has_bg_color) == (
        3,
        (1, 0, 0, 1),
        0,
    )
    assert (blue_rect.border_width, colour(blue_rect.border_color)) == (3, (0, 0, 1, 1))
    assert (blue_rect.has_bg_color, colour(blue_rect.bg_color)) == (1, pytest.approx((0, 0, 1, 0.3)))
    assert pipeline.push([np.zeros((H, W, 3), np.uint8)] * 2).frames[0].objects == []  # nothing bright


def test_batch_size_and_interval(models: Path, pipelines: list[BatchPipeline]) -> None:
    config = write_config(models, "pgie_interval.txt", PGIE, CLASS_ATTRS, batch_size="2", interval="1")
    pipeline = started(pipelines, f"nvinfer name=pgie config-file-path={config}")
    calls = count_inferences(pipeline, "pgie")
    frames = [square(W, H, (10 * i, 10, 60, 60), GREEN) for i in range(3)]
    found = [[len(f.objects) for f in pipeline.push(frames).frames] for _ in range(3)]
    assert found == [[1, 1, 1], [0, 0, 0], [1, 1, 1]]  # interval=1: every other batch
    assert calls == [2, 1, 2, 1]  # batch-size=2: three frames take two calls


def test_builtin_detectnet_parser_as_deepstream_test1_configures_it(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    """No parse-bbox-func-name: DetectNet_v2 grids (TrafficCamNet's layout), NMS per class."""
    (models / "car.txt").write_text("car\n", encoding="utf-8")
    keys = {
        "onnx-file": "detectnet.onnx",
        "labelfile-path": "car.txt",
        "num-detected-classes": "1",
        "net-scale-factor": "0.0039215697906911373",
        "gie-unique-id": "1",
        "cluster-mode": "2",
        "output-blob-names": "output_cov/Sigmoid:0;output_bbox/BiasAdd:0",
    }
    extra = "[class-attrs-all]\npre-cluster-threshold=0.2\ntopk=20\nnms-iou-threshold=0.5\n"
    config = write_config(models, "dstest1_like.txt", keys, extra)
    pipeline = started(pipelines, f"nvinfer config-file-path={config}", width=256, height=256)
    # 256×256 → 64×64: a 16-pixel cell is 64 frame pixels; the square fills cells (1, 1) and (2, 1)
    batch = pipeline.push([square(256, 256, (64, 64, 64, 128), GREEN)])
    boxes = sorted(
        (o.rect_params.left, o.rect_params.top, o.rect_params.width, o.rect_params.height)
        for o in batch.frames[0].objects
    )
    assert boxes == [pytest.approx((64, 64, 64, 64)), pytest.approx((64, 128, 64, 64))]
    assert {o.obj_label for o in batch.frames[0].objects} == {"car"}


def test_tensor_output_meta(models: Path, pipelines: list[BatchPipeline]) -> None:
    config = write_config(models, "pgie_tensor.txt", PGIE, CLASS_ATTRS, output_tensor_meta="1")
    pipeline = started(pipelines, f"nvinfer config-file-path={config}")
    frame = pipeline.push([square(W, H, (0, 0, 50, 50), RED)]).frames[0]
    [user_meta] = [m for m in _walk(frame.frame_user_meta_list)]
    assert user_meta.base_meta.meta_type == NvDsMetaType.NVDSINFER_TENSOR_OUTPUT_META
    tensor_meta = NvDsInferTensorMeta.cast(user_meta.user_meta_data)
    assert (tensor_meta.unique_id, tensor_meta.num_output_layers) == (1, 1)
    dims = tensor_meta.output_layers_info(0).inferDims
    assert (dims.numDims, list(dims.d[:2]), dims.numElements) == (2, [1, 6], 6)


def _walk(node: object) -> Iterator[object]:
    while node is not None:
        yield node.data.target  # type: ignore[attr-defined]
        node = node.next  # type: ignore[attr-defined]


# --- secondary inference -------------------------------------------------------------------------


def test_secondary_classifier_on_the_primary_detectors_objects(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    pgie = write_config(models, "pgie2.txt", PGIE, CLASS_ATTRS, batch_size="4")
    sgie = write_config(models, "sgie.txt", SGIE)
    pipeline = started(
        pipelines, f"nvinfer name=pgie config-file-path={pgie} ! nvinfer name=sgie config-file-path={sgie}"
    )
    frames = [
        square(W, H, (40, 40, 80, 60), RED),  # class 0: classified
        square(W, H, (40, 40, 80, 60), BLUE),  # class 2: not in operate-on-class-ids
        square(W, H, (40, 40, 10, 60), RED),  # 10 pixels wide (25 after scaling… see below)
    ]
    frames[2] = square(W, H, (40, 40, 12, 60), RED)
    batch = pipeline.push(frames)
    red, blue, narrow = (f.objects[0] for f in batch.frames)
    [classifier] = list(_walk(red.classifier_meta_list))
    assert isinstance(classifier, NvDsClassifierMeta)
    assert (classifier.unique_component_id, classifier.num_labels) == (2, 1)
    [info] = list(_walk(classifier.label_info_list))
    assert isinstance(info, NvDsLabelInfo)
    assert (info.label_id, info.result_class_id, info.result_label) == (0, 0, "red")
    assert info.result_prob == pytest.approx(1.0, abs=0.01)
    assert text_of(red) == "red red "  # the detector's label, then the classifier's string
    assert blue.classifier_meta_list is None and text_of(blue) == "blue"
    # an object narrower than 16 pixels is not cropped on a Jetson (the VIC's minimum)
    assert narrow.rect_params.width < 16 and narrow.classifier_meta_list is None
    assert [len(f.latency) for f in batch.frames] == [2, 2, 2]


def test_infer_on_class_ids_property_replaces_the_files_class_ids(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    pgie = write_config(models, "pgie4.txt", PGIE, CLASS_ATTRS, batch_size="2")
    sgie = write_config(models, "sgie_blue.txt", SGIE)  # the file says class 0
    pipeline = started(
        pipelines,
        f"nvinfer config-file-path={pgie} ! nvinfer config-file-path={sgie} infer-on-class-ids=2:1",
    )
    batch = pipeline.push([square(W, H, (40, 40, 80, 60), RED), square(W, H, (40, 40, 80, 60), BLUE)])
    red, blue = (f.objects[0] for f in batch.frames)
    assert red.classifier_meta_list is None
    [classifier] = list(_walk(blue.classifier_meta_list))
    assert [info.result_label for info in _walk(classifier.label_info_list)] == ["blue"]


def test_full_frame_classifier_adds_an_object_for_the_frame(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    config = write_config(models, "frame_classifier.txt", SGIE, process_mode="1", operate_on_gie_id=None)
    pipeline = started(pipelines, f"nvinfer config-file-path={config}")
    frame = pipeline.push([np.full((H, W, 3), GREEN, np.uint8)]).frames[0]
    [obj] = frame.objects
    rect = obj.rect_params
    assert (obj.class_id, obj.unique_component_id, obj.object_id) == (-1, 2, UNTRACKED_OBJECT_ID)
    assert (rect.left, rect.top, rect.width, rect.height, rect.border_width) == (0, 0, W, H, 6)
    assert text_of(obj) == " green "
    [classifier] = list(_walk(obj.classifier_meta_list))
    [info] = list(_walk(classifier.label_info_list))
    assert (info.result_class_id, info.result_label) == (1, "green")


def tracked_batch(
    pipeline: BatchPipeline, objects: Sequence[tuple[int, tuple[float, float, float, float]]]
) -> NvDsBatchMeta:
    """One frame's batch meta with objects of GIE 1, class 0: (object_id, box)."""
    batch = frame_metas(1, pipeline.frame_num, W, H)
    frame: NvDsFrameMeta = batch.frames[0]
    for object_id, (left, top, width, height) in objects:
        obj = nvds_acquire_obj_meta_from_pool(batch)
        obj.unique_component_id, obj.class_id, obj.object_id = 1, 0, object_id
        obj.rect_params.left, obj.rect_params.top = left, top
        obj.rect_params.width, obj.rect_params.height = width, height
        nvds_add_obj_meta_to_frame(frame, obj, None)
    return batch


def labels_of(batch: NvDsBatchMeta) -> list[list[str]]:
    return [
        [info.result_label for c in _walk(o.classifier_meta_list) for info in _walk(c.label_info_list)]
        for o in batch.frames[0].objects
    ]


def test_tracked_objects_are_classified_again_only_when_they_grow(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    sgie = write_config(models, "sgie_tracked.txt", SGIE)
    pipeline = started(pipelines, f"nvinfer name=sgie config-file-path={sgie}")
    calls = count_inferences(pipeline, "sgie")
    image = square(W, H, (40, 40, 120, 100), RED)
    tracked, untracked = 7, UNTRACKED_OBJECT_ID
    box = (40.0, 40.0, 100.0, 80.0)
    assert labels_of(pipeline.push([image], tracked_batch(pipeline, [(tracked, box), (untracked, box)]))) == [
        ["red"],
        ["red"],
    ]
    assert calls == [2]
    # the same tracked object again: its remembered result, no inference; the untracked one again
    assert labels_of(pipeline.push([image], tracked_batch(pipeline, [(tracked, box), (untracked, box)]))) == [
        ["red"],
        ["red"],
    ]
    assert calls == [2, 1]
    grown = (40.0, 40.0, 110.0, 90.0)  # area × 1.24 > 1.2: inferred again
    assert labels_of(pipeline.push([image], tracked_batch(pipeline, [(tracked, grown)]))) == [["red"]]
    assert calls == [2, 1, 1]


def test_async_classifier_results_come_with_the_next_frame(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    sgie = write_config(models, "sgie_async.txt", SGIE, classifier_async_mode="1")
    pipeline = started(pipelines, f"nvinfer name=sgie config-file-path={sgie}")
    image = square(W, H, (40, 40, 120, 100), RED)
    box = (40.0, 40.0, 100.0, 80.0)
    first = pipeline.push([image], tracked_batch(pipeline, [(3, box), (UNTRACKED_OBJECT_ID, box)]))
    assert labels_of(first) == [[], []]
    second = pipeline.push([image], tracked_batch(pipeline, [(3, box), (UNTRACKED_OBJECT_ID, box)]))
    assert labels_of(second) == [["red"], []]  # untracked objects are never classified in async mode


def test_secondary_detector_finds_children_in_their_parents_crop(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    pgie = write_config(models, "pgie3.txt", PGIE, CLASS_ATTRS)
    child = write_config(
        models,
        "sgie_detector.txt",
        PGIE,
        CLASS_ATTRS,
        gie_unique_id="3",
        process_mode="2",
        operate_on_gie_id="9",
        maintain_aspect_ratio="1",
    )
    pipeline = started(pipelines, f"nvinfer config-file-path={pgie} ! nvinfer config-file-path={child}")
    batch = frame_metas(1, 0, W, H)
    parent = nvds_acquire_obj_meta_from_pool(batch)
    parent.unique_component_id, parent.object_id = 9, UNTRACKED_OBJECT_ID
    parent.rect_params.left, parent.rect_params.top = 100.0, 60.0
    parent.rect_params.width, parent.rect_params.height = 160.0, 120.0
    nvds_add_obj_meta_to_frame(batch.frames[0], parent, None)
    image = np.zeros((H, W, 3), np.uint8)
    image[90:130, 150:210] = BLUE  # inside the parent; the primary detector also finds it
    out = pipeline.push([image], batch)
    children = [o for o in out.frames[0].objects if o.unique_component_id == 3]
    [found] = [o for o in out.frames[0].objects if o.unique_component_id == 1]
    [child_obj] = children
    assert child_obj.parent is parent and child_obj.class_id == 2
    rect = child_obj.rect_params
    # 160×120 crop → 128×96 (aspect kept): 1.25 muxer pixels per network pixel
    assert [rect.left, rect.top, rect.width, rect.height] == pytest.approx([150, 90, 60, 40], abs=3)
    assert found.parent is None


# --- start-up errors -----------------------------------------------------------------------------


def start_error(pipelines: list[BatchPipeline], chain: str) -> str:
    pipeline = BatchPipeline(chain)
    pipelines.append(pipeline)
    assert not pipeline.start()
    [error] = pipeline.errors()
    return error


def test_no_config_file_fails_the_start(pipelines: list[BatchPipeline]) -> None:
    assert "pgie: Configuration file not provided" in start_error(pipelines, "nvinfer name=pgie")


def test_a_bad_key_fails_the_start_at_its_line(models: Path, pipelines: list[BatchPipeline]) -> None:
    config = write_config(models, "typo.txt", {**PGIE, "onnx-file": None, "onnx-fle": "box_finder.onnx"})
    error = start_error(pipelines, f"nvinfer name=pgie config-file-path={config}")
    line = config.read_text().splitlines().index("onnx-fle=box_finder.onnx") + 1
    assert f"pgie: Configuration file parsing failed: {config}:{line}: unknown key 'onnx-fle'" in error
    assert "hint: did you mean" in error and "onnx-file" in error


def test_a_missing_model_fails_the_start(models: Path, pipelines: list[BatchPipeline]) -> None:
    config = write_config(models, "missing.txt", PGIE, CLASS_ATTRS, onnx_file="models/missing.onnx")
    error = start_error(pipelines, f"nvinfer config-file-path={config}")
    line = config.read_text().splitlines().index("onnx-file=models/missing.onnx") + 1
    assert f"{config}:{line}: onnx-file 'models/missing.onnx' not found" in error
    assert "hint: relative paths are relative to the config file's folder" in error


def test_a_tensor_the_model_does_not_have_fails_the_start(
    models: Path, pipelines: list[BatchPipeline]
) -> None:
    config = write_config(models, "blobs.txt", PGIE, CLASS_ATTRS, output_blob_names="boxes")
    error = start_error(pipelines, f"nvinfer name=pgie config-file-path={config}")
    line = config.read_text().splitlines().index("output-blob-names=boxes") + 1
    assert "pgie: Failed to create NvDsInferContext instance" in error
    assert f"{config}:{line}: output-blob-names names 'boxes', not an output of box_finder.onnx" in error
    assert "(expected one of 'output')" in error


def test_a_setting_that_is_not_emulated_is_refused(models: Path, pipelines: list[BatchPipeline]) -> None:
    config = write_config(models, "raw.txt", PGIE, CLASS_ATTRS)
    error = start_error(pipelines, f"nvinfer name=pgie config-file-path={config} raw-output-file-write=true")
    assert "raw-output-file-write=True: writing raw output tensors to files is not emulated" in error
    assert "docs/deepstream/supported.md" in error


def test_process_mode_enum_from_a_launch_line(models: Path, pipelines: list[BatchPipeline]) -> None:
    config = write_config(models, "nick.txt", SGIE)
    pipeline = started(pipelines, f"nvinfer name=sgie config-file-path={config} process-mode=secondary")
    assert int(pipeline.element("sgie").get_property("process-mode")) == 2
    assert pipeline.element("sgie").effective_config().process_mode == 2
