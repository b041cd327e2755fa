"""Raw tensor output through pyds: ``NvDsInferTensorMeta``, ``get_nvds_LayerInfo``, the buffers.

Apps such as NVIDIA's deepstream-ssd-parser cast a user meta of type
``NVDSINFER_TENSOR_OUTPUT_META`` to ``NvDsInferTensorMeta``, take each layer with
``get_nvds_LayerInfo`` and read its ``buffer`` with ``get_detections`` or through ctypes and numpy
at ``get_ptr(layer.buffer)``: the address must be the real one. The last test runs the nvinfer
element twice on the same frames, once parsing and once with ``network-type=100``, and parses the
second one's tensors the way an app does.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gst_batches import BatchPipeline, square
from tiny_models import build

from fake_device.deepstream import pyds_api as pyds
from fake_device.deepstream.bbox_parsers import NetworkInfo
from fake_device.deepstream.cmemory import MemoryFault, PointerTypeError
from fake_device.deepstream.meta import nvds_acquire_user_meta_from_pool, nvds_create_batch_meta

pytestmark = pytest.mark.unit

BOXES = np.array([[10.5, 20.0, 110.0, 220.0, 0.75, 2.0], [1.0, 2.0, 3.0, 4.0, 0.25, 0.0]], np.float32)
COUNTS = np.array([2], np.int32)


def _tensor_meta() -> pyds.NvDsInferTensorMeta:
    return pyds.NvDsInferTensorMeta.of(
        3, NetworkInfo(640, 480, 3), {"boxes": BOXES, "count": COUNTS}, gpu_id=0
    )


def _as_floats(layer: pyds.NvDsInferLayerInfo) -> np.ndarray:
    """What deepstream apps do: a ctypes float pointer at the buffer's address, viewed as numpy."""
    pointer = ctypes.cast(pyds.get_ptr(layer.buffer), ctypes.POINTER(ctypes.c_float))
    dims = layer.inferDims
    return np.ctypeslib.as_array(pointer, shape=tuple(int(d) for d in dims.d[: dims.numDims]))


def test_the_names_are_exposed_with_deepstreams_fields() -> None:
    for name in (
        "NvDsInferTensorMeta",
        "NvDsInferLayerInfo",
        "NvDsInferDims",
        "NvDsInferDimsCHW",
        "NvDsInferDataType",
        "NvDsInferNetworkInfo",
        "NvDsInferObjectDetectionInfo",
        "NvDsInferAttribute",
        "get_nvds_LayerInfo",
        "get_detections",
        "glist_get_nvds_tensor_meta",
    ):
        assert name in pyds.__all__ and name not in pyds.NOT_EMULATED
        getattr(pyds, name)
    assert (pyds.FLOAT, pyds.HALF, pyds.INT8, pyds.INT32) == (0, 1, 2, 3)  # export_values()
    assert str(pyds.NvDsInferDataType.FLOAT) == "NvDsInferDataType.FLOAT"
    chw = pyds.NvDsInferDimsCHW()
    assert (chw.c, chw.h, chw.w) == (0, 0, 0)
    network = pyds.NvDsInferNetworkInfo()
    network.width, network.height, network.channels = 640, 640, 3
    assert (network.width, network.channels) == (640, 3)


def test_cast_from_a_user_meta_and_the_meta_members() -> None:
    batch = nvds_create_batch_meta(1)
    user_meta = nvds_acquire_user_meta_from_pool(batch)
    user_meta.user_meta_data = _tensor_meta()
    user_meta.base_meta.meta_type = pyds.NvDsMetaType.NVDSINFER_TENSOR_OUTPUT_META
    meta = pyds.NvDsInferTensorMeta.cast(user_meta.user_meta_data)
    assert meta is pyds.glist_get_nvds_tensor_meta(user_meta.user_meta_data)
    assert (meta.unique_id, meta.num_output_layers, meta.gpu_id) == (3, 2, 0)
    info = meta.network_info
    assert (info.width, info.height, info.channels) == (640, 480, 3)
    with pytest.raises(PointerTypeError, match="pointer is to NvDsInferTensorMeta, not to NvDsFrameMeta"):
        pyds.NvDsFrameMeta.cast(user_meta.user_meta_data)
    with pytest.raises(AttributeError, match="read-only"):
        meta.unique_id = 4
    with pytest.raises(AttributeError, match="out_buf_ptrs_dev is part of NVIDIA's pyds but not emulated"):
        _ = meta.out_buf_ptrs_dev
    with pytest.raises(AttributeError, match=r"pyds 1\.2\.0 does not bind it"):
        _ = meta.maintain_aspect_ratio


