"""nvdsosd emulation: boxes where the objects are, labels with and without tracking ids, and the
nvdsanalytics overlay (ROIs, lines, counts) only when the analytics config's osd-mode asks."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from fake_device.deepstream.analytics import NvDsAnalytics, parse_analytics_config
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    BatchMeta,
    FrameAnalytics,
    FrameMeta,
    ObjectAnalytics,
    ObjectMeta,
)
from fake_device.deepstream.osd import (
    LINE_COLOUR,
    OVERCROWDING_COLOUR,
    ROI_COLOUR,
    NvDsOsd,
    Painter,
    arrow_head,
    class_colour,
    object_text,
)

W, H = 320, 240


def frame(objects: list[ObjectMeta] | None = None, *, image: bool = True, source_id: int = 0) -> FrameMeta:
    return FrameMeta(
        source_id=source_id,
        frame_num=0,
        ntp_timestamp=0,
        source_frame_width=W,
        source_frame_height=H,
        image=np.zeros((H, W, 3), np.uint8) if image else None,
        objects=objects or [],
    )


def car(
    left: float = 100, top: float = 80, w: float = 60, h: float = 40, *, object_id: int = 7
) -> ObjectMeta:
    return ObjectMeta(
        class_id=2,
        confidence=0.9,
        left=left,
        top=top,
        width=w,
        height=h,
        obj_label="car",
        object_id=object_id,
    )


def analytics(body: str, *, osd_mode: int, width: int = W, height: int = H, enable: int = 1) -> NvDsAnalytics:
    head = (
        f"[property]\nenable={enable}\nconfig-width={width}\nconfig-height={height}\n"
        f"osd-mode={osd_mode}\ndisplay-font-size=12\n"
    )
    config = parse_analytics_config(head + textwrap.dedent(body), "osd-test.txt")
    return NvDsAnalytics(config, W, H)


ROI = """
[roi-filtering-stream-0]
enable=1
roi-TL1=20;150;140;150;140;230;20;230
class-id=-1
"""
LINE = """
[line-crossing-stream-0]
enable=1
line-crossing-Exit=260;40;260;120;220;80;300;80
class-id=-1
"""
OVERCROWDING = """
[overcrowding-stream-0]
enable=1
roi-OC=170;150;300;150;300;230;170;230
object-threshold=1
class-id=-1
"""


def lit(image: np.ndarray) -> np.ndarray:
    return image.any(axis=2)


def test_box_is_drawn_on_the_object_outline_only() -> None:
    f = frame([car()])
    NvDsOsd(display_text=False).process(BatchMeta([f]))
    image = f.image
    assert image is not None
    colour = np.array(class_colour(2))
    for x, y in [(100, 80), (160, 80), (100, 120), (160, 120), (130, 80), (100, 100)]:
        assert (image[y, x] == colour).all(), (x, y)
    assert not image[90:111, 105:156].any(), "the inside of the box stays untouched"
    outline = np.zeros((H, W), bool)
    outline[78:123, 98:163] = True
    assert not lit(image)[~outline].any(), "nothing drawn away from the box"


def test_label_text_area_changes_pixels_and_display_flags_switch_it_off() -> None:
    with_text = frame([car()])
    NvDsOsd().process(BatchMeta([with_text]))
    assert with_text.image is not None
    above = with_text.image[55:79, 98:200]
    assert above.any(), "a label above the box"
    assert (above > 200).all(axis=2).sum() > 10, "white (anti-aliased) text on it"

    no_text = frame([car()])
    texts = NvDsOsd(display_text=False).draw(no_text)
    assert texts == []
    assert no_text.image is not None and not no_text.image[55:78, 98:200].any()

    no_box = frame([car()])
    NvDsOsd(display_bbox=False).process(BatchMeta([no_box]))
    assert no_box.image is not None
    assert not no_box.image[85:121, 95:165].any(), "no box, the label is above it"
    assert no_box.image[55:79, 98:200].any()


def test_label_goes_inside_the_box_at_the_top_edge() -> None:
    f = frame([car(top=0)])
    NvDsOsd().process(BatchMeta([f]))
    assert f.image is not None
    assert (f.image[2:14, 104:120] == 0).all(axis=2).any(), "black label background inside the box"


def test_untracked_objects_have_no_id() -> None:
    tracked, untracked = car(object_id=42), car(object_id=UNTRACKED_OBJECT_ID)
    assert object_text(tracked) == "car 42"
    assert object_text(untracked) == "car"
    assert object_text(ObjectMeta(class_id=5, confidence=1, left=0, top=0, width=1, height=1)) == "5"

    def label_width(obj: ObjectMeta) -> int:
        f = frame([obj])
        assert NvDsOsd().draw(f) == [object_text(obj)]
        assert f.image is not None
        columns = np.flatnonzero(lit(f.image[55:78]).any(axis=0))
        return int(columns[-1] - columns[0])

    assert label_width(untracked) < label_width(tracked)


def test_class_colours_are_stable_and_distinct() -> None:
    assert class_colour(0) == class_colour(0)
    colours = {class_colour(c) for c in range(12)}
    assert len(colours) == 12


def test_frames_without_image_are_skipped_and_every_frame_gets_a_latency_mark() -> None:
    osd = NvDsOsd(name="osd")
    with_image, without = frame([car()]), frame([car()], image=False)
    out = osd.process(BatchMeta([with_image, without], max_frames_in_batch=2))
    assert out.frames == [with_image, without]
    assert without.image is None
    assert osd.frames == 1
    for f in (with_image, without):
        assert len(f.latency) == 1
        name, t_in, t_out = f.latency[0]
        assert name == "osd" and t_in <= t_out


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_roi_is_drawn_only_with_osd_mode_above_zero(mode: int) -> None:
    element = analytics(ROI, osd_mode=mode)
    f = frame()
    texts = NvDsOsd(analytics=element).draw(f)
    assert f.image is not None
    edge = f.image[150, 60]  # on the polygon's top edge
    if mode == 0:
        assert not f.image.any()
        assert texts == []
    else:
        assert tuple(edge) == ROI_COLOUR
        assert texts == ["TL1"]  # no analytics meta on the frame: labels only
        assert not f.image[180:200, 60:120].any(), "outlined, not filled"


def test_osd_mode_two_shows_counts_and_object_status() -> None:
    element = analytics(ROI + LINE + OVERCROWDING, osd_mode=2)
    obj = car(left=40, top=170, w=30, h=30)
    obj.analytics = ObjectAnalytics(roi_status=["TL1"], lc_status=["Exit"])
    f = frame([obj])
    f.analytics = FrameAnalytics(
        obj_in_roi_cnt={"TL1": 3, "OC": 2},
        obj_lc_cum_cnt={"Exit": 12},
        oc_status={"OC": True},
    )
    texts = NvDsOsd(analytics=element).draw(f)
    assert "TL1=3" in texts
    assert "Exit=12" in texts
    assert "OC OverCrowding=True, Count=2" in texts
    assert "car 7 ROI:TL1 LC:Exit" in texts
    assert f.image is not None
    assert tuple(f.image[80, 240]) == LINE_COLOUR  # the counting line
    assert tuple(f.image[110, 260]) == LINE_COLOUR  # its direction arrow
    assert tuple(f.image[200, 300]) == OVERCROWDING_COLOUR  # right edge (the label covers the top)
    inverted = tuple(255 - c for c in class_colour(2))
    assert tuple(f.image[185, 40]) == inverted, "box colour inverted for an object in an ROI"


def test_osd_mode_one_shows_labels_without_counts_or_status() -> None:
    element = analytics(ROI + LINE, osd_mode=1)
    obj = car(left=40, top=170, w=30, h=30)
    obj.analytics = ObjectAnalytics(roi_status=["TL1"])
    f = frame([obj])
    f.analytics = FrameAnalytics(obj_in_roi_cnt={"TL1": 3}, obj_lc_cum_cnt={"Exit": 12})
    texts = NvDsOsd(analytics=element).draw(f)
    assert sorted(texts) == ["Exit ", "TL1", "car 7"]  # the plugin writes "%s " for a line
    assert f.image is not None
    assert tuple(f.image[185, 40]) == class_colour(2), "colour not inverted outside osd-mode 2"


def test_disabled_analytics_draws_nothing_of_its_own() -> None:
    element = analytics(ROI, osd_mode=2, enable=0)
    f = frame()
    assert NvDsOsd(analytics=element).draw(f) == []
    assert f.image is not None and not f.image.any()


def test_geometry_is_scaled_from_config_size_to_the_muxer() -> None:
    # The same ROI written for a config twice the muxer size lands at half the coordinates.
    element = analytics(
        """
        [roi-filtering-stream-0]
        enable=1
        roi-TL1=40;300;280;300;280;460;40;460
        """,
        osd_mode=1,
        width=2 * W,
        height=2 * H,
    )
    f = frame()
    NvDsOsd(analytics=element).draw(f)
    assert f.image is not None
    assert tuple(f.image[150, 60]) == ROI_COLOUR


def test_display_obj_cnt_writes_per_class_counts() -> None:
    config = parse_analytics_config(
        f"[property]\nenable=1\nconfig-width={W}\nconfig-height={H}\nosd-mode=0\ndisplay-obj-cnt=1\n", "x.txt"
    )
    f = frame()
    f.analytics = FrameAnalytics(obj_cnt={2: 3, 0: 1})
    texts = NvDsOsd(analytics=NvDsAnalytics(config, W, H)).draw(f)
    assert texts == ["Count for ClassId0=1 ClassId2=3"]


def test_arrow_head_points_back_along_the_shaft() -> None:
    (x3, y3), (x4, y4) = arrow_head(0, 0, 0, 100)
    assert y3 == y4 and 80 < y3 < 90, "15 % of the length back from the tip"
    assert x3 == -x4 != 0, "symmetric about the shaft"


# ================================================================================ NvOSD primitives


def rgba_frame() -> np.ndarray:
    image = np.zeros((H, W, 4), np.uint8)
    image[..., 3] = 255
    return image


def test_painter_rect_border_and_blended_background() -> None:
    image = rgba_frame()
    image[..., 2] = 200  # a blue frame
    Painter(image).rect(
        50, 40, 100, 60, border_width=3, border=(1.0, 0.0, 0.0, 1.0), background=(0.0, 1.0, 0.0, 0.5)
    )
    assert tuple(image[40, 100]) == (255, 0, 0, 255), "border in RGBA order"
    assert tuple(image[70, 100]) == (0, 128, 100, 255), "half green over blue inside"
    assert tuple(image[10, 10]) == (0, 0, 200, 255), "outside untouched"


def test_painter_border_width_zero_draws_no_outline() -> None:
    image = rgba_frame()
    Painter(image).rect(50, 40, 100, 60, border_width=0, border=(1.0, 0.0, 0.0, 1.0))
    assert not image[..., :3].any()


def test_painter_bgr_order_for_the_old_runtime() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    Painter(image, order="BGR").line(10, 10, 100, 10, width=2, colour=(1.0, 0.5, 0.0, 1.0))
    assert tuple(image[10, 50]) == (0, 128, 255)


def test_painter_text_background_and_font_size() -> None:
    small, large = rgba_frame(), rgba_frame()
    box_small = Painter(small).text(
        "Frame 1", 10, 12, font_size=10, colour=(1, 1, 1, 1), background=(0, 0, 0, 1)
    )
    box_large = Painter(large).text("Frame 1", 10, 12, font_size=20, colour=(1, 1, 1, 1))
    assert box_small[:2] == (10, 12)
    assert box_large[2] > box_small[2] and box_large[3] > box_small[3]
    x, y, w, h = box_small
    glyphs = small[y : y + h, x : x + w, :3]
    assert (glyphs > 128).all(axis=2).any(), "white glyphs"


def test_painter_arrow_heads_follow_the_head_direction() -> None:
    end_only, both = rgba_frame(), rgba_frame()
    Painter(end_only).arrow(20, 100, 220, 100, width=1, head=1, colour=(0, 1, 0, 1))
    Painter(both).arrow(20, 100, 220, 100, width=1, head=2, colour=(0, 1, 0, 1))
    (hx, hy), _ = arrow_head(20, 100, 220, 100)
    assert end_only[hy, hx, 1] == 255 and both[hy, hx, 1] == 255
    (sx, sy), _ = arrow_head(220, 100, 20, 100)  # the head at the start
    assert not end_only[sy, sx, 1] and both[sy, sx, 1] == 255


def test_painter_circle_and_mask() -> None:
    image = rgba_frame()
    painter = Painter(image)
    painter.circle(100, 100, 20, width=2, colour=(1, 0, 0, 1), background=(0, 0, 1, 1))
    assert tuple(image[100, 100]) == (0, 0, 255, 255) and image[100, 120, 0] == 255
    mask = np.zeros((4, 4), np.float32)
    mask[:, 2:] = 0.9  # the right half of the box
    painter.mask(200, 20, 40, 40, mask, threshold=0.5, colour=(0, 1, 0, 1), alpha=1.0)
    assert image[40, 235, 1] == 255 and image[40, 205, 1] == 0
