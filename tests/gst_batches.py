"""A real GStreamer pipeline for DeepStream element tests: appsrc → elements → appsink, one batch at a time.

Batches are what nvstreammux makes: one buffer of ``len(images)`` frames of NVMM caps with an
NvDsBatchMeta carrying one frame meta per image (``batch_id`` = index). The test pushes a batch
and gets back the batch meta the last element passed on; ERROR messages of the bus are collected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fake_device.deepstream.gst.carrier import attach_batch_meta, batch_meta_of
from fake_device.deepstream.gst.registry import register
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.gst.surface import FrameLayout, map_surface, new_batch_buffer
from fake_device.deepstream.meta import NvDsBatchMeta, NvDsFrameMeta


def frame_metas(count: int, frame_num: int, width: int, height: int) -> NvDsBatchMeta:
    frames = [
        NvDsFrameMeta(
            source_id=i,
            frame_num=frame_num,
            source_frame_width=width,
            source_frame_height=height,
            batch_id=i,
        )
        for i in range(count)
    ]
    return NvDsBatchMeta(frames, max_frames_in_batch=count)


class BatchPipeline:
    """``appsrc ! <chain> ! appsink`` on NVMM ``format`` frames of ``width`` × ``height``."""

    def __init__(self, chain: str, *, format: str = "NV12", width: int = 320, height: int = 240) -> None:
        for factory in ("nvinfer", "nvinferserver"):
            register(factory)
        self.layout = FrameLayout.of(format, width, height)
        caps = f"video/x-raw(memory:NVMM),format={format},width={width},height={height},framerate=30/1"
        self.pipeline = Gst.parse_launch(
            f'appsrc name=src format=time caps="{caps}" ! {chain} ! appsink name=sink sync=false'
        )
        self.src = self.pipeline.get_by_name("src")
        self.sink = self.pipeline.get_by_name("sink")
        self.bus = self.pipeline.get_bus()
        self.frame_num = 0
        self.running = False
        self._errors: list[str] = []
        self._warnings: list[str] = []

    def element(self, name: str) -> Gst.Element:
        return self.pipeline.get_by_name(name)

    def start(self) -> bool:
        """To PLAYING; False if an element refused to start (its ERROR is in :meth:`errors`)."""
        # the elements start (READY → PAUSED) inside set_state; the sink prerolls with the first batch
        self.running = self.pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE
        return self.running

    def push(self, images: Sequence[np.ndarray], batch_meta: NvDsBatchMeta | None = None) -> NvDsBatchMeta:
        """Push one batch of BGR images (muxer-sized); returns the batch meta that came out."""
        buffer = new_batch_buffer(self.layout, len(images))
        with map_surface(buffer, self.layout, write=True) as surface:
            for frame, image in zip(surface.frames, images, strict=True):
                frame.write_bgr(image)
        meta = batch_meta or frame_metas(len(images), self.frame_num, self.layout.width, self.layout.height)
        attach_batch_meta(buffer, meta)
        buffer.pts = self.frame_num * Gst.SECOND // 30
        self.frame_num += 1
        assert self.src.emit("push-buffer", buffer) == Gst.FlowReturn.OK
        sample = self.sink.emit("try-pull-sample", 30 * Gst.SECOND)
        assert sample is not None, f"no buffer came out; errors: {self.errors()}"
        out = batch_meta_of(sample.get_buffer())
        assert out is meta
        return out

    def _drain(self) -> None:
        # pop_filtered drops what does not match: take errors and warnings in one pass
        wanted = Gst.MessageType.ERROR | Gst.MessageType.WARNING
        while (message := self.bus.pop_filtered(wanted)) is not None:
            if message.type == Gst.MessageType.ERROR:
                error, debug = message.parse_error()
                self._errors.append(f"{message.src.get_name()}: {error.message}\n{debug or ''}")
            else:
                self._warnings.append(message.parse_warning()[0].message)

    def errors(self) -> list[str]:
        """Text and debug of the ERROR messages posted so far."""
        self._drain()
        return list(self._errors)

    def warnings(self) -> list[str]:
        """Text of the WARNING messages posted so far."""
        self._drain()
        return list(self._warnings)

    def close(self) -> None:
        if self.running and self.frame_num:
            self.src.emit("end-of-stream")
            self.bus.timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        self.pipeline.set_state(Gst.State.NULL)


def square(width: int, height: int, box: tuple[int, int, int, int], bgr: tuple[int, int, int]) -> np.ndarray:
    """A black BGR frame with one filled rectangle ``(left, top, width, height)``."""
    image = np.zeros((height, width, 3), np.uint8)
    left, top, w, h = box
    image[top : top + h, left : left + w] = bgr
    return image