def test_layer_info_describes_each_output() -> None:
    meta = _tensor_meta()
    boxes, count = (pyds.get_nvds_LayerInfo(meta, i) for i in range(meta.num_output_layers))
    assert (boxes.layerName, boxes.bindingIndex, boxes.isInput) == ("boxes", 0, 0)
    assert boxes.dataType == pyds.NvDsInferDataType.FLOAT and count.dataType == pyds.NvDsInferDataType.INT32
    dims = boxes.inferDims
    assert (dims.numDims, dims.numElements, dims.d.dtype) == (2, 12, np.uint32)
    assert list(dims.d) == [2, 6, 0, 0, 0, 0, 0, 0]
    assert boxes.dims is dims  # the deprecated name of the same member
    assert count.layerName == "count" and list(count.inferDims.d[:1]) == [1]
    assert pyds.get_nvds_LayerInfo(meta, 0) is meta.output_layers_info(0)
    with pytest.raises(AttributeError, match="read-only"):
        boxes.layerName = "other"
    with pytest.raises(MemoryFault, match="has 2 output layers"):
        pyds.get_nvds_LayerInfo(meta, 2)


def test_the_buffer_is_a_real_address_of_the_values() -> None:
    meta = _tensor_meta()
    layer = pyds.get_nvds_LayerInfo(meta, 0)
    assert layer.buffer  # a non-NULL void *, as the ssd parser tests it
    view = _as_floats(layer)
    assert np.array_equal(view, BOXES)
    assert pyds.get_detections(layer.buffer, 4) == 0.75
    assert pyds.get_detections(layer.buffer, 11) == 0.0
    count_layer = pyds.get_nvds_LayerInfo(meta, 1)
    count = ctypes.cast(pyds.get_ptr(count_layer.buffer), ctypes.POINTER(ctypes.c_int32))[0]
    assert count == 2
    # out_buf_ptrs_host is a void ** whose entries are the layers' buffers
    table = ctypes.cast(pyds.get_ptr(meta.out_buf_ptrs_host), ctypes.POINTER(ctypes.c_void_p))
    assert [table[0], table[1]] == [pyds.get_ptr(layer.buffer), pyds.get_ptr(count_layer.buffer)]
    with pytest.raises(MemoryFault, match="index 12 is outside the 48-byte buffer"):
        pyds.get_detections(layer.buffer, 12)
    with pytest.raises(PointerTypeError, match="must be a layer's buffer"):
        pyds.get_detections(pyds.get_ptr(layer.buffer), 0)
    with pytest.raises(MemoryFault, match="the inference element owns"):
        pyds.free_gbuffer(layer.buffer)


def test_the_meta_holds_its_own_copy_of_the_outputs() -> None:
    """The element's outputs are views of a request buffer the next request overwrites."""
    outputs = {"boxes": BOXES.copy()}
    meta = pyds.NvDsInferTensorMeta.of(1, NetworkInfo(8, 8, 3), outputs)
    outputs["boxes"][:] = -1
    assert np.array_equal(_as_floats(pyds.get_nvds_LayerInfo(meta, 0)), BOXES)


def test_structs_apps_build_type_their_members() -> None:
    info = pyds.NvDsInferObjectDetectionInfo()
    info.classId = 2
    info.left, info.top, info.width, info.height = 0.25, 0.5, 0.125, 0.0625
    info.detectionConfidence = 0.9
    assert (info.classId, info.left, info.detectionConfidence) == (2, 0.25, 0.9)
    with pytest.raises(PointerTypeError, match="classId is a unsigned int: it takes an int"):
        info.classId = 2.0
    with pytest.raises(PointerTypeError, match="out of its range"):
        info.classId = -1
    attribute = pyds.NvDsInferAttribute()
    assert (attribute.attributeIndex, attribute.atttributeIndex, attribute.attributeLabel) == (0, 0, None)
    with pytest.raises(AttributeError, match="read-only"):
        attribute.attributeValue = 1


