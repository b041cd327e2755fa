"""Shared helpers of the nvmsgconv / nvmsgbroker element tests.

Batches are built and events attached the way a DeepStream app's probe does it (deepstream-test4,
the seed's app): acquire an NvDsEventMsgMeta, fill it, put a timestamp into a buffer from the C
heap, wrap it in a user meta of type NVDS_EVENT_MSG_META and add that to the frame. Pipelines are
real GStreamer ones fed by an appsrc that stands in for nvstreammux (it attaches the batch meta).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fake_device.deepstream import cmemory
from fake_device.deepstream import meta as nvds
from fake_device.deepstream.gst.carrier import attach_batch_meta, batch_meta_of
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.meta_event import (
    NvDsEventMsgMeta,
    NvDsEventType,
    NvDsObjectType,
    NvDsPersonObject,
    NvDsVehicleObject,
)

MAX_TIME_STAMP_LEN = 32
NVMM_CAPS = "video/x-raw(memory:NVMM),format=RGBA,width=64,height=48,framerate=30/1"
KAFKA_LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_kafka_proto.so"
EPOCH_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z

register_all()


def new_batch(frame_num: int, *, source_id: int = 0, objects: Sequence[tuple[float, ...]] = ()) -> Any:
    """A one-frame batch as nvstreammux makes it; ``objects`` are (class_id, conf, left, top, w, h, id)."""
    batch = nvds.nvds_create_batch_meta(1)
    frame = nvds.nvds_acquire_frame_meta_from_pool(batch)
    frame.frame_num = frame_num
    frame.source_id = source_id
    frame.pad_index = source_id
    frame.ntp_timestamp = EPOCH_NS + frame_num * 33_333_333
    frame.source_frame_width, frame.source_frame_height = 64, 48
    nvds.nvds_add_frame_meta_to_batch(batch, frame)
    for class_id, confidence, left, top, width, height, object_id in objects:
        obj = nvds.nvds_acquire_obj_meta_from_pool(batch)
        obj.class_id = int(class_id)
        obj.confidence = confidence
        obj.object_id = int(object_id)
        obj.rect_params.left, obj.rect_params.top = left, top
        obj.rect_params.width, obj.rect_params.height = width, height
        obj.obj_label = ["car", "person"][int(class_id)]
        nvds.nvds_add_obj_meta_to_frame(frame, obj)
    return batch


def set_ts(meta: NvDsEventMsgMeta, text: str) -> None:
    """``meta.ts = alloc_buffer(MAX_TIME_STAMP_LEN + 1)`` filled with ``text`` (generate_ts_rfc3339)."""
    meta.ts = cmemory.alloc(MAX_TIME_STAMP_LEN + 1)
    cmemory.write_string(meta.ts, text, MAX_TIME_STAMP_LEN, "generate_ts_rfc3339")


def add_event(
    frame: Any,
    *,
    event_type: int = NvDsEventType.NVDS_EVENT_MOVING,
    obj_type: int = NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE,
    bbox: tuple[float, float, float, float] = (10.5, 20.25, 30.0, 15.5),
    tracking_id: int = 7,
    confidence: float = 0.875,
    ts: str | None = "2023-11-14T22:13:20.123Z",
    sensor_str: str | None = None,
    sensor_id: int = 0,
    component_id: int = 0,
    vehicle: dict[str, str] | None = None,
    person: dict[str, Any] | None = None,
) -> NvDsEventMsgMeta:
    """Attach one event to ``frame`` the way deepstream-test4's probe does."""
    meta = NvDsEventMsgMeta()
    meta.type = event_type
    meta.objType = obj_type
    meta.bbox.left, meta.bbox.top, meta.bbox.width, meta.bbox.height = bbox
    meta.frameId = frame.frame_num
    meta.trackingId = tracking_id
    meta.confidence = confidence
    meta.sensorId = sensor_id
    meta.componentId = component_id
    if ts is not None:
        set_ts(meta, ts)
    if sensor_str is not None:
        meta.sensorStr = sensor_str
    if vehicle is not None:
        ext: Any = NvDsVehicleObject()
        for key, value in vehicle.items():
            setattr(ext, key, value)
        meta.extMsg, meta.extMsgSize = ext, 48
    elif person is not None:
        ext = NvDsPersonObject()
        for key, value in person.items():
            setattr(ext, key, value)
        meta.extMsg, meta.extMsgSize = ext, 40
    user_meta = nvds.nvds_acquire_user_meta_from_pool(frame.base_meta.batch_meta)
    user_meta.user_meta_data = meta
    user_meta.base_meta.meta_type = nvds.NvDsMetaType.NVDS_EVENT_MSG_META
    nvds.nvds_add_user_meta_to_frame(frame, user_meta)
    return meta


