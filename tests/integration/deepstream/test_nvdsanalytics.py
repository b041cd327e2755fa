"""nvdsanalytics as a GStreamer element: DeepStream's properties, NVMM caps, the user meta and
display meta on buffers that pass through it (read the way the seed app's probe reads them), and
config errors as ERROR messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_feed import Detection, batch_meta, nvmm_rgba, run

from fake_device.deepstream import cmemory
from fake_device.deepstream.gst.carrier import attach_batch_meta
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import GObject, Gst
from fake_device.deepstream.meta import (
    NvDsBatchMeta,
    NvDsDisplayMeta,
    NvDsFrameMeta,
    NvDsObjectMeta,
    NvDsUserMeta,
    nvds_get_user_meta_type,
)
from fake_device.deepstream.meta_analytics import NvDsAnalyticsFrameMeta, NvDsAnalyticsObjInfo

REPO = Path(__file__).resolve().parents[3]
SEED_CONFIG = REPO / "scenarios" / "traffic" / "app" / "config_nvdsanalytics.txt"

# frames are 320x240; the config is written for 640x480, so everything is scaled by 1/2
CONFIG = """[property]
enable=1
config-width=640
config-height=480
osd-mode={osd_mode}
display-font-size=12

[roi-filtering-stream-0]
enable=1
roi-TL1=0;0;320;0;320;480;0;480
class-id=-1

[line-crossing-stream-0]
enable=1
line-crossing-Exit=400;100;500;100;420;0;420;480
class-id=-1
mode=loose
"""


@pytest.fixture(scope="module", autouse=True)
def _elements() -> None:
    register_all()


def _config(tmp_path: Path, osd_mode: int = 2, text: str | None = None) -> Path:
    path = tmp_path / "config_nvdsanalytics.txt"
    path.write_text(text if text is not None else CONFIG.format(osd_mode=osd_mode))
    return path


def _tracked(batch: NvDsBatchMeta, ids: list[int]) -> NvDsBatchMeta:
    for obj, object_id in zip(batch.frames[0].objects, ids, strict=True):
        obj.object_id = object_id
    return batch


def _crossing(frames: int = 12) -> list[NvDsBatchMeta]:
    """A tracked car moving right across x=210 (the line, scaled), starting inside TL1 (x<160)."""
    return [
        _tracked(batch_meta([(0, n, [Detection((100.0 + 10 * n, 100.0, 20.0, 20.0))])], 320, 240), [7])
        for n in range(frames)
    ]


def _user_metas(node: object, descriptor: str) -> list:
    """What the seed app's probe does: walk a user meta list, keep the given type, cast."""
    wanted = nvds_get_user_meta_type(descriptor)
    found = []
    while node is not None:
        user_meta = NvDsUserMeta.cast(node.data)
        if user_meta.base_meta.meta_type == wanted:
            found.append(user_meta.user_meta_data)
        node = node.next
    return found


def _obj_info(obj: NvDsObjectMeta) -> list[NvDsAnalyticsObjInfo]:
    return [
        NvDsAnalyticsObjInfo.cast(d)
        for d in _user_metas(obj.obj_user_meta_list, "NVIDIA.DSANALYTICSOBJ.USER_META")
    ]


def _frame_info(frame: NvDsFrameMeta) -> list[NvDsAnalyticsFrameMeta]:
    return [
        NvDsAnalyticsFrameMeta.cast(d)
        for d in _user_metas(frame.frame_user_meta_list, "NVIDIA.DSANALYTICSFRAME.USER_META")
    ]


# -- properties and caps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gtype", "default"),
    [
        ("unique-id", GObject.TYPE_UINT, 17),
        ("enable", GObject.TYPE_BOOLEAN, True),
        ("config-file", GObject.TYPE_STRING, None),
        ("gpu-id", GObject.TYPE_UINT, 0),
    ],
)
def test_properties(name: str, gtype: GObject.GType, default: object) -> None:
    element = Gst.ElementFactory.make("nvdsanalytics", None)
    spec = element.find_property(name)
    assert spec.value_type == gtype and spec.default_value == default
    assert element.get_property(name) == default


def test_pads_take_nvmm_nv12_and_rgba() -> None:
    for template in Gst.ElementFactory.find("nvdsanalytics").get_static_pad_templates():
        caps = template.get_caps()
        assert caps.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "NV12")))
        assert caps.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "RGBA")))
        assert not caps.can_intersect(Gst.Caps.from_string(nvmm_rgba(64, 48, "I420")))


def test_config_enable_sets_the_property_as_deepstreams_parser_does(tmp_path: Path) -> None:
    element = Gst.ElementFactory.make("nvdsanalytics", None)
    disabled = CONFIG.format(osd_mode=2).replace("enable=1", "enable=0", 1)
    element.set_property("config-file", str(_config(tmp_path, text=disabled)))
    assert element.get_property("enable") is False


# -- metadata --------------------------------------------------------------------------------------


