"""nvstreammux: decoded frames of several sources → batches at one resolution.

Reproduced from the (legacy) Gst-nvstreammux documentation:

* each source is decoded in its own thread (a source bin and the queue behind it in GStreamer)
  and runs ahead of the muxer by at most ``queue_size`` frames, so memory stays bounded and a
  slow consumer back-pressures the decoders;
* sources are collected round-robin (the frames of a batch are listed in pad order); a batch is
  pushed when it holds ``batch_size`` frames, or when ``batched_push_timeout_us`` has passed since
  its first frame was collected (``-1`` waits for a full batch). Sources at end of stream no longer
  count: the last batches of a run hold only the streams still playing, and the run ends when
  every source has reached end of stream;
* every frame is scaled to ``width`` × ``height`` — stretched, or with ``enable_padding`` scaled
  with its aspect ratio kept and padded with black on the right and bottom (NVIDIA documents
  the black bands, not their placement);
* NvDsFrameMeta fields: ``source_id`` (the pad index), ``frame_num`` (per source, from 0),
  ``buf_pts``, ``ntp_timestamp`` (system time of capture with ``attach_sys_ts``, as
  ``attach-sys-ts=1``), ``source_frame_width/height`` (the size before scaling), ``batch_id``;
* latency marks: the decoder's (``<source name>_decoder``) and the muxer's own, from taking the
  frame to pushing the batch, as ``NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT`` reports them;
* ``live_source``: the legacy muxer's ``live-source`` property; here it plays every file source
  as a camera, paced at its frame rate (RTSP sources are live anyway).

Simplified:

* a batch holds at most one frame per source. DeepStream's muxer aims at ``batch_size /
  num_sources`` frames per source and can put several frames of one stream into a batch when
  ``batch_size`` exceeds the number of sources; here a batch is pushed as soon as every stream
  still playing has contributed a frame, so ``batch_size`` > sources gives batches of one frame
  per source (NVIDIA recommends ``batch-size`` = number of sources anyway);
* no GPU buffer pool, no ``sync-inputs``/``max-latency``, no NTP from RTCP sender reports (without
  ``attach_sys_ts`` ``ntp_timestamp`` is 0), no runtime addition or removal of sources, no
  ``frame-num-reset-on-eos`` (``frame_num`` keeps counting when a file loops);
* :meth:`NvStreamMux.stop` drops a batch that is being formed instead of flushing it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import cv2
import numpy as np

from fake_device.deepstream.meta import BatchMeta, FrameMeta
from fake_device.deepstream.source import DecodedFrame, UriSource

log = logging.getLogger(__name__)

MAX_BATCH_SIZE = 64
_POLL_S = 0.1  # longest a blocked wait goes without looking at the stop flag


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


@dataclass
class _Slot:
    """A source, the frames its thread decoded ahead, and how its thread ended."""

    source: UriSource
    frames: collections.deque[DecodedFrame] = field(default_factory=collections.deque)
    eos: bool = False  # the thread has finished (end of stream, stop or error)
    error: BaseException | None = None
    thread: threading.Thread | None = None
    frame_num: int = 0

    @property
    def drained(self) -> bool:
        return self.eos and not self.frames


class NvStreamMux:
    """Batches the frames of ``sources`` (see the module docstring for the semantics).

    ``frames_out`` counts the frames delivered per ``source_id``. The muxer plays once:
    :meth:`batches` opens the sources, and closes them when it ends, however it ends.
    """

    def __init__(
        self,
        sources: Sequence[UriSource],
        config: StreamMuxConfig,
        *,
        name: str = "stream-muxer",
        queue_size: int = 4,
    ) -> None:
        if not sources:
            raise ValueError("nvstreammux needs at least one source")
        ids = [s.source_id for s in sources]
        if len(set(ids)) != len(ids):
            raise ValueError(f"source ids must be unique (one muxer pad each), got {ids}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self.sources = list(sources)
        self.config = config
        self.name = name
        self.queue_size = queue_size
        self.frames_out: dict[int, int] = {s.source_id: 0 for s in self.sources}
        self._slots = [_Slot(s) for s in self.sources]
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._close_lock = threading.Lock()  # close() may come from the caller and a signal handler
        self._started = False
        self._next = 0  # where the next round-robin scan starts

    # -- control -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Make :meth:`batches` end soon; thread-safe (a signal handler or another thread)."""
        self._stop.set()
        for slot in self._slots:
            slot.source.interrupt()
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Stop, join every decode thread and close the sources; safe to call twice."""
        self.stop()
        with self._close_lock:
            for slot in self._slots:
                if slot.thread is not None:
                    # a decode thread sees the stop flag within one frame's decode (an RTSP
                    # read is bounded by the source's timeout), so this join ends
                    while slot.thread.is_alive():
                        slot.thread.join(_POLL_S)
            for slot in self._slots:
                try:
                    slot.source.close()
                except Exception as err:  # closing a capture should not mask the run's result
                    log.warning("%s: closing %s failed: %s", self.name, slot.source.name, err)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- decode threads ------------------------------------------------------------------------
    def _start(self) -> None:
        for slot in self._slots:
            if self.config.live_source and not slot.source.is_live:
                slot.source.is_live = True
            slot.thread = threading.Thread(
                target=self._decode_loop,
                args=(slot,),
                name=f"{self.name}-{slot.source.name}",
                daemon=True,  # never keeps the interpreter alive; close() joins it anyway
            )
        for slot in self._slots:
            assert slot.thread is not None
            slot.thread.start()

    def _decode_loop(self, slot: _Slot) -> None:
        """Open the source (in this thread, so RTSP connects overlap) and decode ahead."""
        source = slot.source
        try:
            source.open()
            while not self._stop.is_set():
                frame = source.read()
                if frame is None:
                    break
                with self._cond:
                    while len(slot.frames) >= self.queue_size and not self._stop.is_set():
                        self._cond.wait(_POLL_S)
                    if self._stop.is_set():
                        break
                    slot.frames.append(frame)
                    self._cond.notify_all()
        except BaseException as err:
            with self._cond:
                slot.error = err
        finally:
            with self._cond:
                slot.eos = True
                self._cond.notify_all()

    # -- batching ------------------------------------------------------------------------------
    def batches(self) -> Iterator[BatchMeta]:
        """Batches until every source has reached end of stream (or :meth:`stop`).

        An error of a decode thread (a :class:`~.source.SourceError` from opening, say) is
        raised here, in the caller's thread, after the other threads have been stopped.
        """
        if self._started:
            raise RuntimeError(f"{self.name}: batches() can be iterated only once")
        self._started = True
        try:
            self._start()
            while True:
                batch = self._collect()
                if batch is None:
                    return
                yield batch
        finally:
            self.close()

    def _collect(self) -> BatchMeta | None:
        """Form the next batch (blocking); None at the end of the run."""
        timeout_s = self.config.batched_push_timeout_us / 1e6
        taken: list[tuple[_Slot, DecodedFrame, float]] = []
        first_at = 0.0
        with self._cond:
            while True:
                self._raise_errors()
                if self._stop.is_set():
                    return None
                took = self._take(taken)
                if took:
                    self._cond.notify_all()  # room in the queues for the decoders
                    if first_at == 0.0:
                        first_at = taken[0][2]
                in_batch = {id(s) for s, _, _ in taken}
                open_slots = [s for s in self._slots if not s.drained and id(s) not in in_batch]
                if len(taken) >= self.config.batch_size or (taken and not open_slots):
                    break  # full, or no stream can add a frame to it
                if not taken and all(s.drained for s in self._slots):
                    self._raise_errors()
                    return None
                wait = _POLL_S
                if taken and timeout_s >= 0:
                    remaining = first_at + timeout_s - time.monotonic()
                    if remaining <= 0:
                        break  # batched-push-timeout: push what is there
                    wait = min(wait, remaining)
                self._cond.wait(wait)
        return self._build(taken)

    def _take(self, taken: list[tuple[_Slot, DecodedFrame, float]]) -> bool:
        """Take at most one waiting frame per source, round-robin, up to the batch size."""
        in_batch = {id(s) for s, _, _ in taken}
        count = len(self._slots)
        took = False
        for offset in range(count):
            if len(taken) >= self.config.batch_size:
                break
            slot = self._slots[(self._next + offset) % count]
            if id(slot) in in_batch or not slot.frames:
                continue
            taken.append((slot, slot.frames.popleft(), time.monotonic()))
            in_batch.add(id(slot))
            took = True
            self._next = (self._next + offset + 1) % count
        return took

    def _raise_errors(self) -> None:
        for slot in self._slots:
            if slot.error is not None:
                error = slot.error
                slot.error = None
                self.stop()
                raise error

    def _build(self, taken: list[tuple[_Slot, DecodedFrame, float]]) -> BatchMeta:
        # frames in pad order whatever order they arrived in, so that a run with full batches
        # gives the same batches every time
        order = {id(slot): index for index, slot in enumerate(self._slots)}
        taken = sorted(taken, key=lambda item: order[id(item[0])])
        frames: list[FrameMeta] = []
        for batch_id, (slot, decoded, _) in enumerate(taken):
            source = slot.source
            image = scale_frame(decoded.image, self.config)
            frame = FrameMeta(
                source_id=source.source_id,
                frame_num=slot.frame_num,
                ntp_timestamp=decoded.capture_ns if self.config.attach_sys_ts else 0,
                source_frame_width=decoded.image.shape[1],
                source_frame_height=decoded.image.shape[0],
                image=image,
                buf_pts=decoded.pts_ns,
                batch_id=batch_id,
                decode_time=decoded.decode_start,
            )
            frame.latency.append((f"{source.name}_decoder", decoded.decode_start, decoded.decode_end))
            slot.frame_num += 1
            frames.append(frame)
        mux_out = time.monotonic()
        for frame, (slot, _, mux_in) in zip(frames, taken, strict=True):
            frame.latency.append((self.name, mux_in, mux_out))
            self.frames_out[slot.source.source_id] += 1
        return BatchMeta(frames=frames, max_frames_in_batch=self.config.batch_size)