def frame_of(batch: Any) -> Any:
    return nvds.NvDsFrameMeta.cast(batch.frame_meta_list.data)


@dataclass
class Run:
    """What a pipeline run left: the batches that reached the appsink and the bus messages."""

    batches: list[Any] = field(default_factory=list)
    messages: list[Gst.Message] = field(default_factory=list)
    elements: dict[str, Gst.Element] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        return [m.parse_error()[0].message for m in self.messages if m.type == Gst.MessageType.ERROR]

    @property
    def warnings(self) -> list[str]:
        return [m.parse_warning()[0].message for m in self.messages if m.type == Gst.MessageType.WARNING]

    @property
    def eos(self) -> bool:
        return any(m.type == Gst.MessageType.EOS for m in self.messages)


def run_pipeline(
    description: str,
    batches: Iterable[Any],
    *,
    names: Sequence[str] = (),
    timeout_s: float = 20.0,
    on_eos: Any = None,
) -> Run:
    """``appsrc name=src ! <description>`` fed one buffer per batch, then EOS.

    Collects the batches an ``appsink name=out`` received (if there is one) and every ERROR,
    WARNING and the final EOS. ``on_eos(pipeline)`` runs the moment EOS is read off the bus, before
    the pipeline is stopped.
    """
    pipeline = Gst.parse_launch(f"appsrc name=src caps={NVMM_CAPS} format=time ! {description}")
    run = Run(elements={name: pipeline.get_by_name(name) for name in names})
    sink = pipeline.get_by_name("out")
    if sink is not None:
        # collect everything, pulled after EOS (appsink would otherwise hold EOS back until then)
        sink.set_property("wait-on-eos", False)
        sink.set_property("sync", False)
    bus = pipeline.get_bus()
    wanted = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            while (message := bus.pop_filtered(wanted)) is not None:
                run.messages.append(message)
            return run
        source = pipeline.get_by_name("src")
        for n, batch in enumerate(batches):
            buffer = Gst.Buffer.new_allocate(None, 64 * 48 * 4, None)
            buffer.pts = n * 33_333_333
            buffer.duration = 33_333_333
            attach_batch_meta(buffer, batch)
            source.emit("push-buffer", buffer)
        source.emit("end-of-stream")
        while True:
            message = bus.timed_pop_filtered(int(timeout_s * Gst.SECOND), wanted)
            if message is None:
                raise TimeoutError(f"no EOS or ERROR within {timeout_s} s")
            run.messages.append(message)
            if message.type == Gst.MessageType.EOS and on_eos is not None:
                on_eos(pipeline)
            if message.type in (Gst.MessageType.EOS, Gst.MessageType.ERROR):
                break
        while sink is not None and (sample := sink.emit("try-pull-sample", 0)) is not None:
            run.batches.append(batch_meta_of(sample.get_buffer()))
    finally:
        pipeline.set_state(Gst.State.NULL)
    return run


#: the msgconv config of NVIDIA's deepstream-test4 (sensor, place and analytics groups): full-schema tests
TEST4_CONFIG = """\
[sensor0]
enable=1
type=Camera
id=CAMERA_ID
location=45.293701447;-75.8303914499;48.1557479338
description=Entrance of Garage Right Lane
coordinate=5.2;10.1;11.2

[place0]
enable=1
id=1
type=garage
name=XYZ
location=30.32;-40.55;100.0
coordinate=1.0;2.0;3.0
place-sub-field1=walsh
place-sub-field2=lane1
place-sub-field3=P2

[analytics0]
enable=1
id=XYZ
description=Vehicle Detection and License Plate Recognition
source=OpenALR
version=1.0
"""
