"""nvstreammux's scaling: a decoded frame at the muxer's resolution, stretched or letterboxed.

The nvstreammux element (:mod:`fake_device.deepstream.elements.nvstreammux`) scales every frame of
a batch to ``width`` × ``height`` plane by plane (:mod:`fake_device.deepstream.gst.scaling`) with
:func:`scale_frame`: stretched, or with ``enable-padding`` scaled with its aspect ratio kept and
padded with black on the right and bottom (NVIDIA documents the black bands, not their placement).
:class:`StreamMuxConfig` holds the properties that decide it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_BATCH_SIZE = 64


@dataclass(frozen=True)
class StreamMuxConfig:
    """The nvstreammux properties the emulation honours (names as snake_case properties).

    Defaults are deepstream-app's ``[streammux]`` ones for a 720p pipeline, except
    ``batched_push_timeout_us``, which is the 40 ms the sample configs set (the element's own
    default is -1).
    """

    width: int = 1280
    height: int = 720
    batch_size: int = 1
    batched_push_timeout_us: int = 40000  # -1 = wait for a full batch
    live_source: bool = False
    enable_padding: bool = False
    attach_sys_ts: bool = True
    interpolation: int = cv2.INTER_LINEAR

    def __post_init__(self) -> None:
        for key in ("width", "height", "batch_size", "batched_push_timeout_us", "interpolation"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"streammux {key} must be an integer, not {value!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"streammux width and height must be positive, not {self.width}x{self.height}")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(
                f"streammux batch_size must be between 1 and {MAX_BATCH_SIZE}, not {self.batch_size} "
                "(set it to the number of sources)"
            )
        if self.batched_push_timeout_us < -1:
            raise ValueError(
                "streammux batched_push_timeout_us must be -1 (wait for a full batch) or a number of "
                f"microseconds >= 0, not {self.batched_push_timeout_us}"
            )


def scale_frame(image: np.ndarray, config: StreamMuxConfig, *, fill: int = 0) -> np.ndarray:
    """``image`` at the muxer's resolution: stretched, or letterboxed with ``enable_padding``.

    ``fill`` is the value of the padding: 0 is black for RGB/BGR and luma planes; a chroma plane
    of a YUV frame needs 128.
    """
    h, w = image.shape[:2]
    out_w, out_h = config.width, config.height
    if (w, h) == (out_w, out_h):
        return image
    if not config.enable_padding:
        return cv2.resize(image, (out_w, out_h), interpolation=config.interpolation)
    scale = min(out_w / w, out_h / h)
    new_w = min(out_w, max(1, round(w * scale)))
    new_h = min(out_h, max(1, round(h * scale)))
    canvas = np.full((out_h, out_w, *image.shape[2:]), fill, dtype=image.dtype)
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=config.interpolation)
    return canvas
