"""nvinfer's outputs as pyds binds them: segmentation (``NvDsInferSegmentationMeta``) and raw
tensors (``NvDsInferTensorMeta`` and the nvdsinfer.h structs around it).

A segmentation network's nvinfer attaches one per frame as a user meta of type
``NVDSINFER_SEGMENTATION_META``: ``class_map`` is ``height`` × ``width`` class indices (-1 where no
class passed the threshold), ``class_probabilities_map`` the ``classes`` × ``height`` × ``width``
probabilities. pyds binds the members read-only; ``pyds.get_segmentation_masks`` returns the class
map as a (height, width) int32 array.

With ``output-tensor-meta`` each frame (full-frame inference) or object (secondary) gets an
``NvDsInferTensorMeta`` user meta (``NVDSINFER_TENSOR_OUTPUT_META``) holding the raw outputs. Apps
parse them in Python (NVIDIA's deepstream-ssd-parser): ``pyds.get_nvds_LayerInfo(meta, i)`` gives
a layer's type, dims and ``buffer``, and ``pyds.get_ptr(layer.buffer)`` its real address for
ctypes and numpy, so the bytes live in numpy arrays the meta keeps alive. Field names and types
follow nvdsinfer.h, gstnvdsinfer.h and pyds's bindnvdsinfer.cpp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fake_device.deepstream.cmemory import HostPointer, MemoryFault, PointerTypeError
from fake_device.deepstream.cstruct import CEnum, Float, Int, Plain, Struct
from harness.errors import HarnessError


def _read_only(name: str) -> property:
    def get(self: Any) -> Any:
        return self.__dict__[name]

    def set_(self: Any, value: Any) -> None:
        raise AttributeError(f"NvDsInferSegmentationMeta.{name} is read-only in pyds")

    return property(get, set_)


class NvDsInferSegmentationMeta(Struct):
    """Made by the element with :meth:`of`; read-only for apps, as in pyds."""

    nvds_meta_type = 13  # NvDsMetaType.NVDSINFER_SEGMENTATION_META

    classes = _read_only("_classes")
    width = _read_only("_width")
    height = _read_only("_height")
    class_map = _read_only("_class_map")
    class_probabilities_map = _read_only("_class_probabilities_map")

    def __init__(self) -> None:
        super().__init__()
        self.__dict__.update(_classes=0, _width=0, _height=0, _class_map=None, _class_probabilities_map=None)

    @classmethod
    def of(cls, class_map: np.ndarray, probabilities: np.ndarray | None = None) -> NvDsInferSegmentationMeta:
        """A meta for a (height, width) class map and optional (classes, height, width) probabilities."""
        meta = cls()
        height, width = class_map.shape
        meta.__dict__.update(
            _classes=0 if probabilities is None else probabilities.shape[0],
            _width=width,
            _height=height,
            _class_map=np.ascontiguousarray(class_map, dtype=np.int32),
            _class_probabilities_map=None
            if probabilities is None
            else np.ascontiguousarray(probabilities, dtype=np.float32),
        )
        return meta


# -- raw tensor output (output-tensor-meta) -------------------------------------------------------
#: NVDSINFER_MAX_DIMS: the dims an NvDsInferDims holds
NVDSINFER_MAX_DIMS = 8


class NvDsInferDataType(CEnum):
    """The element type of a layer. pyds 1.2.0 names these four; DeepStream 7.1 adds INT64 = 4 and
    UINT8 = 5, which pyds reads back as ``NvDsInferDataType.???``."""

    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3


#: numpy dtype → NvDsInferDataType value (nvdsinfer.h's enum, INT64 and UINT8 included)
_DATA_TYPES = {
    np.dtype(np.float32): 0,
    np.dtype(np.float16): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int32): 3,
    np.dtype(np.int64): 4,
    np.dtype(np.uint8): 5,
}


def _readonly(name: str, ctype: str) -> property:
    """A ``def_readonly`` member over the instance dict: the element fills ``__dict__[name]``, an
    app's assignment is an AttributeError, as pybind11 raises."""

    def get(self: Any) -> Any:
        return self.__dict__[name]

    def set_(self: Any, value: Any) -> None:
        raise AttributeError(f"pyds.{type(self).__name__}.{name} is read-only ({ctype})")

    return property(get, set_)


