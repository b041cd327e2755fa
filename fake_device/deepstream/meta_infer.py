"""nvinfer's segmentation output (nvdsinfer.h ``NvDsInferSegmentationMeta``).

A segmentation network's nvinfer attaches one per frame as a user meta of type
``NVDSINFER_SEGMENTATION_META``: ``class_map`` is ``height`` × ``width`` class indices (-1 where no
class passed the threshold), ``class_probabilities_map`` the ``classes`` × ``height`` × ``width``
probabilities. pyds binds the members read-only; ``pyds.get_segmentation_masks`` returns the class
map as a (height, width) int32 array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fake_device.deepstream.cstruct import Struct


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
