"""nvtracker as a GStreamer element: DeepStream's properties, NVMM caps, the meta it writes on
buffers that pass through it, past-frame user meta, stream events and its start-up errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from batch_feed import Detection, batch_meta, nvmm_rgba, run

from fake_device.deepstream import cmemory
from fake_device.deepstream.gst.carrier import batch_meta_of
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import GObject, Gst
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    NvDsMetaType,
    NvDsUserMeta,
    nvds_acquire_obj_meta_from_pool,
    nvds_add_obj_meta_to_frame,
)
from fake_device.deepstream.meta_tracker import (
    NvDsTargetMiscDataBatch,
    NvDsTargetMiscDataObject,
    NvDsTargetMiscDataStream,
)

REPO = Path(__file__).resolve().parents[3]
NVSORT = REPO / "scenarios" / "traffic" / "app" / "config_tracker_NvSORT.yml"
LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"

IOU = """%YAML:1.0
BaseConfig:
  minDetectorConfidence: 0.3
TargetManagement:
  probationAge: 2
  maxShadowTrackingAge: 5
  earlyTerminationAge: 1
{extra}
"""


@pytest.fixture(scope="module", autouse=True)
def _elements() -> None:
    register_all()


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "tracker.yml"
    path.write_text(IOU.format(extra=extra))
    return path


def _moving(frames: int, *, missed: set[int] = frozenset()) -> list:
    """One car moving right, a low-confidence box that stays put (never tracked)."""
    out = []
    for n in range(frames):
        detections = [] if n in missed else [Detection((40.0 + 4 * n, 60.0, 50.0, 30.0))]
        detections.append(Detection((200.0, 150.0, 40.0, 40.0), class_id=2, confidence=0.1, label="person"))
        out.append(batch_meta([(0, n, detections)], 320, 240))
    return out


# -- properties and caps ---------------------------------------------------------------------------

PROPERTIES = [
    # name, value type, default, minimum, maximum
    ("tracker-width", GObject.TYPE_UINT, 960, 0, 4294967295),
    ("tracker-height", GObject.TYPE_UINT, 544, 0, 4294967295),
    ("gpu-id", GObject.TYPE_UINT, 0, 0, 4294967295),
    ("ll-config-file", GObject.TYPE_STRING, None, None, None),
    ("ll-lib-file", GObject.TYPE_STRING, None, None, None),
    ("tracking-surface-type", GObject.TYPE_UINT, 0, 0, 4294967295),
    ("display-tracking-id", GObject.TYPE_BOOLEAN, True, None, None),
    ("tracking-id-reset-mode", GObject.TYPE_UINT, 0, 0, 3),
    ("input-tensor-meta", GObject.TYPE_BOOLEAN, False, None, None),
    ("tensor-meta-gie-id", GObject.TYPE_UINT, 0, 0, 4294967295),
    ("user-meta-pool-size", GObject.TYPE_UINT, 32, 1, 4294967295),
    ("sub-batches", GObject.TYPE_STRING, None, None, None),
    ("sub-batch-err-recovery-trial-cnt", GObject.TYPE_INT, 0, -1, 2147483647),
    ("operate-on-class-ids", GObject.TYPE_STRING, "", None, None),
]


@pytest.mark.parametrize(("name", "gtype", "default", "minimum", "maximum"), PROPERTIES)
def test_properties_have_deepstreams_names_types_defaults_and_ranges(
    name: str, gtype: GObject.GType, default: object, minimum: object, maximum: object
) -> None:
    tracker = Gst.ElementFactory.make("nvtracker", None)
    spec = tracker.find_property(name)
    assert spec is not None, name
    assert spec.value_type == gtype
    assert spec.default_value == default
    assert tracker.get_property(name) == default
    if minimum is not None:
        assert (spec.minimum, spec.maximum) == (minimum, maximum)


def test_compute_hw_is_deepstreams_enum() -> None:
    tracker = Gst.ElementFactory.make("nvtracker", None)
    spec = tracker.find_property("compute-hw")
    assert GObject.type_name(spec.value_type) == "GstNvComputeHWType"
    tracker.set_property("compute-hw", 1)
    assert int(tracker.get_property("compute-hw")) == 1


def test_pads_take_nvmm_i420_nv12_and_rgba_only() -> None:
    factory = Gst.ElementFactory.find("nvtracker")
    for template in factory.get_static_pad_templates():
        caps = template.get_caps()
        assert caps.get_features(0).contains("memory:NVMM")
        assert caps.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "NV12")))
        assert caps.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "I420")))
        assert not caps.can_intersect(Gst.Caps.from_string("video/x-raw,format=RGBA,width=64,height=48"))


# -- metadata through a pipeline -------------------------------------------------------------------


def test_tracked_objects_get_ids_boxes_and_text_untracked_ones_are_removed(tmp_path: Path) -> None:
    element = f"nvtracker ll-lib-file={LIB} ll-config-file={_config(tmp_path)}"
    out = run(element, _moving(6))
    assert out.errors == []
    objects = [list(meta.frames[0].objects) for meta in out.metas]
    # probationAge 2: reported from the third frame; the 0.1-confidence person never
    assert [len(o) for o in objects] == [0, 0, 1, 1, 1, 1]
    car = objects[3][0]
    assert car.object_id == 0 and car.obj_label == "car"
    assert car.tracker_confidence == pytest.approx(1.0)
    coords = car.tracker_bbox_info.org_bbox_coords
    assert (coords.left, coords.top, coords.width, coords.height) == pytest.approx((52.0, 60.0, 50.0, 30.0))
    text = car.text_params
    assert cmemory.string_at(text.display_text) == "car 0"
    assert (text.x_offset, text.y_offset) == (52, 40)
    assert cmemory.string_at(text.font_params.font_name) == "Serif" and text.font_params.font_size == 10
    assert text.set_bg_clr == 1 and text.text_bg_clr.alpha == 1.0
    assert all(f.latency[-1][0].startswith("nvtracker") for m in out.metas for f in m.frames)


def test_display_tracking_id_off_keeps_the_detectors_text(tmp_path: Path) -> None:
    element = f"nvtracker ll-lib-file={LIB} ll-config-file={_config(tmp_path)} display-tracking-id=false"
    out = run(element, _moving(4))
    car = out.metas[3].frames[0].objects[0]
    assert car.object_id == 0
    assert cmemory.string_at(car.text_params.display_text) == "car"


def test_operate_on_class_ids_leaves_other_classes_untouched(tmp_path: Path) -> None:
    element = f"nvtracker ll-lib-file={LIB} ll-config-file={_config(tmp_path)} operate-on-class-ids=0"
    out = run(element, _moving(3))
    kept = [(o.class_id, o.object_id) for o in out.metas[2].frames[0].objects]
    assert kept == [(0, 0), (2, UNTRACKED_OBJECT_ID)]


def test_past_frame_meta_is_batch_user_meta_as_deepstream_test2_reads_it(tmp_path: Path) -> None:
    config = _config(tmp_path, "  enablePastFrame: 1")
    out = run(f"nvtracker ll-lib-file={LIB} ll-config-file={config}", _moving(6))
    assert out.errors == []
    found = []
    for meta in out.metas:
        node = meta.batch_user_meta_list
        while node is not None:
            user_meta = NvDsUserMeta.cast(node.data)
            if user_meta.base_meta.meta_type == NvDsMetaType.NVDS_TRACKER_PAST_FRAME_META:
                batch = NvDsTargetMiscDataBatch.cast(user_meta.user_meta_data)
                for stream in NvDsTargetMiscDataBatch.list(batch):
                    for obj in NvDsTargetMiscDataStream.list(stream):
                        frames = [
                            (f.frameNum, f.tBbox.left, f.age) for f in NvDsTargetMiscDataObject.list(obj)
                        ]
                        found.append(
                            (meta.frames[0].frame_num, stream.streamID, obj.uniqueId, obj.objLabel, frames)
                        )
            node = node.next
    assert len([m for m in out.metas if m.batch_user_meta_list is not None]) == 6, "attached to every batch"
    assert found == [(2, 0, 0, "car", [(0, 40.0, 0), (1, 44.0, 1)])]


def test_pad_deleted_and_stream_eos_events_from_the_muxer(tmp_path: Path) -> None:
    """Two sources through nvstreammux; source 1 ends early. Its targets are dropped on
    nv-stream-eos only with tracking-id-reset-mode bit 2 (DeepStream's rule)."""
    results = {}
    for mode in (0, 2):
        pipeline = Gst.parse_launch(
            f"appsrc name=a format=time caps={nvmm_rgba(320, 240)} ! mux.sink_0 "
            f"appsrc name=b format=time caps={nvmm_rgba(320, 240)} ! mux.sink_1 "
            "nvstreammux name=mux batch-size=2 width=320 height=240 batched-push-timeout=40000 "
            f"! nvtracker name=tracker ll-lib-file={LIB} ll-config-file={_config(tmp_path)} "
            f"tracking-id-reset-mode={mode} ! fakesink sync=false"
        )

        def detect(pad: Gst.Pad, info: Gst.PadProbeInfo, _: object) -> Gst.PadProbeReturn:
            from fake_device.deepstream.gst.carrier import batch_meta_of
            from fake_device.deepstream.meta import (
                nvds_acquire_obj_meta_from_pool,
                nvds_add_obj_meta_to_frame,
            )

            meta = batch_meta_of(info.get_buffer())
            for frame in meta.frames:
                obj = nvds_acquire_obj_meta_from_pool(meta)
                obj.class_id, obj.confidence, obj.object_id = 0, 0.9, UNTRACKED_OBJECT_ID
                rect = obj.rect_params
                rect.left, rect.top, rect.width, rect.height = 40.0 + 2 * frame.frame_num, 60.0, 50.0, 30.0
                nvds_add_obj_meta_to_frame(frame, obj, None)
            return Gst.PadProbeReturn.OK

        pipeline.get_by_name("mux").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, detect, None)
        try:
            pipeline.set_state(Gst.State.PLAYING)
            sources = {"a": (pipeline.get_by_name("a"), 8), "b": (pipeline.get_by_name("b"), 4)}
            for n in range(8):  # the sources' frames interleaved, as live sources deliver them
                for src, count in sources.values():
                    if n < count:
                        buffer = Gst.Buffer.new_wrapped(bytes(320 * 240 * 4))
                        buffer.pts, buffer.duration = n * Gst.SECOND // 30, Gst.SECOND // 30
                        assert src.emit("push-buffer", buffer) == Gst.FlowReturn.OK
                    if n == count - 1:
                        src.emit("end-of-stream")
            ended = Gst.MessageType.EOS | Gst.MessageType.ERROR
            message = pipeline.get_bus().timed_pop_filtered(30 * Gst.SECOND, ended)
            assert message is not None and message.type == Gst.MessageType.EOS, (
                message and message.parse_error()
            )
            tracker = pipeline.get_by_name("tracker").tracker
            results[mode] = (tracker.target_count(0), tracker.target_count(1))
        finally:
            pipeline.set_state(Gst.State.NULL)
    assert results[0] == (1, 1), "mode 0 keeps an ended stream's targets"
    assert results[2][1] == 0, "mode 2 drops them at the stream's EOS"