class _ReadOnlyStruct(Struct):
    """A struct whose read-only members start at ``_zero`` (C's zeroed memory)."""

    _zero: dict[str, Any] = {}  # noqa: RUF012

    def __init__(self, **members: Any) -> None:
        super().__init__(**members)
        self.__dict__.update(self._zero)


class NvDsInferDims(_ReadOnlyStruct):
    """A layer's dimensions, without the batch: ``d`` reads as a uint32 numpy view of the 8-entry
    array (assigning ``d`` does nothing, as in pyds)."""

    numDims = _readonly("numDims", "unsigned int")
    numElements = _readonly("numElements", "unsigned int")
    _zero = {"numDims": 0, "numElements": 0}  # noqa: RUF012

    def __init__(self, **members: Any) -> None:
        super().__init__(**members)
        self.__dict__["_d"] = np.zeros(NVDSINFER_MAX_DIMS, dtype=np.uint32)

    @property
    def d(self) -> np.ndarray:
        return self.__dict__["_d"]

    @d.setter
    def d(self, value: Any) -> None:
        return None

    @classmethod
    def of(cls, shape: tuple[int, ...]) -> NvDsInferDims:
        if len(shape) > NVDSINFER_MAX_DIMS:
            raise HarnessError(
                f"a layer of {len(shape)} dims {list(shape)} does not fit NvDsInferDims "
                f"(NVDSINFER_MAX_DIMS = {NVDSINFER_MAX_DIMS})"
            )
        dims = cls()
        dims.__dict__.update(numDims=len(shape), numElements=int(np.prod(shape, dtype=np.int64)))
        dims.__dict__["_d"][: len(shape)] = shape
        return dims

    def _c_memcpy(self) -> Any:
        clone = super()._c_memcpy()
        clone.__dict__["_d"] = self.__dict__["_d"].copy()
        return clone


class NvDsInferDimsCHW(_ReadOnlyStruct):
    """A three-dimensional layer's channels, height and width (read-only in pyds)."""

    c = _readonly("c", "unsigned int")
    h = _readonly("h", "unsigned int")
    w = _readonly("w", "unsigned int")
    _zero = {"c": 0, "h": 0, "w": 0}  # noqa: RUF012


class NvDsInferNetworkInfo(Struct):
    """The network input's size (read-write in pyds)."""

    width = Int("unsigned int")
    height = Int("unsigned int")
    channels = Int("unsigned int")


class NvDsInferLayerInfo(_ReadOnlyStruct):
    """One bound layer: type, dims, binding index, name, and ``buffer``, a ``void *`` to the layer's
    data in this process's memory (``pyds.get_ptr(layer.buffer)`` is its real address).

    Every member is read-only, as pyds binds them. ``dims`` is the deprecated name of
    ``inferDims`` (the same union member in C, the same object here).
    """

    dataType = _readonly("dataType", "NvDsInferDataType")
    bindingIndex = _readonly("bindingIndex", "int")
    layerName = _readonly("layerName", "const char *")
    isInput = _readonly("isInput", "int")
    _zero = {  # noqa: RUF012
        "dataType": NvDsInferDataType.FLOAT,
        "bindingIndex": 0,
        "layerName": None,
        "isInput": 0,
    }
    _dims = Plain(factory=NvDsInferDims)

    @property
    def inferDims(self) -> NvDsInferDims:
        return self.__dict__["_dims"]

    @inferDims.setter
    def inferDims(self, value: Any) -> None:
        raise AttributeError("pyds.NvDsInferLayerInfo.inferDims is read-only (NvDsInferDims)")

    dims = inferDims

    @property
    def buffer(self) -> HostPointer | None:
        array = self.__dict__.get("_buffer")
        return None if array is None else HostPointer(array)

    @buffer.setter
    def buffer(self, value: Any) -> None:
        raise AttributeError("pyds.NvDsInferLayerInfo.buffer is read-only (void *)")

    def _c_memcpy(self) -> Any:
        clone = super()._c_memcpy()
        clone.__dict__["_dims"] = self.__dict__["_dims"]._c_memcpy()
        return clone