def test_object_and_frame_user_meta_as_the_seed_app_reads_them(tmp_path: Path) -> None:
    out = run(f"nvdsanalytics config-file={_config(tmp_path)}", _crossing())
    assert out.errors == []
    roi, crossings, frames = [], [], []
    for meta in out.metas:
        frame = meta.frames[0]
        infos = _obj_info(frame.objects[0])
        roi.append(infos[0].roiStatus if infos else [])
        crossings.append(infos[0].lcStatus if infos else [])
        (counts,) = _frame_info(frame)
        frames.append((counts.objInROIcnt["TL1"], counts.objLCCurrCnt["Exit"], counts.objLCCumCnt["Exit"]))
        assert counts.unique_id == 17 and counts.objCnt == {0: 1}
    inside = [x + 10 < 160 for x in (100 + 10 * n for n in range(12))]  # bottom-centre x < 160
    assert [r == ["TL1"] for r in roi] == inside
    first = next(i for i, c in enumerate(crossings) if c)
    assert crossings[first] == ["Exit"] and not any(crossings[first + 1 :]), "a track counts once"
    assert frames[first][1:] == (1, 1) and frames[-1][1:] == (0, 1)


def test_osd_mode_two_display_meta_and_object_text(tmp_path: Path) -> None:
    out = run(f"nvdsanalytics config-file={_config(tmp_path)} unique-id=5", _crossing(2))
    frame = out.metas[0].frames[0]
    texts, lines = [], []
    node = frame.display_meta_list
    while node is not None:
        display = NvDsDisplayMeta.cast(node.data)
        texts += [
            (cmemory.string_at(t.display_text), t.x_offset, t.y_offset) for t in display.used("text_params")
        ]
        lines += [(ln.x1, ln.y1, ln.x2, ln.y2) for ln in display.used("line_params")]
        node = node.next
    assert texts == [("TL1=1", 0, 0), ("Exit=0", 210, 240)]
    assert (0, 0, 160, 0) in lines and (210, 0, 210, 240) in lines  # ROI edge, the counting line
    assert len(lines) == 4 + 4  # the ROI's 4 edges; the line, its arrow shaft and head
    car = frame.objects[0]
    assert cmemory.string_at(car.text_params.display_text) == "car  ROI:TL1"
    assert (car.rect_params.border_color.red, car.rect_params.border_color.green) == (0.0, 1.0), "inverted"
    assert _obj_info(car)[0].unique_id == 5


def test_osd_mode_zero_adds_no_display_meta_and_keeps_texts(tmp_path: Path) -> None:
    out = run(f"nvdsanalytics config-file={_config(tmp_path, osd_mode=0)}", _crossing(2))
    frame = out.metas[0].frames[0]
    assert frame.display_meta_list is None
    assert cmemory.string_at(frame.objects[0].text_params.display_text) == "car"
    assert _obj_info(frame.objects[0])[0].roiStatus == ["TL1"]


def test_enable_false_passes_buffers_through_without_meta(tmp_path: Path) -> None:
    out = run(f"nvdsanalytics config-file={_config(tmp_path)} enable=false", _crossing(2))
    assert out.errors == [] and len(out.metas) == 2
    assert all(_frame_info(m.frames[0]) == [] and _obj_info(m.frames[0].objects[0]) == [] for m in out.metas)


def test_the_seed_apps_config_runs() -> None:
    out = run(f"nvdsanalytics config-file={SEED_CONFIG}", _crossing(3), width=1280, height=720)
    assert out.errors == []
    assert all(len(_frame_info(m.frames[0])) == 1 for m in out.metas)


# -- errors ----------------------------------------------------------------------------------------


def test_config_error_is_an_error_message_with_file_line_and_hint(tmp_path: Path) -> None:
    broken = CONFIG.format(osd_mode=2).replace("class-id=-1\n\n", "invers-roi=1\n\n", 1)
    path = _config(tmp_path, text=broken)
    out = run(f"nvdsanalytics config-file={path}", _crossing(1))
    assert len(out.errors) == 1
    text = out.errors[0]
    assert f"config-file: {path}:11: [roi-filtering-stream-0] unknown key 'invers-roi'" in text
    assert "did you mean 'inverse-roi'" in text
    assert out.metas == []


def test_missing_config_file_property_is_an_error() -> None:
    out = run("nvdsanalytics", _crossing(1))
    assert len(out.errors) == 1 and "Configuration file not provided" in out.errors[0]


def test_a_config_file_that_does_not_exist(tmp_path: Path) -> None:
    out = run(f"nvdsanalytics config-file={tmp_path / 'nope.txt'}", _crossing(1))
    assert len(out.errors) == 1 and "nope.txt" in out.errors[0]


def test_a_broken_config_set_while_playing_fails_the_next_buffer(tmp_path: Path) -> None:
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps={nvmm_rgba(320, 240)} "
        f"! nvdsanalytics name=analytics config-file={_config(tmp_path)} ! fakesink"
    )
    src, analytics = pipeline.get_by_name("src"), pipeline.get_by_name("analytics")
    broken = tmp_path / "broken.txt"
    broken.write_text("[property]\nenable=1\nconfig-width=0\nconfig-height=480\n")
    try:
        pipeline.set_state(Gst.State.PLAYING)
        for n, meta in enumerate(_crossing(2)):
            if n == 1:
                analytics.set_property("config-file", str(broken))
            buffer = Gst.Buffer.new_wrapped(bytes(320 * 240 * 4))
            buffer.pts = n * Gst.SECOND // 30
            attach_batch_meta(buffer, meta)
            src.emit("push-buffer", buffer)
        src.emit("end-of-stream")
        ended = Gst.MessageType.EOS | Gst.MessageType.ERROR
        message = pipeline.get_bus().timed_pop_filtered(30 * Gst.SECOND, ended)
    finally:
        pipeline.set_state(Gst.State.NULL)
    assert message is not None and message.type == Gst.MessageType.ERROR
    assert f"config-file: {broken}:3:" in message.parse_error()[0].message