# --- through the nvinfer element -----------------------------------------------------------------

W, H = 320, 240
NET = 128  # box_finder's input is 128 × 128
KEYS = {
    "onnx-file": "box_finder.onnx",
    "net-scale-factor": "0.0039215697906911373",
    "model-color-format": "0",
    "batch-size": "2",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build(tmp_path_factory.mktemp("models"), "box_finder", "colour_classifier")
    (folder / "labels.txt").write_text("red\ngreen\nblue\n", encoding="utf-8")
    (folder / "colours.txt").write_text("red;green;blue\n", encoding="utf-8")
    parsing = {
        **KEYS,
        "gie-unique-id": "1",
        "labelfile-path": "labels.txt",
        "num-detected-classes": "3",
        "cluster-mode": "4",
        "parse-bbox-func-name": "NvDsInferParseYolo",
        "custom-lib-path": "libnvdsinfer_custom_impl_Yolo.so",
    }
    raw = {**KEYS, "gie-unique-id": "2", "network-type": "100", "output-tensor-meta": "1"}
    classifier = {
        "onnx-file": "colour_classifier.onnx",
        "labelfile-path": "colours.txt",
        "net-scale-factor": "0.0039215697906911373",
        "gie-unique-id": "3",
        "process-mode": "2",
        "network-type": "1",
        "operate-on-gie-id": "1",
        "classifier-threshold": "0.51",
        "output-tensor-meta": "1",
    }
    for name, keys in (("parsing.txt", parsing), ("raw.txt", raw), ("classifier.txt", classifier)):
        lines = ["[property]", *(f"{k}={v}" for k, v in keys.items())]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def pipeline(models: Path) -> Iterator[BatchPipeline]:
    made = BatchPipeline(
        f"nvinfer name=parsing config-file-path={models / 'parsing.txt'} ! "
        f"nvinfer name=raw config-file-path={models / 'raw.txt'}"
    )
    try:
        assert made.start(), made.errors()
        yield made
    finally:
        made.close()


def _user_metas(node: object) -> Iterator[pyds.NvDsUserMeta]:
    while node is not None:
        yield pyds.NvDsUserMeta.cast(node.data)  # type: ignore[attr-defined]
        node = node.next  # type: ignore[attr-defined]


def test_an_app_parses_what_network_type_100_attached(pipeline: BatchPipeline) -> None:
    frames = [square(W, H, (40, 60, 80, 50), (0, 0, 255)), square(W, H, (200, 20, 64, 96), (255, 0, 0))]
    batch = pipeline.push(frames)
    for frame in batch.frames:
        [parsed] = frame.objects  # only the parsing element made objects
        assert parsed.unique_component_id == 1
        [user_meta] = list(_user_metas(frame.frame_user_meta_list))  # only the raw one attached a meta
        assert user_meta.base_meta.meta_type == pyds.NvDsMetaType.NVDSINFER_TENSOR_OUTPUT_META
        meta = pyds.NvDsInferTensorMeta.cast(user_meta.user_meta_data)
        assert (meta.unique_id, meta.num_output_layers) == (2, 1)
        network = meta.network_info
        assert (network.width, network.height, network.channels) == (NET, NET, 3)
        layer = pyds.get_nvds_LayerInfo(meta, 0)
        assert (layer.layerName, layer.dataType) == ("output", pyds.NvDsInferDataType.FLOAT)
        [[x1, y1, x2, y2, score, label]] = _as_floats(layer)
        sx, sy = W / network.width, H / network.height
        assert (int(label), score) == (parsed.class_id, pytest.approx(parsed.confidence))
        rect = parsed.rect_params
        assert [x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy] == pytest.approx(
            [rect.left, rect.top, rect.width, rect.height], abs=1e-3
        )
    red, blue = (f.objects[0] for f in batch.frames)
    assert (red.class_id, blue.class_id) == (0, 2)  # the two frames' own tensors, not one shared


def test_a_secondary_elements_tensor_meta_is_on_each_object(models: Path) -> None:
    """Secondary inference: the classifier's raw probabilities ride on the object they were
    inferred on, and are the ones its own parser turned into the object's label."""
    pipeline = BatchPipeline(
        f"nvinfer name=parsing config-file-path={models / 'parsing.txt'} ! "
        f"nvinfer name=classifier config-file-path={models / 'classifier.txt'}"
    )
    try:
        assert pipeline.start(), pipeline.errors()
        frames = [square(W, H, (40, 60, 80, 50), (0, 255, 0)), square(W, H, (100, 20, 64, 96), (255, 0, 0))]
        batch = pipeline.push(frames)
        for frame in batch.frames:
            assert frame.frame_user_meta_list is None  # secondary: nothing on the frame
            [obj] = frame.objects
            [user_meta] = list(_user_metas(obj.obj_user_meta_list))
            assert user_meta.base_meta.meta_type == pyds.NvDsMetaType.NVDSINFER_TENSOR_OUTPUT_META
            meta = pyds.NvDsInferTensorMeta.cast(user_meta.user_meta_data)
            assert meta.unique_id == 3
            layer = pyds.get_nvds_LayerInfo(meta, 0)
            probabilities = _as_floats(layer)
            assert probabilities.shape == (3,) and probabilities.sum() == pytest.approx(1, abs=1e-5)
            classifier = pyds.NvDsClassifierMeta.cast(obj.classifier_meta_list.data)
            label = pyds.NvDsLabelInfo.cast(classifier.label_info_list.data)
            assert int(np.argmax(probabilities)) == label.result_class_id
            assert float(probabilities.max()) == pytest.approx(label.result_prob)
        green, blue = (f.objects[0] for f in batch.frames)
        assert (green.class_id, blue.class_id) == (1, 2)
    finally:
        pipeline.close()


# --- nvinferserver: postprocess { other {} } -----------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
APP_CONFIG = ROOT / "scenarios" / "traffic" / "app" / "config_infer_primary_rtdetr_triton.yml"
DETECTION = APP_CONFIG.read_text(encoding="utf-8")
POSTPROCESS = DETECTION[DETECTION.index("  postprocess {") : DETECTION.index("  custom_lib {")]


def _other_config(folder: Path, tensor_meta: bool = True) -> Path:
    model = folder / "models" / "rtdetr"
    model.mkdir(parents=True, exist_ok=True)
    for name in ("config.pbtxt", "labels.txt"):
        (model / name).write_bytes((ROOT / "models_repo" / "B" / "rtdetr" / name).read_bytes())
    other = '  postprocess {\n    labelfile_path: "./models/rtdetr/labels.txt"\n    other {}\n  }\n\n'
    flag = "true" if tensor_meta else "false"
    text = DETECTION.replace(POSTPROCESS, other).replace(
        "output_tensor_meta: false", f"output_tensor_meta: {flag}"
    )
    path = folder / f"other_{tensor_meta}.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_nvinferserver_other_leaves_the_outputs_to_the_app(models: Path, tmp_path: Path) -> None:
    from fake_device.deepstream.inferserver import NvInferServer, OnnxRuntimeBackend
    from fake_device.deepstream.inferserver_config import load_inferserver_config

    config = load_inferserver_config(_other_config(tmp_path))
    assert (config.detection, config.classification, config.output_tensor_meta) == (None, None, True)
    assert config.labels == ("car", "truck", "bus", "motorcycle")
    assert not any("output" in w for w in config.warnings)
    with NvInferServer(config, backend=OnnxRuntimeBackend(models / "box_finder.onnx")) as engine:
        assert engine.output_names == ("output",)  # any outputs will do: nothing parses them
    quiet = load_inferserver_config(_other_config(tmp_path, tensor_meta=False))
    assert any("nothing reads the outputs" in w for w in quiet.warnings)