class NvDsInferObjectDetectionInfo(Struct):
    """One parsed object, as a Python parser builds it (read-write in pyds)."""

    classId = Int("unsigned int")
    left = Float()
    top = Float()
    width = Float()
    height = Float()
    detectionConfidence = Float()


class NvDsInferAttribute(_ReadOnlyStruct):
    """One classified attribute; pyds binds every member read-only (``atttributeIndex`` is its
    old misspelt name of ``attributeIndex``)."""

    attributeIndex = _readonly("attributeIndex", "unsigned int")
    attributeValue = _readonly("attributeValue", "unsigned int")
    attributeConfidence = _readonly("attributeConfidence", "float")
    attributeLabel = _readonly("attributeLabel", "char *")
    _zero = {  # noqa: RUF012
        "attributeIndex": 0,
        "attributeValue": 0,
        "attributeConfidence": 0.0,
        "attributeLabel": None,
    }

    @property
    def atttributeIndex(self) -> int:
        return self.__dict__["attributeIndex"]

    @atttributeIndex.setter
    def atttributeIndex(self, value: Any) -> None:
        raise AttributeError("pyds.NvDsInferAttribute.atttributeIndex is read-only (unsigned int)")


class NvDsInferTensorMeta(_ReadOnlyStruct):
    """The raw outputs of one frame (full-frame inference) or one object (secondary), attached by
    nvinfer/nvinferserver with ``output-tensor-meta`` as a user meta of type
    ``NVDSINFER_TENSOR_OUTPUT_META`` (gstnvinfer_meta_utils.cpp, gstnvinferserver_meta_utils.cpp).

    Each output is copied into an array of its own when the meta is made, as DeepStream keeps
    the batch's host buffers for as long as a meta refers to them: the values stay what the
    element inferred while the meta lives, whatever the element infers next. ``out_buf_ptrs_host``
    is a ``void **``: a HostPointer to an array of the buffers' real addresses.
    ``output_layers_info(j)`` is a method in pyds, not a list.
    """

    nvds_meta_type = 12  # NvDsMetaType.NVDSINFER_TENSOR_OUTPUT_META

    unique_id = _readonly("unique_id", "guint")
    num_output_layers = _readonly("num_output_layers", "guint")
    gpu_id = _readonly("gpu_id", "gint")
    _zero = {"unique_id": 0, "num_output_layers": 0, "gpu_id": 0}  # noqa: RUF012
    _network = Plain(factory=NvDsInferNetworkInfo)
    _layers = Plain(factory=list)

    _not_emulated = {  # noqa: RUF012
        "out_buf_ptrs_dev": "there is no GPU memory; read the outputs through out_buf_ptrs_host or "
        "get_nvds_LayerInfo(meta, i).buffer",
        "priv_data": "it is the element's own bookkeeping",
        "maintain_aspect_ratio": "pyds 1.2.0 does not bind it (DeepStream's C struct has it)",
        "symmetric_padding": "pyds 1.2.0 does not bind it (DeepStream's C struct has it)",
    }

    @property
    def network_info(self) -> NvDsInferNetworkInfo:
        return self.__dict__["_network"]

    @network_info.setter
    def network_info(self, value: Any) -> None:
        raise AttributeError("pyds.NvDsInferTensorMeta.network_info is read-only (NvDsInferNetworkInfo)")

    @property
    def out_buf_ptrs_host(self) -> HostPointer | None:
        table = self.__dict__.get("_host_ptrs")
        return None if table is None else HostPointer(table)

    @out_buf_ptrs_host.setter
    def out_buf_ptrs_host(self, value: Any) -> None:
        raise AttributeError("pyds.NvDsInferTensorMeta.out_buf_ptrs_host is read-only (void **)")

    def output_layers_info(self, j: int) -> NvDsInferLayerInfo:
        """The layer info of output ``j`` (its ``buffer`` is the host buffer of this meta)."""
        layers = self.__dict__["_layers"]
        if isinstance(j, bool) or not isinstance(j, int):
            raise PointerTypeError(f"NvDsInferTensorMeta.output_layers_info(j): j must be an int, not {j!r}")
        if not 0 <= j < len(layers):
            raise MemoryFault(
                f"NvDsInferTensorMeta.output_layers_info({j}): the meta has {len(layers)} output layers "
                "(reading past the array on a device)",
                hint="loop over range(tensor_meta.num_output_layers)",
            )
        return layers[j]

    def host_buffer(self, j: int) -> np.ndarray:
        """The array holding output ``j``'s bytes (what ``out_buf_ptrs_host[j]`` points to)."""
        self.output_layers_info(j)
        return self.__dict__["_buffers"][j]

    @classmethod
    def of(
        cls,
        unique_id: int,
        network: Any,
        outputs: Mapping[str, np.ndarray],
        *,
        gpu_id: int = 0,
    ) -> NvDsInferTensorMeta:
        """A meta holding copies of one frame's or object's ``outputs`` (name → array without the
        batch dimension, in binding order); ``network`` has width, height and channels."""
        meta = cls()
        layers, buffers = [], []
        for index, (name, value) in enumerate(outputs.items()):
            array = np.array(value, order="C", copy=True)
            data_type = _DATA_TYPES.get(array.dtype)
            if data_type is None:
                raise HarnessError(
                    f"output {name!r} is {array.dtype}, which NvDsInferDataType cannot describe",
                    hint="DeepStream's tensor meta carries FP32, FP16, INT8, INT32, INT64 and UINT8 outputs",
                )
            layer = NvDsInferLayerInfo()
            layer.__dict__.update(
                dataType=NvDsInferDataType(data_type),
                bindingIndex=index,
                layerName=name,
                isInput=0,
                _dims=NvDsInferDims.of(array.shape),
                _buffer=array,
            )
            layers.append(layer)
            buffers.append(array)
        d = meta.__dict__
        d.update(unique_id=unique_id, num_output_layers=len(layers), gpu_id=gpu_id, _layers=layers)
        d["_buffers"] = buffers
        d["_host_ptrs"] = np.array([b.ctypes.data for b in buffers], dtype=np.uintp)
        d["_network"].__dict__.update(
            width=int(network.width), height=int(network.height), channels=int(network.channels)
        )
        return meta

    def _c_memcpy(self) -> Any:
        clone = super()._c_memcpy()
        d = clone.__dict__
        d["_network"] = self.__dict__["_network"]._c_memcpy()
        d["_layers"] = [layer._c_memcpy() for layer in self.__dict__["_layers"]]
        return clone


