"""A linear DeepStream pipeline: muxer → elements → sink, with queues as thread boundaries.

GStreamer runs each ``queue`` element's downstream part in its own streaming thread, so a
DeepStream pipeline overlaps decoding, inference and the rest; a pipeline without queues runs
every element in the muxer's thread. :class:`Pipeline` keeps that model: the chain is split at
each :class:`Queue` into stages, one thread per stage, joined by bounded FIFO queues (order is
kept, memory is bounded, a slow stage back-pressures the ones before it, as a full GstQueue
does). Decoding already runs ahead in the muxer's per-source threads.

The seed's app tees after nvdsanalytics into a message branch (msgconv → msgbroker) and a
display branch (OSD → sink). Both branches see every buffer; here they run one after the other
in the same stage, which keeps the per-frame work and the messages identical.

At the end of the chain every batch goes through the latency measurement
(:class:`~.measure.LatencyRecorder`, printed when ``NVDS_ENABLE_LATENCY_MEASUREMENT`` is set) and
the ``**PERF:`` meter. An exception in any stage stops the pipeline and is re-raised from
:meth:`Pipeline.run` in the caller's thread, as a GStreamer error message ends the main loop.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from fake_device.deepstream.measure import LatencyRecorder, PerfMeter
from fake_device.deepstream.meta import BatchMeta
from fake_device.deepstream.msgbroker import NvMsgBroker
from fake_device.deepstream.msgconv import NvMsgConv, Payload

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often a blocked stage looks at the stop flag


class Element(Protocol):
    """What the pipeline needs of an element: a name and ``process(batch) -> batch``."""

    name: str

    def process(self, batch: BatchMeta) -> BatchMeta: ...


class BatchSource(Protocol):
    """The muxer (:class:`~.streammux.NvStreamMux`) as the pipeline sees it."""

    def batches(self) -> Iterator[BatchMeta]: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Queue:
    """A ``queue`` element: the start of a new streaming thread (``max-size-buffers`` deep)."""

    name: str = "queue"
    max_size_buffers: int = 4


class Named:
    """Gives an element without one a name and a latency mark per frame.

    The tracker and analytics classes are plain processors; DeepStream measures each element
    between its sink and src pads, which is what the mark records.
    """

    def __init__(self, name: str, element: Any) -> None:
        self.name = name
        self.element = element

    def process(self, batch: BatchMeta) -> BatchMeta:
        t_in = time.monotonic()
        out = self.element.process(batch)
        t_out = time.monotonic()
        for frame in out.frames:
            frame.latency.append((self.name, t_in, t_out))
        return out

    def close(self) -> None:
        close = getattr(self.element, "close", None)
        if close is not None:
            close()


class Probe:
    """A buffer probe: a function run on every batch at a point of the chain (a pad probe)."""

    def __init__(self, name: str, function: Callable[[BatchMeta], None]) -> None:
        self.name = name
        self.function = function

    def process(self, batch: BatchMeta) -> BatchMeta:
        self.function(batch)
        return batch


class MsgConvElement(Named):
    """nvmsgconv as an element: each frame's event metas → payloads attached to the frame."""

    def __init__(self, converter: NvMsgConv, name: str = "nvmsg-converter") -> None:
        super().__init__(name, converter)
        self.converter = converter
        self.payloads = 0

    def process(self, batch: BatchMeta) -> BatchMeta:
        t_in = time.monotonic()
        for frame in batch.frames:
            made = self.converter.convert(frame)
            self.payloads += len(made)
            frame.user_meta.extend(made)
        t_out = time.monotonic()
        for frame in batch.frames:
            frame.latency.append((self.name, t_in, t_out))
        return batch


class MsgBrokerElement(Named):
    """nvmsgbroker as a sink of the message branch: sends every payload attached to a frame."""

    def __init__(self, broker: NvMsgBroker, name: str = "nvmsg-broker") -> None:
        super().__init__(name, broker)
        self.broker = broker

    def process(self, batch: BatchMeta) -> BatchMeta:
        t_in = time.monotonic()
        for frame in batch.frames:
            for meta in frame.user_meta:
                if isinstance(meta, Payload):
                    self.broker.send(meta)
        t_out = time.monotonic()
        for frame in batch.frames:
            frame.latency.append((self.name, t_in, t_out))
        return batch


@dataclass
class PipelineResult:
    """What a finished run did: frames and batches out, wall time, latency and FPS figures."""

    frames: int = 0
    batches: int = 0
    seconds: float = 0.0
    frames_per_source: dict[int, int] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    perf: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False  # ended by stop() (signal) rather than end of stream

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 3),
            "frames_per_source": {str(k): v for k, v in sorted(self.frames_per_source.items())},
            "latency": self.latency,
            "perf": self.perf,
            "stopped": self.stopped,
        }