def test_a_released_muxer_pad_drops_that_streams_targets(tmp_path: Path) -> None:
    """runtime_source_add_delete's way: a source is removed while the pipeline plays; nvstreammux
    sends nv-pad-deleted and the tracker forgets the stream's targets, whatever the reset mode."""
    pipeline = Gst.parse_launch(
        f"appsrc name=a format=time caps={nvmm_rgba(320, 240)} ! mux.sink_0 "
        f"appsrc name=b format=time caps={nvmm_rgba(320, 240)} ! mux.sink_1 "
        "nvstreammux name=mux batch-size=2 width=320 height=240 batched-push-timeout=40000 "
        f"! nvtracker name=tracker ll-lib-file={LIB} ll-config-file={_config(tmp_path)} ! fakesink sync=false"
    )
    mux, tracker = pipeline.get_by_name("mux"), pipeline.get_by_name("tracker")
    seen_b = threading.Event()

    def detect(pad: Gst.Pad, info: Gst.PadProbeInfo, _: object) -> Gst.PadProbeReturn:
        meta = batch_meta_of(info.get_buffer())
        for frame in meta.frames:
            obj = nvds_acquire_obj_meta_from_pool(meta)
            obj.class_id, obj.confidence, obj.object_id = 0, 0.9, UNTRACKED_OBJECT_ID
            rect = obj.rect_params
            rect.left, rect.top, rect.width, rect.height = 40.0, 60.0, 50.0, 30.0
            nvds_add_obj_meta_to_frame(frame, obj, None)
        return Gst.PadProbeReturn.OK

    def passed(pad: Gst.Pad, info: Gst.PadProbeInfo, _: object) -> Gst.PadProbeReturn:
        if any(f.source_id == 1 and f.frame_num == 3 for f in batch_meta_of(info.get_buffer()).frames):
            seen_b.set()
        return Gst.PadProbeReturn.OK

    mux.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, detect, None)
    tracker.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, passed, None)
    a, b = pipeline.get_by_name("a"), pipeline.get_by_name("b")

    def push(src: Gst.Element, n: int) -> None:
        buffer = Gst.Buffer.new_wrapped(bytes(320 * 240 * 4))
        buffer.pts, buffer.duration = n * Gst.SECOND // 30, Gst.SECOND // 30
        assert src.emit("push-buffer", buffer) == Gst.FlowReturn.OK

    try:
        pipeline.set_state(Gst.State.PLAYING)
        for n in range(4):
            push(a, n)
            push(b, n)
        assert seen_b.wait(30), "source 1's frames did not get through"
        assert tracker.tracker.target_count(1) == 1
        b.set_state(Gst.State.NULL)
        pad = mux.get_static_pad("sink_1")
        b.unlink(mux)
        mux.release_request_pad(pad)
        pipeline.remove(b)
        for n in range(4, 8):
            push(a, n)
        a.emit("end-of-stream")
        message = pipeline.get_bus().timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
        )
        assert message is not None and message.type == Gst.MessageType.EOS
        assert (tracker.tracker.target_count(0), tracker.tracker.target_count(1)) == (1, 0)
    finally:
        pipeline.set_state(Gst.State.NULL)