def get_nvds_LayerInfo(data: Any, j: int) -> NvDsInferLayerInfo:
    """pyds's ``get_nvds_LayerInfo``: layer ``j`` of the tensor meta, its ``buffer`` set to the
    meta's host buffer ``j`` (``out_buf_ptrs_host[j]``), as the binding does."""
    meta = NvDsInferTensorMeta.cast(data)
    if meta is None:
        raise MemoryFault("get_nvds_LayerInfo: NULL tensor meta")
    layer = meta.output_layers_info(j)
    layer.__dict__["_buffer"] = meta.host_buffer(j)
    return layer


def get_detections(data: Any, i: int) -> float:
    """pyds's ``get_detections``: the ``i``-th float32 of the buffer ``data`` points to, whatever
    the layer's type (the binding casts to ``float *``)."""
    if not isinstance(data, HostPointer):
        raise PointerTypeError(
            f"get_detections(data, i): data must be a layer's buffer (NvDsInferLayerInfo.buffer), "
            f"not {type(data).__name__}",
            hint="pass pyds.get_nvds_LayerInfo(tensor_meta, j).buffer",
        )
    if isinstance(i, bool) or not isinstance(i, int):
        raise PointerTypeError(f"get_detections(data, i): i must be an int, not {i!r}")
    raw = data.target.reshape(-1).view(np.uint8)
    count = raw.size // 4
    if not 0 <= i < count:
        raise MemoryFault(
            f"get_detections: index {i} is outside the {raw.size}-byte buffer ({count} floats); a device "
            "would read past its end"
        )
    return float(raw[i * 4 : i * 4 + 4].view(np.float32)[0])