_EOS = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Pipeline:
    """Muxer plus a chain of elements and queues; :meth:`run` plays it to end of stream.

    ``on_batch`` is called with each batch that left the last element (tests and the app's
    own bookkeeping). Use as a context manager, or call :meth:`close`, to close every element
    (Triton stopped, broker flushed, sinks finalised) in reverse order.
    """

    def __init__(
        self,
        source: BatchSource,
        chain: Sequence[Element | Queue],
        *,
        latency: LatencyRecorder | None = None,
        perf: PerfMeter | None = None,
        on_batch: Callable[[BatchMeta], None] | None = None,
    ) -> None:
        self.source = source
        self.chain = list(chain)
        self.latency = latency or LatencyRecorder()
        self.perf = perf
        self.on_batch = on_batch
        self._stop = threading.Event()
        self._closed = False
        self.stages: list[tuple[int, list[Element]]] = []  # (depth of the queue before it, elements)
        current: list[Element] = []
        depth = 0
        for item in self.chain:
            if isinstance(item, Queue):
                self.stages.append((depth, current))
                current, depth = [], item.max_size_buffers
            else:
                current.append(item)
        self.stages.append((depth, current))

    @property
    def elements(self) -> list[Element]:
        return [e for e in self.chain if not isinstance(e, Queue)]

    def stop(self) -> None:
        """End the run soon (Ctrl-C, SIGTERM): the muxer stops, queued batches are dropped."""
        self._stop.set()
        with contextlib.suppress(Exception):
            self.source.stop()

    # -- running -------------------------------------------------------------------------------
    def run(self) -> PipelineResult:
        """Play to end of stream (or :meth:`stop`); raises the first error of any stage."""
        result = PipelineResult()
        started = time.monotonic()
        queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=max(1, d)) for d, _ in self.stages[1:]]
        errors: list[BaseException] = []
        threads = []
        for index in range(1, len(self.stages)):
            thread = threading.Thread(
                target=self._stage_loop,
                args=(
                    index,
                    queues[index - 1],
                    queues[index] if index < len(queues) else None,
                    result,
                    errors,
                ),
                name=f"pipeline-stage-{index}",
                daemon=True,
            )
            thread.start()
            threads.append(thread)
        try:
            self._head(queues[0] if queues else None, result, errors)
        except BaseException as err:  # KeyboardInterrupt included: stop the other stages first
            errors.append(err)
            self.stop()
        finally:
            for thread in threads:
                while thread.is_alive():
                    thread.join(_POLL_S)
        result.seconds = time.monotonic() - started
        result.latency = self.latency.summary()
        if self.perf is not None:
            self.perf.poll(force=True)
            result.perf = self.perf.summary()
        result.stopped = self._stop.is_set() and not errors
        if errors:
            raise errors[0]
        return result

    def _head(
        self, out: queue.Queue[Any] | None, result: PipelineResult, errors: list[BaseException]
    ) -> None:
        """Stage 0, in the caller's thread: pull batches from the muxer through the first elements."""
        elements = self.stages[0][1]
        try:
            for batch in self._batches():
                if self._stop.is_set():
                    break
                processed = self._apply(elements, batch)
                if out is None:
                    self._finish(processed, result)
                elif not self._put(out, processed):
                    break
        except BaseException as err:
            errors.append(err)
            self.stop()
            if out is not None:
                self._put(out, _Failure(err), force=True)
            return
        if out is not None:
            self._put(out, _EOS, force=True)

    def _batches(self) -> Iterable[BatchMeta]:
        return self.source.batches()

    def _stage_loop(
        self,
        index: int,
        inbox: queue.Queue[Any],
        out: queue.Queue[Any] | None,
        result: PipelineResult,
        errors: list[BaseException],
    ) -> None:
        elements = self.stages[index][1]
        while True:
            try:
                item = inbox.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set() and errors:
                    return
                continue
            if item is _EOS or isinstance(item, _Failure):
                if out is not None:
                    self._put(out, item, force=True)
                return
            if self._stop.is_set():
                continue  # drain, so the producer is never blocked on a full queue
            try:
                processed = self._apply(elements, item)
                if out is None:
                    self._finish(processed, result)
                else:
                    self._put(out, processed)
            except BaseException as err:
                errors.append(err)
                self.stop()
                if out is not None:
                    self._put(out, _Failure(err), force=True)
                # keep draining until the head sends EOS/failure, so nothing blocks
                self._drain(inbox)
                return

    def _drain(self, inbox: queue.Queue[Any]) -> None:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            try:
                item = inbox.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if item is _EOS or isinstance(item, _Failure):
                return

    def _put(self, out: queue.Queue[Any], item: Any, *, force: bool = False) -> bool:
        """Block while the queue is full (back-pressure), but give up when stopping unless ``force``."""
        while True:
            try:
                out.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                if self._stop.is_set() and not force:
                    return False
                if force and self._stop.is_set():
                    # make room: the consumer drops data batches while stopping anyway
                    with contextlib.suppress(queue.Empty):
                        out.get_nowait()

    @staticmethod
    def _apply(elements: Sequence[Element], batch: BatchMeta) -> BatchMeta:
        for element in elements:
            batch = element.process(batch)
        return batch

    def _finish(self, batch: BatchMeta, result: PipelineResult) -> None:
        self.latency.measure(batch)
        result.batches += 1
        for frame in batch.frames:
            result.frames += 1
            result.frames_per_source[frame.source_id] = result.frames_per_source.get(frame.source_id, 0) + 1
            if self.perf is not None:
                self.perf.tick(frame.source_id)
        if self.on_batch is not None:
            self.on_batch(batch)

    # -- life cycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the elements (last first) and the muxer; every close runs even if one fails."""
        if self._closed:
            return
        self._closed = True
        first: BaseException | None = None
        for element in reversed(self.elements):
            close = getattr(element, "close", None)
            if close is None:
                continue
            try:
                close()
            except BaseException as err:
                log.error("closing %s failed: %s", getattr(element, "name", element), err)
                first = first or err
        try:
            self.source.close()
        except BaseException as err:
            first = first or err
        if first is not None:
            raise first

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