# -- errors ----------------------------------------------------------------------------------------


def test_config_error_is_an_error_message_with_file_line_and_hint(tmp_path: Path) -> None:
    config = tmp_path / "broken.yml"
    config.write_text("%YAML:1.0\nTargetManagement:\n  probatonAge: 3\n")
    out = run(f"nvtracker ll-lib-file={LIB} ll-config-file={config}", _moving(1))
    assert len(out.errors) == 1
    text = out.errors[0]
    assert f"ll-config-file: {config}:3: unknown key 'probatonAge' in section TargetManagement" in text
    assert "hint: did you mean 'probationAge'?" in text
    assert out.metas == []


@pytest.mark.parametrize(
    ("library", "expected"),
    [
        (None, "ll-lib-file is not set"),
        (
            "/opt/nvidia/deepstream/deepstream/lib/libnvds_mot_klt.so",
            "the KLT tracker library of DeepStream 5",
        ),
        ("/home/team/libmytracker.so", "a custom low-level tracker library cannot be loaded"),
    ],
)
def test_a_library_other_than_nvmultiobjecttracker_is_refused(library: str | None, expected: str) -> None:
    element = "nvtracker" + (f" ll-lib-file={library}" if library else "")
    out = run(element, _moving(1))
    assert len(out.errors) == 1 and expected in out.errors[0]
    assert "libnvds_nvmultiobjecttracker.so" in out.errors[0]


