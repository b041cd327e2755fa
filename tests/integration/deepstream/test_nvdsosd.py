"""nvdsosd as a GStreamer element: DeepStream's properties, RGBA-only negotiation, and what it draws
into the frames from object meta and display meta; then nvtracker → nvdsanalytics → nvdsosd as the
seed app chains them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from batch_feed import Detection, batch_meta, nvmm_rgba, run

from fake_device.deepstream import cmemory
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import GObject, Gst
from fake_device.deepstream.meta import (
    NvDsBatchMeta,
    nvds_acquire_display_meta_from_pool,
    nvds_add_display_meta_to_frame,
)

W, H = 320, 240
LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"


@pytest.fixture(scope="module", autouse=True)
def _elements() -> None:
    register_all()


def _one(detections: list[Detection] | None = None) -> NvDsBatchMeta:
    return batch_meta(
        [(0, 0, detections if detections is not None else [Detection((100.0, 80.0, 60.0, 40.0))])], W, H
    )


def _frame(out_images: list[list[np.ndarray]]) -> np.ndarray:
    return out_images[0][0]


def _lit(image: np.ndarray) -> np.ndarray:
    return image[..., :3].any(axis=2)


# -- properties and caps ---------------------------------------------------------------------------

PROPERTIES = [
    ("display-clock", GObject.TYPE_BOOLEAN, False, None, None),
    ("display-text", GObject.TYPE_BOOLEAN, True, None, None),
    ("display-bbox", GObject.TYPE_BOOLEAN, True, None, None),
    ("display-mask", GObject.TYPE_BOOLEAN, False, None, None),
    ("clock-font", GObject.TYPE_STRING, "Serif", None, None),
    ("clock-font-size", GObject.TYPE_UINT, 12, 0, 60),
    ("x-clock-offset", GObject.TYPE_UINT, 0, 0, 4294967295),
    ("y-clock-offset", GObject.TYPE_UINT, 0, 0, 4294967295),
    ("clock-color", GObject.TYPE_UINT, 4294967295, 0, 4294967295),
    ("gpu-id", GObject.TYPE_UINT, 0, 0, 4294967295),
    ("blur-on-gie-class-ids", GObject.TYPE_STRING, None, None, None),
    ("blur-bbox", GObject.TYPE_UINT, 0, 0, 2),
]


@pytest.mark.parametrize(("name", "gtype", "default", "minimum", "maximum"), PROPERTIES)
def test_properties(
    name: str, gtype: GObject.GType, default: object, minimum: object, maximum: object
) -> None:
    osd = Gst.ElementFactory.make("nvdsosd", None)
    spec = osd.find_property(name)
    assert spec.value_type == gtype and spec.default_value == default
    assert osd.get_property(name) == default
    if minimum is not None:
        assert (spec.minimum, spec.maximum) == (minimum, maximum)


def test_process_mode_is_deepstreams_enum_and_falls_back_to_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    osd = Gst.ElementFactory.make("nvdsosd", None)
    spec = osd.find_property("process-mode")
    assert GObject.type_name(spec.value_type) == "GstNvDsOsdMode"
    assert int(osd.get_property("process-mode")) == 1  # MODE_GPU
    osd.set_property("process-mode", 0)
    assert int(osd.get_property("process-mode")) == 0
    osd.set_property("process-mode", 2)  # MODE_NONE
    assert int(osd.get_property("process-mode")) == 1
    assert "Falling back to GPU" in capsys.readouterr().out


def test_templates_list_nv12_and_rgba_but_negotiation_offers_rgba_only() -> None:
    osd = Gst.ElementFactory.make("nvdsosd", None)
    template = osd.get_pad_template("sink").get_caps()
    assert template.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "NV12")))
    offered = osd.get_static_pad("sink").query_caps(None)
    assert offered.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "RGBA")))
    assert not offered.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "NV12")))


def test_nv12_input_fails_negotiation_with_a_clear_message() -> None:
    out = run("nvdsosd", [_one()], fmt="NV12")
    # the first ERROR is nvdsosd's (the source's "not-negotiated" follows it)
    assert "nvdsosd draws on RGBA frames only, not NV12" in out.errors[0]
    assert "nvvideoconvert ! video/x-raw(memory:NVMM),format=RGBA" in out.errors[0]
    assert out.metas == []


def test_blur_is_refused_when_the_element_starts() -> None:
    out = run("nvdsosd blur-bbox=1", [_one()])
    assert len(out.errors) == 1 and "blurring objects is not emulated" in out.errors[0]


# -- drawing ---------------------------------------------------------------------------------------


def test_object_box_in_its_border_colour() -> None:
    out = run("nvdsosd", [_one()])
    image = _frame(out.images)
    assert tuple(image[80, 130]) == (255, 0, 0, 255), "top border, red (rect_params.border_color)"
    assert tuple(image[120, 100]) == (255, 0, 0, 255), "left border"
    assert not _lit(image)[90:110, 110:150].any(), "no background: the inside stays black"
    assert not _lit(image)[0:20, 0:40].any(), "the test detector set no font colour: alpha 0, invisible"


def test_display_flags_switch_boxes_and_texts_off() -> None:
    with_all = _frame(run("nvdsosd", [_tracker_style_text()]).images)
    no_text = _frame(run("nvdsosd display-text=false", [_tracker_style_text()]).images)
    no_box = _frame(run("nvdsosd display-bbox=false", [_tracker_style_text()]).images)
    label = (slice(55, 78), slice(98, 200))
    assert _lit(with_all)[label].any() and not _lit(no_text)[label].any()
    assert _lit(no_box)[label].any() and not _lit(no_box)[80, 100:160].any()


def _tracker_style_text() -> NvDsBatchMeta:
    """An object whose text is where nvtracker puts it: 20 px above the box, white on black."""
    batch = _one()
    text = batch.frames[0].objects[0].text_params
    text.display_text = "car 3"
    text.x_offset, text.y_offset = 100, 60
    text.font_params.font_name = "Serif"
    text.font_params.font_size = 10
    text.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
    text.set_bg_clr = 1
    text.text_bg_clr.set(0.0, 0.0, 0.0, 1.0)
    return batch


def test_rect_background_is_blended_with_its_alpha() -> None:
    batch = _one()
    rect = batch.frames[0].objects[0].rect_params
    rect.has_bg_color = 1
    rect.bg_color.set(0.0, 0.0, 1.0, 0.5)
    grey = np.full((H, W, 4), 100, np.uint8)
    grey[..., 3] = 255
    image = _frame(run("nvdsosd", [batch], images=[grey]).images)
    assert tuple(image[100, 130]) == (50, 50, 178, 255)


def test_display_meta_rects_labels_lines_arrows_and_circles() -> None:
    batch = _one([])
    frame = batch.frames[0]
    display = nvds_acquire_display_meta_from_pool(batch)
    rect = display.rect_params[0]
    rect.left, rect.top, rect.width, rect.height, rect.border_width = 10.0, 10.0, 50.0, 30.0, 2
    rect.border_color.set(0.0, 1.0, 0.0, 1.0)
    display.num_rects = 1
    label = display.text_params[0]
    label.display_text = "Frame Number=0 Number of Objects=0"
    label.x_offset, label.y_offset = 10, 200
    label.font_params.font_size = 10
    label.font_params.font_color.set(1.0, 1.0, 0.0, 1.0)
    display.num_labels = 1
    line = display.line_params[0]
    line.x1, line.y1, line.x2, line.y2, line.line_width = 100, 150, 300, 150, 2
    line.line_color.set(0.0, 0.0, 1.0, 1.0)
    display.num_lines = 1
    arrow = display.arrow_params[0]
    arrow.x1, arrow.y1, arrow.x2, arrow.y2, arrow.arrow_width, arrow.arrow_head = 100, 100, 200, 100, 2, 1
    arrow.arrow_color.set(1.0, 0.0, 1.0, 1.0)
    display.num_arrows = 1
    circle = display.circle_params[0]
    circle.xc, circle.yc, circle.radius = 270, 60, 20
    circle.circle_color.set(1.0, 1.0, 1.0, 1.0)
    circle.has_bg_color = 1
    circle.bg_color.set(1.0, 0.0, 0.0, 1.0)
    display.num_circles = 1
    nvds_add_display_meta_to_frame(frame, display)
    image = _frame(run("nvdsosd", [batch]).images)
    assert tuple(image[10, 30]) == (0, 255, 0, 255), "rect"
    assert tuple(image[150, 200]) == (0, 0, 255, 255), "line"
    assert tuple(image[100, 150]) == (255, 0, 255, 255), "arrow shaft"
    assert tuple(image[60, 270]) == (255, 0, 0, 255), "circle background"
    assert (image[195:225, 10:200, 0] > 200).any() and (image[195:225, 10:200, 1] > 200).any(), "yellow label"


def test_clock_at_its_offset_in_clock_color() -> None:
    element = "nvdsosd display-clock=true x-clock-offset=200 y-clock-offset=200 clock-color=0x00ff00ff"
    image = _frame(run(element, [_one([])]).images)
    clock = image[200:235, 200:320]
    assert (clock[..., 1] > 200).any() and not (clock[..., 0] > 200).any(), "green digits"
    assert not _lit(image)[:190].any(), "nothing else drawn"
    red = _frame(run("nvdsosd display-clock=true", [_one([])]).images)
    assert (red[0:30, 0:120, 0] > 200).any(), "red until clock-color is set, as on a device"


def test_instance_mask_with_display_mask() -> None:
    batch = _one()
    mask = batch.frames[0].objects[0].mask_params
    mask.width, mask.height, mask.threshold = 4, 4, 0.5
    data = mask.alloc_mask_array()
    data[:] = np.tile([0.0, 0.0, 1.0, 1.0], 4)  # the right half of the box
    off = _frame(run("nvdsosd", [batch]).images)
    on = _frame(run("nvdsosd display-mask=true", [batch]).images)
    assert not _lit(off)[90:110, 135:155].any()
    assert tuple(on[100, 145]) == (128, 0, 0, 255) and not _lit(on)[90:110, 105:125].any()


def test_each_frame_of_a_batch_gets_its_own_objects() -> None:
    batch = batch_meta(
        [(0, 0, [Detection((10.0, 10.0, 40.0, 40.0))]), (1, 0, [Detection((200.0, 150.0, 40.0, 40.0))])], W, H
    )
    out = run("nvdsosd", [batch])
    first, second = out.images[0]
    assert _lit(first)[10, 20:40].all() and not _lit(first)[150:190, 200:240].any()
    assert _lit(second)[150, 210:230].all() and not _lit(second)[10:50, 10:50].any()


# -- the seed app's chain --------------------------------------------------------------------------


def test_tracker_analytics_osd_chain(tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.yml"
    tracker.write_text("%YAML:1.0\nTargetManagement:\n  probationAge: 0\n")
    analytics = tmp_path / "analytics.txt"
    analytics.write_text(
        "[property]\nenable=1\nconfig-width=320\nconfig-height=240\nosd-mode=2\n\n"
        "[roi-filtering-stream-0]\nenable=1\nroi-TL1=20;20;300;20;300;220;20;220\n"
    )
    element = (
        f"nvtracker ll-lib-file={LIB} ll-config-file={tracker} ! "
        f"nvdsanalytics config-file={analytics} ! nvdsosd"
    )
    out = run(element, [_one()])
    assert out.errors == []
    image = _frame(out.images)
    assert tuple(image[20, 150]) == (255, 255, 0, 255), (
        "the ROI outline, yellow, from nvdsanalytics' display meta"
    )
    assert tuple(image[80, 130]) == (0, 255, 255, 255), "the box colour inverted: the object is in the ROI"
    frame = out.metas[0].frames[0]
    assert cmemory.string_at(frame.objects[0].text_params.display_text) == "car 0  ROI:TL1"
    elements = [name.rstrip("0123456789") for name, _, _ in frame.latency]
    assert elements == ["nvtracker", "nvdsanalytics", "nvdsosd"], "one latency mark per element, in order"
