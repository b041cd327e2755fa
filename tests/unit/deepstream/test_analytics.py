"""nvdsanalytics emulation: config parsing and errors, ROI membership, line crossing, direction
detection, overcrowding and per-class counts, checked against hand-computed DeepStream results."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_device.deepstream.analytics import (
    LINE_CROSSING_RGBA,
    ROI_RGBA,
    AnalyticsConfig,
    NvDsAnalytics,
    analytics_overlay,
    load_analytics_config,
    parse_analytics_config,
    point_in_roi,
)
from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    BatchMeta,
    FrameAnalytics,
    FrameMeta,
    ObjectMeta,
)

REPO = Path(__file__).resolve().parents[3]
SEED_CONFIG = REPO / "scenarios" / "traffic" / "app" / "config_nvdsanalytics.txt"

HEAD = "[property]\nenable=1\nconfig-width=1280\nconfig-height=720\n"
FPS = 30


def config(body: str, head: str = HEAD) -> AnalyticsConfig:
    return parse_analytics_config(head + textwrap.dedent(body), "test.txt")


def box(
    x: float, bottom: float, *, w: int = 40, h: int = 40, class_id: int = 0, object_id: int = 1
) -> ObjectMeta:
    """A box whose fresh-track membership point is exactly (x, bottom) (even w and h)."""
    return ObjectMeta(
        class_id=class_id,
        confidence=0.9,
        left=x - w / 2,
        top=bottom - h,
        width=w,
        height=h,
        object_id=object_id,
    )


def frame(n: int, objects: list[ObjectMeta], *, source_id: int = 0, pts_offset_s: float = 0.0) -> FrameMeta:
    return FrameMeta(
        source_id=source_id,
        frame_num=n,
        ntp_timestamp=0,
        source_frame_width=1280,
        source_frame_height=720,
        buf_pts=int((n / FPS + pts_offset_s) * 1e9),
        objects=objects,
    )


def run(analytics: NvDsAnalytics, frames: list[FrameMeta]) -> list[FrameMeta]:
    for f in frames:
        analytics.process(BatchMeta(frames=[f]))
    return frames


def path_frames(points: list[tuple[float, float]], *, start: int = 0, **kw) -> list[FrameMeta]:
    """One object following ``points`` (membership point per frame), one frame each."""
    return [frame(start + i, [box(x, y, **kw)]) for i, (x, y) in enumerate(points)]


def lc_frames(frames: list[FrameMeta], label: str = "Exit") -> list[int]:
    """Indices of the frames where a line crossing was counted."""
    return [i for i, f in enumerate(frames) if f.analytics.obj_lc_curr_cnt.get(label)]


# --------------------------------------------------------------------------------------------
# Parser: good files


def test_seed_config_parses_to_the_world_regions() -> None:
    cfg = load_analytics_config(SEED_CONFIG)
    assert (cfg.enable, cfg.config_width, cfg.config_height) == (True, 1280, 720)
    stream = cfg.stream(0)
    (roi,) = stream.roi_filters
    assert roi.label == "TL1"
    assert roi.points == ((296, 700), (608, 700), (620, 315), (428, 315))
    assert (roi.enable, roi.inverse, roi.class_ids) == (True, False, (-1,))
    (line,) = stream.line_crossings
    assert line.label == "Exit"
    assert line.direction == ((480, 500), (480, 570))
    assert line.segment == ((353, 533), (613, 533))
    assert (line.mode, line.extended, line.enable) == ("balanced", False, True)


def test_defaults_are_deepstreams_parser_defaults(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        cfg = config(
            """
            [line-crossing-stream-0]
            line-crossing-A=10;10;10;30;0;20;100;20
            [direction-detection-stream-0]
            enable=1
            direction-S=1;1;1;9;
            [overcrowding-stream-3]
            enable=1
            roi-OC=0;0;10;0;10;10
            """
        )
    assert (cfg.osd_mode, cfg.display_font_size, cfg.obj_cnt_win_in_ms, cfg.display_obj_cnt) == (
        2,
        12,
        0,
        False,
    )
    (line,) = cfg.stream(0).line_crossings
    # No enable key: disabled; no mode: loose; no extended: extended (the code, not the docs).
    assert (line.enable, line.mode, line.extended, line.class_ids) == (False, "loose", True, ())
    assert "has no 'enable' key" in caplog.text
    (direction,) = cfg.stream(0).directions
    assert (direction.start, direction.end, direction.mode) == ((1, 1), (1, 9), "balanced")
    (oc,) = cfg.stream(3).overcrowding
    assert (oc.object_threshold, oc.time_threshold_ms) == (1, 2000)
    assert cfg.stream(7).roi_filters == ()


def test_key_file_syntax_comments_whitespace_lists_and_merged_groups() -> None:
    cfg = config(
        """
        # comment
           # indented comment

        [roi-filtering-stream-0]
          enable = true
        roi-A = 0;0;100;0;100;100;
        class-id=0;2
        [roi-filtering-stream-0]
        inverse-roi=1\r
        """
    )
    (roi,) = cfg.stream(0).roi_filters
    assert roi.points == ((0, 0), (100, 0), (100, 100))
    assert (roi.enable, roi.inverse, roi.class_ids) == (True, True, (0, 2))
    assert roi.line == 11  # 4 lines of [property], then this block


# --------------------------------------------------------------------------------------------
# Parser: errors name file, line, key and a fix

ROI_OK = "[roi-filtering-stream-0]\nenable=1\n"

BAD_CASES = [
    pytest.param(
        "[roi-filtering-stream-0]\nenable=1\nroi-A=0;0;1;1\n",
        0,
        ["group [property] not specified"],
        id="no-property",
    ),
    pytest.param(
        HEAD + "[roi-filtering-steam-0]\n", 5, ["unknown group", "roi-filtering-stream-0"], id="group-typo"
    ),
    pytest.param(HEAD + "[roi-filtering-stream-x]\n", 5, ["'x' is not a stream index"], id="stream-index"),
    pytest.param(
        HEAD + ROI_OK + "invers-roi=1\nroi-A=0;0;9;0;9;9\n",
        7,
        ["unknown key 'invers-roi'", "'inverse-roi'"],
        id="key-typo",
    ),
    pytest.param(
        HEAD + ROI_OK + "roi_A=0;0;9;0;9;9\n", 7, ["unknown key 'roi_A'", "'roi-A'"], id="prefix-typo"
    ),
    pytest.param(HEAD + "osd_mode=2\n", 5, ["unknown key 'osd_mode'", "'osd-mode'"], id="property-key-typo"),
    pytest.param(
        HEAD + ROI_OK + "roi-A=0;0;100;0\n", 7, ["roi-A has 2 points", "at least 3"], id="two-points"
    ),
    pytest.param(HEAD + ROI_OK + "roi-A=0;0;100;0;100\n", 7, ["5 numbers, an odd count"], id="odd-count"),
    pytest.param(
        HEAD + ROI_OK + "roi-A=0;0;100;0;1300;700\n",
        7,
        ["point 3 (1300, 700) is outside the 1280x720 frame", "config-width"],
        id="outside-frame",
    ),
    pytest.param(
        HEAD + ROI_OK + "roi-A=0;0;100;-5;10;10\n", 7, ["point 2 (100, -5) is outside"], id="negative"
    ),
    pytest.param(
        HEAD + ROI_OK + "roi-A=0;0;1.5;0;10;10\n", 7, ["item 3 '1.5' is not an integer"], id="float"
    ),
    pytest.param(HEAD + ROI_OK + "roi-A=0;;1;0;10;10\n", 7, ["item 2 '' is not an integer"], id="empty-item"),
    pytest.param(HEAD + ROI_OK + "roi-=0;0;1;0;1;1\n", 7, ["'roi-' has no label"], id="no-label"),
    pytest.param(HEAD + ROI_OK + "class-id=-2\nroi-A=0;0;1;0;1;1\n", 7, ["class-id -2"], id="class-id"),
    pytest.param(
        HEAD + ROI_OK + "inverse-roi=yes\nroi-A=0;0;1;0;1;1\n",
        7,
        ["'yes' is not a boolean", "lowercase"],
        id="bool",
    ),
    pytest.param(HEAD + ROI_OK, 5, ["no roi-<label> entry"], id="no-roi"),
    pytest.param(
        HEAD + "[line-crossing-stream-0]\nenable=1\nline-crossing-X=1;1;1;9;0;5;9\n",
        7,
        ["has 7 numbers", "exactly 8"],
        id="lc-seven",
    ),
    pytest.param(
        HEAD + "[line-crossing-stream-0]\nmode=medium\nline-crossing-X=1;1;1;9;0;5;9;5\n",
        6,
        ["unknown mode 'medium'", "strict, balanced or loose"],
        id="bad-mode",
    ),
    pytest.param(
        HEAD + "[line-crossing-stream-0]\nmode=balanced \nline-crossing-X=1;1;1;9;0;5;9;5\n",
        6,
        ["trailing whitespace", "fall back"],
        id="mode-trailing-space",
    ),
    pytest.param(
        HEAD + "[line-crossing-stream-0]\nline-crossing-X=0;5;9;5;0;6;9;6\n",
        6,
        ["parallel to the line"],
        id="parallel",
    ),
    pytest.param(
        HEAD + "[line-crossing-stream-0]\nline-crossing-X=1;1;1;9;5;5;5;5\n",
        6,
        ["line (last 4 numbers) has zero length"],
        id="zero-line",
    ),
    pytest.param(
        HEAD + "[direction-detection-stream-0]\ndirection-S=1;1;1\n",
        6,
        ["has 3 numbers", "exactly 4"],
        id="dir-three",
    ),
    pytest.param(
        HEAD + "[direction-detection-stream-0]\ndirection-S=1;1;1;1\n", 6, ["zero length"], id="dir-zero"
    ),
    pytest.param(
        HEAD + "[overcrowding-stream-0]\nobject-threshold=-1\nroi-A=0;0;1;0;1;1\n",
        6,
        ["object-threshold=-1 is out of range"],
        id="oc-threshold",
    ),
    pytest.param("[property]\nenable=1\nconfig-width=1280\n", 1, ["'config-height' missing"], id="no-height"),
    pytest.param(
        "[property]\nenable=1\nconfig-width=0\nconfig-height=9\n",
        3,
        ["config-width=0 is out of range"],
        id="width-0",
    ),
    pytest.param(HEAD + "osd-mode=3\n", 5, ["osd-mode=3 is out of range", "0..2"], id="osd-mode"),
    pytest.param(HEAD + "obj-cnt-win-in-ms=0\n", 5, ["obj-cnt-win-in-ms=0 is out of range"], id="win-0"),
    pytest.param("enable=1\n[property]\n", 1, ["key before the first group"], id="key-first"),
    pytest.param(HEAD + "just words\n", 5, ["neither a key=value pair"], id="not-kv"),
    pytest.param(HEAD + "[roi-filtering-stream-0\n", 5, ["malformed group header"], id="bad-header"),
    pytest.param(
        HEAD + "[roi-filtering-stream-0]\nroi-A=0;0;9;0;9;9\n[roi-filtering-stream-00]\nroi-A=0;0;9;0;9;9\n",
        8,
        ["label 'A' configured twice for stream 0", "line 6"],
        id="duplicate-label",
    ),
]


@pytest.mark.parametrize(("text", "line", "needles"), BAD_CASES)
def test_bad_configs_fail_at_file_and_line(tmp_path: Path, text: str, line: int, needles: list[str]) -> None:
    path = tmp_path / "config_nvdsanalytics.txt"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_analytics_config(path)
    err = info.value
    message = str(err)
    assert err.file == str(path)
    assert err.line == line
    assert message.startswith(f"{path}:{line}: " if line else f"{path}: ")
    for needle in needles:
        assert needle in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_analytics_config(tmp_path / "nope.txt")


def test_error_names_group_and_gives_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        config("[roi-filtering-stream-0]\nroi-A=0;0;100;0;100;721\n")
    assert "[roi-filtering-stream-0] roi-A: point 3 (100, 721)" in str(info.value)
    assert info.value.hint and "config-width x config-height" in info.value.hint
    assert "0 <= y <= 720" in info.value.expected


# --------------------------------------------------------------------------------------------
# ROI membership

SQUARE = "[roi-filtering-stream-0]\nenable=1\nroi-SQ=100;100;300;100;300;300;100;300\n"


def roi_of(analytics: NvDsAnalytics, obj: ObjectMeta, source_id: int = 0) -> list[str]:
    run(analytics, [frame(0, [obj], source_id=source_id)])
    return obj.analytics.roi_status if obj.analytics else []


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((200, 200), True),
        ((50, 200), False),
        ((200, 350), False),
        ((100, 200), True),  # left border is inside
        ((300, 200), False),  # right border is outside
        ((200, 100), True),  # top border is inside
        ((200, 300), False),  # bottom border is outside
        ((299, 299), True),
    ],
)
def test_membership_point_is_the_bottom_centre_of_a_new_track(point: tuple[int, int], inside: bool) -> None:
    analytics = NvDsAnalytics(config(SQUARE), 1280, 720)
    obj = box(*point)
    assert roi_of(analytics, obj) == (["SQ"] if inside else [])
    assert obj.analytics is None or obj.analytics.unique_id == 17


def test_frame_counts_list_every_enabled_roi() -> None:
    analytics = NvDsAnalytics(config(SQUARE + "roi-FAR=1000;0;1200;0;1200;100\n"), 1280, 720)
    objs = [box(150, 150, object_id=1), box(250, 250, object_id=2), box(600, 600, object_id=3)]
    (f,) = run(analytics, [frame(0, objs)])
    assert f.analytics.obj_in_roi_cnt == {"SQ": 2, "FAR": 0}
    assert f.analytics.obj_cnt == {0: 3}
    assert objs[2].analytics is None  # nothing found: no object meta, as the plugin does


def test_concave_polygon() -> None:
    u_shape = "100;100;200;100;200;250;300;250;300;100;400;100;400;400;100;400"
    analytics = NvDsAnalytics(config(f"[roi-filtering-stream-0]\nenable=1\nroi-U={u_shape}\n"), 1280, 720)
    assert roi_of(analytics, box(150, 150, object_id=1)) == ["U"]
    assert roi_of(analytics, box(250, 150, object_id=2)) == []  # in the notch
    assert roi_of(analytics, box(250, 300, object_id=3)) == ["U"]
    assert roi_of(analytics, box(350, 200, object_id=4)) == ["U"]


def test_inverse_roi_reports_objects_outside() -> None:
    analytics = NvDsAnalytics(config(SQUARE + "inverse-roi=1\n"), 1280, 720)
    assert roi_of(analytics, box(200, 200, object_id=1)) == []
    assert roi_of(analytics, box(600, 600, object_id=2)) == ["SQ"]


def test_class_filter() -> None:
    analytics = NvDsAnalytics(config(SQUARE + "class-id=0;2\n"), 1280, 720)
    objs = [box(200, 200, class_id=c, object_id=10 + c) for c in range(4)]
    (f,) = run(analytics, [frame(0, objs)])
    assert [bool(o.analytics) for o in objs] == [True, False, True, False]
    assert f.analytics.obj_in_roi_cnt == {"SQ": 2}
    assert f.analytics.obj_cnt == {0: 1, 1: 1, 2: 1, 3: 1}  # counts ignore the filters


def test_disabled_group_reports_nothing() -> None:
    analytics = NvDsAnalytics(config(SQUARE.replace("enable=1", "enable=0")), 1280, 720)
    obj = box(200, 200)
    (f,) = run(analytics, [frame(0, [obj])])
    assert obj.analytics is None
    assert f.analytics.obj_in_roi_cnt == {}


def test_disabled_element_passes_through() -> None:
    cfg = config(SQUARE, head=HEAD.replace("enable=1", "enable=0"))
    obj = box(200, 200)
    (f,) = run(NvDsAnalytics(cfg, 1280, 720), [frame(0, [obj])])
    assert f.analytics is None and obj.analytics is None


def test_coordinates_scale_from_config_size_to_muxer_size() -> None:
    analytics = NvDsAnalytics(config(SQUARE), 1920, 1080)
    assert analytics.geometry(0).rois[0].points == ((150, 150), (450, 150), (450, 450), (150, 450))
    # (400, 400) in muxer pixels is (266, 266) in config pixels: inside once scaled.
    assert roi_of(analytics, box(400, 400, object_id=1)) == ["SQ"]
    assert roi_of(analytics, box(120, 120, object_id=2)) == []
    half = NvDsAnalytics(config(SQUARE), 640, 360)
    assert half.geometry(0).rois[0].points == ((50, 50), (150, 50), (150, 150), (50, 150))
    assert roi_of(half, box(140, 140, object_id=1)) == ["SQ"]


def test_membership_uses_the_tracks_mean_height() -> None:
    # DeepStream adds half the *mean* height over the track's history to the box centre. A box
    # that shrinks from 100 to 40 px tall is tested 15 px below its own bottom on frame 2.
    analytics = NvDsAnalytics(
        config("[roi-filtering-stream-0]\nenable=1\nroi-R=0;250;600;250;600;400;0;400\n"), 1280, 720
    )
    first = box(300, 100, h=100, object_id=5)
    second = box(300, 240, h=40, object_id=5)
    fresh = box(300, 240, h=40, object_id=6)
    run(analytics, [frame(0, [first]), frame(1, [second, fresh])])
    assert second.analytics and second.analytics.roi_status == ["R"]  # tested at y = 255
    assert fresh.analytics is None  # tested at y = 240


def test_slanted_edge_truncation() -> None:
    # Edge (0,0)-(3,10) at y = 5 meets x = 1.5, truncated to 1: x = 1 is already inside.
    triangle = [(0, 0), (3, 10), (20, 10), (20, 0)]
    assert point_in_roi(triangle, 1, 5)
    assert not point_in_roi(triangle, 0, 5)


# --------------------------------------------------------------------------------------------
# Line crossing: horizontal line y = 300 from x = 100 to 500, counted downwards

LINE = "line-crossing-Exit=300;250;300;350;100;300;500;300\n"


def lc_config(mode: str = "balanced", extended: int | None = 0, extra: str = "") -> AnalyticsConfig:
    ext = "" if extended is None else f"extended={extended}\n"
    return config(f"[line-crossing-stream-0]\nenable=1\n{LINE}mode={mode}\n{ext}{extra}")


def down(x: float = 300, start: float = 150, step: float = 10, n: int = 30) -> list[tuple[float, float]]:
    return [(x, start + step * i) for i in range(n)]


@pytest.mark.parametrize("mode", ["loose", "balanced", "strict"])
def test_crossing_in_the_direction_counts_once(mode: str) -> None:
    frames = run(NvDsAnalytics(lc_config(mode), 1280, 720), path_frames(down(n=40)))
    # The bottom reaches y = 300 at frame 15 and passes it at frame 16. Loose mode counts
    # arriving on the line (side value >= 0); the others need a strict side change; strict also
    # needs more than 20 frames.
    expected = {"loose": 15, "balanced": 16, "strict": 20}[mode]
    assert lc_frames(frames) == [expected]
    assert frames[expected].objects[0].analytics.lc_status == ["Exit"]
    assert [f.analytics.obj_lc_cum_cnt["Exit"] for f in frames][expected - 1 : expected + 2] == [0, 1, 1]
    assert frames[-1].analytics.obj_lc_cum_cnt == {"Exit": 1}


@pytest.mark.parametrize("mode", ["loose", "balanced", "strict"])
def test_wrong_direction_does_not_count(mode: str) -> None:
    frames = run(NvDsAnalytics(lc_config(mode), 1280, 720), path_frames(down(start=440, step=-10, n=40)))
    assert lc_frames(frames) == []
    assert frames[-1].analytics.obj_lc_cum_cnt == {"Exit": 0}


@pytest.mark.parametrize("mode", ["loose", "balanced", "strict"])
def test_jitter_on_the_line_does_not_count(mode: str) -> None:
    points = [(300 + (i % 3), 296 + 8 * (i % 2)) for i in range(80)]
    frames = run(NvDsAnalytics(lc_config(mode), 1280, 720), path_frames(points))
    assert lc_frames(frames) == []


def test_young_tracks_only_count_in_loose_mode() -> None:
    # Crosses at frame 5 and is gone after 8 frames: loose needs > 3 frames, balanced > 10.
    points = down(start=200, step=20, n=8)
    assert lc_frames(run(NvDsAnalytics(lc_config("loose"), 1280, 720), path_frames(points))) == [5]
    assert lc_frames(run(NvDsAnalytics(lc_config("balanced"), 1280, 720), path_frames(points))) == []


def test_loose_mode_ignores_the_angle_balanced_does_not() -> None:
    # Mostly sideways (20 px right, 2 px down per frame): cos ≈ 0.1 to the direction.
    points = [(120 + 20 * i, 290 + 2 * i) for i in range(15)]
    assert lc_frames(run(NvDsAnalytics(lc_config("loose"), 1280, 720), path_frames(points))) == [5]
    assert lc_frames(run(NvDsAnalytics(lc_config("balanced"), 1280, 720), path_frames(points))) == []


def test_extended_counts_beyond_the_segment_ends() -> None:
    beyond = path_frames(down(x=700))
    assert lc_frames(run(NvDsAnalytics(lc_config(extended=0), 1280, 720), beyond)) == []
    assert lc_frames(run(NvDsAnalytics(lc_config(extended=1), 1280, 720), path_frames(down(x=700)))) == [16]
    # Without the key DeepStream's parser defaults to extended.
    assert lc_frames(run(NvDsAnalytics(lc_config(extended=None), 1280, 720), path_frames(down(x=700)))) == [
        16
    ]


def test_a_box_corner_over_the_segment_is_enough() -> None:
    # Centre at x = 520 (past the end at 500), but the 60 px box's left corner path is at 490.
    frames = path_frames(down(x=520), w=60)
    assert lc_frames(run(NvDsAnalytics(lc_config(extended=0), 1280, 720), frames)) == [16]


def test_cumulative_counts_per_line_and_stream() -> None:
    analytics = NvDsAnalytics(lc_config(), 1280, 720)
    frames = []
    for i in range(60):
        objs = [box(200, 150 + 10 * i, object_id=1)]
        if i >= 20:
            objs.append(box(400, 150 + 10 * (i - 20), object_id=2))
        objs.append(box(250, 590 - 10 * i, object_id=3))  # against the direction
        frames.append(frame(i, objs))
    run(analytics, frames)
    assert lc_frames(frames) == [16, 36]
    cum = [f.analytics.obj_lc_cum_cnt["Exit"] for f in frames]
    assert cum[15:17] == [0, 1] and cum[35:37] == [1, 2] and cum[-1] == 2
    assert sum(f.analytics.obj_lc_curr_cnt["Exit"] for f in frames) == 2


def test_each_source_has_its_own_history_and_totals() -> None:
    body = f"[line-crossing-stream-0]\nenable=1\n{LINE}[line-crossing-stream-1]\nenable=1\n{LINE}"
    analytics = NvDsAnalytics(config(body), 1280, 720)
    frames0 = [frame(i, [box(x, y)], source_id=0) for i, (x, y) in enumerate(down())]
    frames1 = [frame(i, [box(x, y)], source_id=1) for i, (x, y) in enumerate(down(start=500, step=-10))]
    frames2 = [frame(i, [box(x, y)], source_id=2) for i, (x, y) in enumerate(down())]
    for f0, f1, f2 in zip(frames0, frames1, frames2, strict=True):
        analytics.process(BatchMeta(frames=[f0, f1, f2], max_frames_in_batch=3))
    assert frames0[-1].analytics.obj_lc_cum_cnt == {"Exit": 1}
    assert frames1[-1].analytics.obj_lc_cum_cnt == {"Exit": 0}
    assert frames2[-1].analytics.obj_lc_cum_cnt == {}  # no group for source 2
    assert frames2[-1].analytics.obj_cnt == {0: 1}


def test_a_track_counts_once_even_when_it_recrosses() -> None:
    points = down(n=25) + [(300, 390 - 20 * i) for i in range(10)] + down(start=200, n=20)
    frames = run(NvDsAnalytics(lc_config("loose", extended=1), 1280, 720), path_frames(points))
    assert lc_frames(frames) == [15]


def test_history_times_out_after_8_s_of_pts() -> None:
    analytics = NvDsAnalytics(lc_config(), 1280, 720)
    first = path_frames(down())
    run(analytics, first)
    # The same id comes back 2 s later: its history (and "already counted") is still there.
    soon = [frame(i, [box(x, y)], pts_offset_s=2) for i, (x, y) in enumerate(down())]
    run(analytics, soon)
    assert lc_frames(soon) == []
    # 9 s after it was last seen it is a new track to nvdsanalytics and counts again.
    later = [frame(i, [box(x, y)], pts_offset_s=12) for i, (x, y) in enumerate(down())]
    run(analytics, later)
    assert lc_frames(later) == [16]
    assert later[-1].analytics.obj_lc_cum_cnt == {"Exit": 2}


def test_reload_forgets_histories_and_totals() -> None:
    analytics = NvDsAnalytics(lc_config(), 1280, 720)
    run(analytics, path_frames(down()))
    analytics.reload(lc_config("loose"))
    again = run(analytics, path_frames(down(), start=30))
    assert lc_frames(again) == [15]
    assert again[-1].analytics.obj_lc_cum_cnt == {"Exit": 1}


def test_untracked_objects_are_not_counted_and_disable_the_line(caplog: pytest.LogCaptureFixture) -> None:
    analytics = NvDsAnalytics(lc_config(), 1280, 720)
    untracked = path_frames(down(), object_id=UNTRACKED_OBJECT_ID)
    with caplog.at_level(logging.WARNING):
        run(analytics, untracked)
    assert lc_frames(untracked) == []
    assert "untracked object reached line 'Exit'" in caplog.text
    assert analytics.geometry(0).lines[0].enable is False
    # As in DeepStream, the line stays disabled for the source, but is still reported.
    tracked = path_frames(down(), start=30, object_id=7)
    run(analytics, tracked)
    assert lc_frames(tracked) == []
    assert tracked[-1].analytics.obj_lc_curr_cnt == {"Exit": 0}


def test_class_filter_on_lines() -> None:
    frames = path_frames(down(), class_id=1)
    assert lc_frames(run(NvDsAnalytics(lc_config(extra="class-id=0\n"), 1280, 720), frames)) == []
    frames = path_frames(down(), class_id=1)
    assert lc_frames(run(NvDsAnalytics(lc_config(extra="class-id=0;1\n"), 1280, 720), frames)) == [16]


def test_seed_config_counts_an_inbound_vehicle() -> None:
    analytics = NvDsAnalytics(load_analytics_config(SEED_CONFIG), 1280, 720)
    # A car coming down the inbound lanes at 6 px/frame through the ROI and over the line.
    frames = path_frames([(500, 320 + 6 * i) for i in range(60)], w=60, h=40)
    run(analytics, frames)
    roi = [bool(f.analytics.obj_in_roi_cnt["TL1"]) for f in frames]
    assert roi[0] and all(roi)
    assert lc_frames(frames) == [36]  # bottom at 536, first past y = 533


# --------------------------------------------------------------------------------------------
# Direction detection


DIRECTIONS = (
    "[direction-detection-stream-0]\nenable=1\n"
    "direction-South=300;100;300;200\n"  # down the image
    "direction-East=100;100;200;100\n"
)


def dir_statuses(frames: list[FrameMeta]) -> list[str]:
    return [f.objects[0].analytics.dir_status if f.objects[0].analytics else "" for f in frames]


def test_direction_after_enough_frames_and_displacement() -> None:
    frames = run(NvDsAnalytics(config(DIRECTIONS), 1280, 720), path_frames(down(n=20)))
    statuses = dir_statuses(frames)
    assert statuses[:10] == [""] * 10  # needs more than 10 frames
    assert set(statuses[10:]) == {" DIR:South "}


def test_diagonal_motion_matches_both_directions_within_60_degrees() -> None:
    frames = run(
        NvDsAnalytics(config(DIRECTIONS), 1280, 720),
        path_frames([(100 + 10 * i, 100 + 10 * i) for i in range(20)]),
    )
    assert dir_statuses(frames)[-1] == " DIR:South  DIR:East "


def test_opposite_motion_has_no_direction() -> None:
    frames = run(NvDsAnalytics(config(DIRECTIONS), 1280, 720), path_frames(down(start=500, step=-10, n=20)))
    assert set(dir_statuses(frames)) == {""}


def test_stopped_track_gets_meta_without_direction() -> None:
    # obj-cnt-win-in-ms also sets the history length (5 samples here); a track that has stood
    # still for longer than that is "STOPPED": object meta without any label.
    cfg = config(DIRECTIONS, head=HEAD + "obj-cnt-win-in-ms=5\n")
    frames = run(NvDsAnalytics(cfg, 1280, 720), path_frames([(300, 300)] * 8))
    metas = [f.objects[0].analytics for f in frames]
    assert metas[:5] == [None] * 5
    assert all(m is not None and m.dir_status == "" and m.roi_status == [] for m in metas[5:])
    assert {m.obj_status for m in metas[5:]} == {" STOPPED "}  # objStatus says it


def test_obj_status_is_the_plugins_status_string() -> None:
    frames = run(NvDsAnalytics(config(DIRECTIONS), 1280, 720), path_frames(down(n=12)))
    assert frames[-1].objects[0].analytics.obj_status == " DIR:South "


# --------------------------------------------------------------------------------------------
# Overcrowding and per-class counts


def test_overcrowding_threshold() -> None:
    cfg = config(
        "[overcrowding-stream-0]\nenable=1\nroi-OC=100;100;300;100;300;300;100;300\nobject-threshold=2\n"
    )
    analytics = NvDsAnalytics(cfg, 1280, 720)
    one = frame(0, [box(200, 200, object_id=1), box(600, 600, object_id=2)])
    two = frame(1, [box(200, 200, object_id=1), box(250, 250, object_id=3)])
    none = frame(2, [])
    run(analytics, [one, two, none])
    assert (one.analytics.oc_status, one.analytics.obj_in_roi_cnt) == ({"OC": False}, {"OC": 1})
    assert (two.analytics.oc_status, two.analytics.obj_in_roi_cnt) == ({"OC": True}, {"OC": 2})
    assert (none.analytics.oc_status, none.analytics.obj_in_roi_cnt) == ({"OC": False}, {"OC": 0})
    assert one.objects[0].analytics.oc_status == ["OC"] and one.objects[1].analytics is None
    assert all(o.analytics.oc_status == ["OC"] for o in two.objects)


def test_object_counts_are_smoothed_over_the_window() -> None:
    cfg = config("", head=HEAD + "obj-cnt-win-in-ms=1000\n")
    analytics = NvDsAnalytics(cfg, 1280, 720)
    per_frame = [2, 2, 2, 3, 2, 2, 3, 3, 3, 3, 3]
    frames = [
        frame(i, [box(100 * k, 300, object_id=k) for k in range(1, n + 1)]) for i, n in enumerate(per_frame)
    ]
    run(analytics, frames)
    # The most frequent count in the last second; at frame 9 it is 5 against 5 and the latest wins.
    assert [f.analytics.obj_cnt[0] for f in frames] == [2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3]
    # A class that disappears keeps being reported, smoothed towards 0.
    gone = [frame(20 + i, []) for i in range(40)]
    run(analytics, gone)
    assert gone[0].analytics.obj_cnt == {0: 3} and gone[-1].analytics.obj_cnt == {0: 0}


def test_default_window_follows_the_current_count_at_30_fps() -> None:
    analytics = NvDsAnalytics(config(""), 1280, 720)
    per_frame = [1, 2, 1, 3, 3]
    frames = [
        frame(i, [box(100 * k, 300, object_id=k) for k in range(1, n + 1)]) for i, n in enumerate(per_frame)
    ]
    run(analytics, frames)
    assert [f.analytics.obj_cnt[0] for f in frames] == per_frame


# --------------------------------------------------------------------------------------------
# Properties

coords = st.integers(min_value=0, max_value=200)
polygons = st.lists(st.tuples(coords, coords), min_size=3, max_size=8)


@given(polygons, coords, coords, st.integers(min_value=0, max_value=7))
def test_membership_is_invariant_under_vertex_rotation_and_reversal(
    polygon: list[tuple[int, int]], x: int, y: int, shift: int
) -> None:
    shift %= len(polygon)
    rotated = polygon[shift:] + polygon[:shift]
    expected = point_in_roi(polygon, x, y)
    assert point_in_roi(rotated, x, y) == expected
    assert point_in_roi(rotated[::-1], x, y) == expected


@given(coords, coords, st.integers(1, 100), st.integers(1, 100), coords, coords)
def test_rectangles_are_half_open(x0: int, y0: int, w: int, h: int, x: int, y: int) -> None:
    rect = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    assert point_in_roi(rect, x, y) == (x0 <= x < x0 + w and y0 <= y < y0 + h)


steps = st.lists(st.tuples(st.integers(-25, 25), st.integers(-25, 40)), min_size=5, max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(50, 550), st.integers(150, 450), steps), min_size=1, max_size=4),
    st.sampled_from(["loose", "balanced", "strict"]),
    st.sampled_from([0, 1]),
)
def test_each_track_counts_at_most_once_per_line(
    tracks: list[tuple[int, int, list[tuple[int, int]]]], mode: str, extended: int
) -> None:
    analytics = NvDsAnalytics(lc_config(mode, extended), 1280, 720)
    length = max(len(s) for _, _, s in tracks)
    counted: dict[int, int] = {}
    positions = [[x, y] for x, y, _ in tracks]
    total_now = 0
    for i in range(length):
        objs = []
        for k, (_, _, walk) in enumerate(tracks):
            if i < len(walk):
                positions[k][0] = min(max(positions[k][0] + walk[i][0], 20), 1260)
                positions[k][1] = min(max(positions[k][1] + walk[i][1], 40), 700)
                objs.append(box(*positions[k], object_id=k + 1))
        (f,) = run(analytics, [frame(i, objs)])
        total_now += f.analytics.obj_lc_curr_cnt["Exit"]
        for obj in objs:
            if obj.analytics and "Exit" in obj.analytics.lc_status:
                counted[obj.object_id] = counted.get(obj.object_id, 0) + 1
        assert f.analytics.obj_lc_cum_cnt["Exit"] == total_now
    assert all(n == 1 for n in counted.values())
    assert total_now == len(counted) <= len(tracks)


# ================================================================================ display meta


OVERLAY_BODY = """
[roi-filtering-stream-0]
enable=1
roi-TL1=100;100;300;100;300;300;100;300
[line-crossing-stream-0]
enable=1
line-crossing-Exit=600;100;600;300;500;200;700;200
[direction-detection-stream-0]
enable=1
direction-North=900;400;900;200
"""


def test_overlay_osd_mode_two_has_counts_and_muxer_coordinates() -> None:
    # the config is written for half the muxer size: the overlay comes out in muxer pixels
    half = """
    [roi-filtering-stream-0]
    enable=1
    roi-TL1=50;50;150;50;150;150;50;150
    [line-crossing-stream-0]
    enable=1
    line-crossing-Exit=300;50;300;150;250;100;350;100
    [direction-detection-stream-0]
    enable=1
    direction-North=450;200;450;100
    """
    head = "[property]\nenable=1\nconfig-width=640\nconfig-height=360\ndisplay-obj-cnt=1\n"
    element = NvDsAnalytics(config(half, head), 1280, 720)
    counts = FrameAnalytics(obj_cnt={2: 3, 0: 1}, obj_in_roi_cnt={"TL1": 2}, obj_lc_cum_cnt={"Exit": 7})
    overlay = analytics_overlay(element, 0, counts)
    texts = [(t.text, t.x, t.y) for t in overlay.texts]
    assert texts == [
        ("Count for ClassId0=1 ClassId2=3", 5, 5),
        ("TL1=2", 100, 100),  # x of the first point, y of the second, scaled ×2
        ("North", 900, 400),
        ("Exit=7", 700, 200),  # the line's second point
    ]
    roi_lines = [(ln.x1, ln.y1, ln.x2, ln.y2) for ln in overlay.lines if ln.colour == ROI_RGBA]
    assert roi_lines == [
        (100, 100, 300, 100),
        (300, 100, 300, 300),
        (300, 300, 100, 300),
        (100, 300, 100, 100),
    ]
    green = [ln for ln in overlay.lines if ln.colour == LINE_CROSSING_RGBA]
    assert len(green) == 4  # direction shaft, two head strokes, the line
    assert (green[-1].x1, green[-1].y1, green[-1].x2, green[-1].y2) == (500, 200, 700, 200)


def test_overlay_osd_mode_one_labels_only_and_mode_zero_nothing() -> None:
    counts = FrameAnalytics(obj_in_roi_cnt={"TL1": 2}, obj_lc_cum_cnt={"Exit": 7})
    one = analytics_overlay(NvDsAnalytics(config(OVERLAY_BODY, HEAD + "osd-mode=1\n"), 1280, 720), 0, counts)
    assert [t.text for t in one.texts] == ["TL1", "North", "Exit "]
    zero = analytics_overlay(NvDsAnalytics(config(OVERLAY_BODY, HEAD + "osd-mode=0\n"), 1280, 720), 0, counts)
    assert zero.texts == [] and zero.lines == []