def test_operate_on_class_ids_that_are_not_integers_are_refused() -> None:
    out = run(f"nvtracker ll-lib-file={LIB} operate-on-class-ids=car;2", _moving(1))
    assert len(out.errors) == 1
    assert "operate-on-class-ids='car;2'" in out.errors[0] and "semicolon-separated integer" in out.errors[0]


def test_nvdcf_config_runs_with_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "nvdcf.yml"
    config.write_text("%YAML:1.0\nVisualTracker:\n  visualTrackerType: 1\n  useColorNames: 1\n")
    out = run(f"nvtracker ll-lib-file={LIB} ll-config-file={config}", _moving(6))
    assert out.errors == []
    assert any("NvDCF's visual tracking is not emulated" in w and "VisualTracker" in w for w in out.warnings)
    assert len(out.metas) == 6


def test_sub_batches_are_refused_when_the_element_starts() -> None:
    out = run(f"nvtracker ll-lib-file={LIB} sub-batches=0,1;2,3", _moving(1))
    assert len(out.errors) == 1
    assert "sub-batches" in out.errors[0] and "docs/deepstream/supported.md" in out.errors[0]


def test_the_seed_apps_nvsort_config_runs() -> None:
    out = run(f"nvtracker ll-lib-file={LIB} ll-config-file={NVSORT}", _moving(8))
    assert out.errors == []
    assert {o.object_id for m in out.metas for o in m.frames[0].objects} <= {0}


def test_a_buffer_without_batch_meta_is_an_error(tmp_path: Path) -> None:
    register_all()
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps={nvmm_rgba(64, 48)} ! nvtracker ll-lib-file={LIB} ! fakesink"
    )
    pipeline.set_state(Gst.State.PLAYING)
    src = pipeline.get_by_name("src")
    src.emit("push-buffer", Gst.Buffer.new_wrapped(bytes(64 * 48 * 4)))
    src.emit("end-of-stream")
    message = pipeline.get_bus().timed_pop_filtered(
        10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    assert message is not None and message.type == Gst.MessageType.ERROR
    assert "NvDsBatchMeta not found" in message.parse_error()[0].message
