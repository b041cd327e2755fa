"""Batches with metadata pushed through one emulated element in a real GStreamer pipeline.

``appsrc ! <element> ! appsink``: each pushed buffer is a batch of RGBA NVMM frames carrying an
NvDsBatchMeta built the way nvstreammux and a detector build it (frames from the batch pools,
objects with ``rect_params``, ``obj_label`` and the detector's ``display_text``); what comes out
of the appsink is the buffer and its meta after the element.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fake_device.deepstream.gst.carrier import attach_batch_meta, batch_meta_of
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    NvDsBatchMeta,
    nvds_acquire_frame_meta_from_pool,
    nvds_acquire_obj_meta_from_pool,
    nvds_add_frame_meta_to_batch,
    nvds_add_obj_meta_to_frame,
    nvds_create_batch_meta,
)

Box = tuple[float, float, float, float]  # left, top, width, height


@dataclass(frozen=True)
class Detection:
    box: Box
    class_id: int = 0
    confidence: float = 0.9
    label: str = "car"


def nvmm_rgba(width: int, height: int, fmt: str = "RGBA") -> str:
    return f"video/x-raw(memory:NVMM),format={fmt},width={width},height={height},framerate=30/1"


def batch_meta(
    frames: Sequence[tuple[int, int, Sequence[Detection]]], width: int, height: int
) -> NvDsBatchMeta:
    """A batch of ``(source_id, frame_num, detections)`` frames at ``width`` × ``height``."""
    batch = nvds_create_batch_meta(max(1, len(frames)))
    for batch_id, (source_id, frame_num, detections) in enumerate(frames):
        frame = nvds_acquire_frame_meta_from_pool(batch)
        frame.source_id = frame.pad_index = source_id
        frame.batch_id = batch_id
        frame.frame_num = frame_num
        frame.buf_pts = frame_num * 33_333_333
        frame.source_frame_width, frame.source_frame_height = width, height
        nvds_add_frame_meta_to_batch(batch, frame)
        for det in detections:
            obj = nvds_acquire_obj_meta_from_pool(batch)
            obj.class_id = det.class_id
            obj.confidence = det.confidence
            obj.object_id = UNTRACKED_OBJECT_ID
            rect = obj.rect_params
            rect.left, rect.top, rect.width, rect.height = det.box
            rect.border_width = 3
            rect.border_color.set(1.0, 0.0, 0.0, 1.0)
            obj.obj_label = det.label
            obj.text_params.display_text = det.label
            nvds_add_obj_meta_to_frame(frame, obj, None)
    return batch


@dataclass
class Run:
    """What came out: per buffer its batch meta and frames (RGBA arrays), and the bus messages."""

    metas: list[NvDsBatchMeta] = field(default_factory=list)
    images: list[list[np.ndarray]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run(
    element: str,
    batches: Sequence[NvDsBatchMeta],
    *,
    width: int = 320,
    height: int = 240,
    fmt: str = "RGBA",
    images: Sequence[np.ndarray] | None = None,
    timeout_s: float = 30.0,
) -> Run:
    """Push ``batches`` through ``appsrc ! {element} ! appsink`` and collect the output.

    ``images`` (one per frame of every batch, in order) become the pixels; frames are black
    otherwise. An ERROR on the bus ends the run; its text is in ``errors``.
    """
    register_all()
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps={nvmm_rgba(width, height, fmt)} ! {element} "
        "! appsink name=sink emit-signals=true sync=false"
    )
    out = Run()
    channels = 4 if fmt == "RGBA" else 1

    def on_sample(sink: Gst.Element) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        buffer = sample.get_buffer()
        out.metas.append(batch_meta_of(buffer))
        ok, info = buffer.map(Gst.MapFlags.READ)
        assert ok
        try:
            data = np.frombuffer(info.data, dtype=np.uint8).copy()
        finally:
            buffer.unmap(info)
        if fmt == "RGBA":
            frames = data.reshape(-1, height, width, channels)
            out.images.append(list(frames))
        return Gst.FlowReturn.OK

    pipeline.get_by_name("sink").connect("new-sample", on_sample)
    src = pipeline.get_by_name("src")
    bus = pipeline.get_bus()
    frame_bytes = width * height * 4 if fmt == "RGBA" else width * height * 3 // 2
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            _drain(bus, out)
            return out
        pictures = iter(images or ())
        for n, meta in enumerate(batches):
            count = max(1, len(meta.frames))
            data = bytearray(frame_bytes * count)
            if images is not None:
                data = bytearray(
                    b"".join(np.ascontiguousarray(next(pictures)).tobytes() for _ in range(count))
                )
            buffer = Gst.Buffer.new_wrapped(bytes(data))
            buffer.pts = n * Gst.SECOND // 30
            buffer.duration = Gst.SECOND // 30
            attach_batch_meta(buffer, meta)
            if src.emit("push-buffer", buffer) != Gst.FlowReturn.OK:
                break
        src.emit("end-of-stream")
        wanted = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING
        while True:
            message = bus.timed_pop_filtered(int(timeout_s * Gst.SECOND), wanted)
            assert message is not None, "neither EOS nor ERROR"
            _record(message, out)
            if message.type != Gst.MessageType.WARNING:
                break
        _drain(bus, out)
    finally:
        pipeline.set_state(Gst.State.NULL)
    return out


def _record(message: Gst.Message, out: Run) -> None:
    if message.type == Gst.MessageType.ERROR:
        error, debug = message.parse_error()
        out.errors.append(f"{error.message}\n{debug or ''}")
    elif message.type == Gst.MessageType.WARNING:
        warning, _ = message.parse_warning()
        out.warnings.append(warning.message)


def _drain(bus: Gst.Bus, out: Run) -> None:
    while (message := bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.WARNING)) is not None:
        _record(message, out)
