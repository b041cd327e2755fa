"""The synthetic traffic world: determinism, truth consistency, hand-checked counts, files, CLI."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli.world import world as world_cli
from harness.errors import HarnessError, ValidationError
from harness.ffmpeg import find_ffmpeg
from harness.world import (
    CLASS_NAMES,
    ScriptedVehicle,
    SpeedChange,
    World,
    WorldParams,
    generate,
    iter_world,
    load_preset,
    point_in_polygon,
    sample_video,
    segments_cross,
    write_world,
)
from harness.world.presets import PRESET_DIR, parse_preset

pytestmark = pytest.mark.unit

# Small frames keep the suite fast; the preset's pixel coordinates scale with the frame.
SMALL = {"width": 320, "height": 180}
STILL = {"noise": False, "lighting": False, "traffic": False}  # scripted scenes: nothing but the script


def _scripted(script: tuple[ScriptedVehicle, ...], seconds: float, **kw: object) -> World:
    return World(WorldParams(seed=0, seconds=seconds, width=640, height=360, script=script, **STILL, **kw))


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_frames_and_truth() -> None:
    a = generate(WorldParams(seed=7, seconds=1.0, shake=True, **SMALL))
    b = generate(WorldParams(seed=7, seconds=1.0, shake=True, **SMALL))
    assert a.frame_count == b.frame_count == 30
    assert a.frames_sha256 == b.frames_sha256
    assert a.recorder.gt_sha256() == b.recorder.gt_sha256()
    assert a.truth_document() == b.truth_document()
    assert a.gt_text.count("\n") > 30  # there is traffic to be deterministic about


def test_different_seed_differs() -> None:
    a = generate(WorldParams(seed=1, seconds=0.5, **SMALL))
    b = generate(WorldParams(seed=2, seconds=0.5, **SMALL))
    assert a.frames_sha256 != b.frames_sha256
    assert a.gt_text != b.gt_text


def test_noise_has_its_own_random_stream() -> None:
    """Switching noise off changes pixels, never the traffic."""
    noisy = generate(WorldParams(seed=4, seconds=0.5, **SMALL))
    clean = generate(WorldParams(seed=4, seconds=0.5, noise=False, **SMALL))
    assert noisy.gt_text == clean.gt_text
    assert noisy.frames_sha256 != clean.frames_sha256


# ----------------------------------------------------------------------------- truth consistency


def test_truth_is_consistent_frame_by_frame() -> None:
    w, h = 480, 270
    classes: dict[int, int] = {}
    frames_of: dict[int, list[int]] = defaultdict(list)
    bottoms: dict[int, list[tuple[str, float]]] = defaultdict(list)
    count = 0
    # Without shake: with it, a vehicle at the frame edge may legitimately blink in and out.
    for index, image, objects in iter_world(WorldParams(seed=3, seconds=4.0, width=w, height=h)):
        count += 1
        assert image.shape == (h, w, 3) and image.dtype == np.uint8
        ids = [o.id for o in objects]
        assert len(ids) == len(set(ids)), "an id appears twice in one frame"
        for o in objects:
            assert o.w > 0 and o.h > 0
            assert o.x >= 0 and o.x + o.w <= w and o.y >= 0 and o.y + o.h <= h
            assert 0.0 <= o.visibility <= 1.0
            assert o.class_name in CLASS_NAMES
            assert classes.setdefault(o.id, o.class_id) == o.class_id, "a vehicle changed class"
            frames_of[o.id].append(index)
            bottoms[o.id].append((o.direction, o.y + o.h))
    assert count == 120
    assert len(classes) >= 5
    for track, frames in frames_of.items():
        assert frames == list(range(frames[0], frames[-1] + 1)), f"id {track} has gaps"
    # Ids keep following the same vehicle: an inbound vehicle never moves up the image by more
    # than camera shake can explain, an outbound one never down.
    for series in bottoms.values():
        direction = series[0][0]
        for (_, prev), (_, cur) in itertools.pairwise(series):
            if cur < h and prev < h:
                step = cur - prev
                assert step > -6 if direction == "inbound" else step < 6


def test_shake_moves_truth_with_the_picture() -> None:
    still = list(iter_world(WorldParams(seed=5, seconds=1.0, noise=False, **SMALL)))
    shaken = list(iter_world(WorldParams(seed=5, seconds=1.0, noise=False, shake=True, **SMALL)))
    offsets = set()
    for a, b in zip(still, shaken, strict=True):
        inside = {o.id: o for o in a.objects if o.visibility == 1.0}
        deltas = {
            (o.x - inside[o.id].x, o.y - inside[o.id].y)
            for o in b.objects
            if o.id in inside and o.visibility == 1.0
        }
        assert len(deltas) <= 1, f"frame {a.index}: boxes moved by different amounts {deltas}"
        offsets |= deltas
    assert any(d != (0, 0) for d in offsets)
    assert all(abs(dx) <= 8 and abs(dy) <= 8 for dx, dy in offsets)


def test_visibility_measures_occlusion_and_frame_edge() -> None:
    # id 1 starts behind the bridge deck; id 5 (a truck) leaves at the bottom; id 6 tailgates it.
    script = (
        ScriptedVehicle("car", "inbound", lane=2, speed_kmh=90, start_z_m=100, id=1),
        ScriptedVehicle("truck", "inbound", lane=2, speed_kmh=60, start_z_m=42, id=5),
        ScriptedVehicle("car", "inbound", lane=2, speed_kmh=60, start_z_m=58.5, id=6),
    )
    seen: dict[int, list[float]] = defaultdict(list)
    for frame in _scripted(script, seconds=1.5).frames():
        for o in frame.objects:
            seen[o.id].append(o.visibility)
            if o.id == 5 and o.visibility < 1.0:
                assert o.y + o.h == 360, "a truck cut off by the frame is clipped to it"
    assert min(seen[1]) == 0.0 and seen[1][-1] == 1.0  # hidden by the deck, then clear
    assert max(seen[6][:10]) < 0.6  # the truck's body covers the car behind it
    assert seen[5][0] == 1.0 and seen[5][-1] < 0.5


# ----------------------------------------------------------------------------- hand-checked counts


def test_scripted_counts_match_a_hand_checked_scene() -> None:
    """At 640x360 the preset's counting line is y = 266 and the camera sees the ground at
    z = 800 * 25 / (y + 150) metres, so the line is at z = 48.08 m. The box bottom of an
    inbound vehicle is its front bumper on the ground.

    - id 1, car at 25 m/s from z = 90: z = 90 - 0.8333 (n - 1); frame 51 at 48.33 m
      (y 263.8), frame 52 at 47.50 m (y 271.1) -> crosses at frame 52.
    - id 2, truck at 20 m/s from z = 99.75: frame 78 at 48.42 m (y 263.0), frame 79 at
      47.75 m (y 268.8) -> crosses at frame 79.
    - id 3, outbound car: on the right half, never in the ROI, moves away from the line.
    - id 4, car at z = 60 (y 183, inside the ROI) that brakes to a stop at about 52 m:
      in the ROI from frame 1, never reaches the line.
    """
    stop = SpeedChange(at_s=0.3, speed_kmh=0, over_s=1.0)
    script = (
        ScriptedVehicle("car", "inbound", lane=1, speed_kmh=90, start_z_m=90, id=1),
        ScriptedVehicle("truck", "inbound", lane=1, speed_kmh=72, start_z_m=99.75, id=2),
        ScriptedVehicle("car", "outbound", lane=1, speed_kmh=80, start_z_m=45, id=3),
        ScriptedVehicle("car", "inbound", lane=2, speed_kmh=36, start_z_m=60, id=4, speed_changes=(stop,)),
    )
    world = _scripted(script, seconds=3.0)
    assert world.line == ((176, 266), (306, 266))
    truth = generate(world).truth
    assert truth["roi"]["entered_ids"] == [1, 2, 4]
    assert {e["id"]: e["frame"] for e in truth["roi"]["entries"]}[4] == 1
    assert truth["line"]["inbound"] == [
        {"id": 1, "class": "car", "frame": 52},
        {"id": 2, "class": "truck", "frame": 79},
    ]
    assert truth["roi"]["per_class"] == {"car": 2, "truck": 1, "bus": 0, "motorcycle": 0}
    assert truth["line"]["per_class"] == {"car": 1, "truck": 1, "bus": 0, "motorcycle": 0}
    assert [v["id"] for v in truth["vehicles"]] == [1, 2, 3, 4]
    assert truth["nvdsanalytics"] == {
        "roi-TL1": "148;350;304;350;310;158;214;158",
        "line-crossing-Exit": "240;250;240;285;176;266;306;266",
    }


def test_geometry_helpers() -> None:
    square = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
    assert point_in_polygon((5, 5), square)
    assert not point_in_polygon((15, 5), square)
    line = ((0.0, 5.0), (10.0, 5.0))
    assert segments_cross((5, 4), (5, 6), *line)
    assert segments_cross((5, 4), (5, 5), *line)  # arriving on the line counts once...
    assert not segments_cross((5, 5), (5, 6), *line)  # ...and leaving it does not count again
    assert not segments_cross((15, 4), (15, 6), *line)  # beside the segment
    assert not segments_cross((5, 1), (5, 4), *line)


def test_script_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown vehicle class 'tram'"):
        ScriptedVehicle("tram")
    with pytest.raises(HarnessError, match=r"inbound lane 3; the road has lanes 1\.\.2"):
        World(WorldParams(script=(ScriptedVehicle("car", lane=3),)))
    with pytest.raises(HarnessError, match="share track ids"):
        World(WorldParams(script=(ScriptedVehicle("car", id=1), ScriptedVehicle("bus", id=1))))


# ----------------------------------------------------------------------------- files


@pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg binary (imageio-ffmpeg or the system's)")
def test_h264_through_ffmpeg_decodes_with_opencv(tmp_path: Path) -> None:
    result = write_world(WorldParams(seed=2, seconds=0.5, **SMALL), tmp_path, codec="h264")
    cap = cv2.VideoCapture(str(tmp_path / "video.mp4"))
    assert cap.get(cv2.CAP_PROP_FOURCC) and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 320
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames == result.frame_count == 15
    assert json.loads((tmp_path / "truth.json").read_text())["video"]["codec"] == "h264"


def test_written_mp4_decodes_and_matches_truth(tmp_path: Path) -> None:
    result = write_world(WorldParams(seed=2, seconds=0.5, **SMALL), tmp_path)
    cap = cv2.VideoCapture(str(tmp_path / "video.mp4"))
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (180, 320, 3)
        frames += 1
    cap.release()
    assert frames == result.frame_count == 15
    document = json.loads((tmp_path / "truth.json").read_text())
    assert document["frame_count"] == 15 and document["fps"] == 30
    assert document["width"] == 320 and document["height"] == 180
    assert document["class_names"] == ["car", "truck", "bus", "motorcycle"]
    assert document["frames_sha256"] == result.frames_sha256
    assert document["roi"]["label"] == "TL1" and len(document["roi"]["polygon"]) == 4
    assert document["video"] == {"file": "video.mp4", "codec": "mp4v"}
    rows = (tmp_path / "gt.txt").read_text().splitlines()
    assert len(rows) == sum(v["frames"] for v in document["vehicles"])
    frame, track, _x, _y, _w, _h, conf, cls, vis = rows[0].split(",")
    assert int(frame) == 1 and int(track) >= 1 and conf == "1" and int(cls) in range(4)
    assert 0.0 <= float(vis) <= 1.0
    assert "seqLength = 15" in (tmp_path / "seqinfo.ini").read_text()
    assert not list(tmp_path.glob(".*")), "no temporary files are left behind"


def test_sample_video_is_cached(tmp_path: Path) -> None:
    params = WorldParams(seed=0, seconds=0.2, **SMALL)
    first = sample_video(tmp_path, params=params)
    assert first.name == "awsgg-example.mp4" and first.is_file()
    assert (first.parent / "truth.json").is_file()
    stamp = first.stat().st_mtime_ns
    again = sample_video(tmp_path, params=params)
    assert again == first and again.stat().st_mtime_ns == stamp
    other = sample_video(tmp_path, params=WorldParams(seed=1, seconds=0.2, **SMALL))
    assert other.parent != first.parent


# ----------------------------------------------------------------------------- presets


def test_shipped_preset_is_valid() -> None:
    preset = load_preset("highway")
    assert [c.name for c in preset.classes] == list(CLASS_NAMES)
    assert preset.roi_label == "TL1" and (preset.width, preset.height) == (1280, 720)


def _preset_error(tmp_path: Path, old: str, new: str) -> str:
    text = (PRESET_DIR / "highway.yaml").read_text()
    assert old in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new))
    with pytest.raises(ValidationError) as info:
        load_preset(path)
    return str(info.value)


def test_preset_errors_name_file_line_and_pointer(tmp_path: Path) -> None:
    text = (PRESET_DIR / "highway.yaml").read_text().splitlines()
    focal_line = next(i for i, line in enumerate(text, 1) if "focal_px" in line)
    message = _preset_error(tmp_path, "focal_px: 1600", "focal_px: long")
    assert f"bad.yaml:{focal_line}:3: error: at /camera/focal_px: 'long' is not of type 'number'" in message
    message = _preset_error(tmp_path, "kind: tree", "kind: shrub")
    assert "at /props/1/kind: kind 'shrub' is not one of ['bridge', 'tree', 'sign']" in message
    message = _preset_error(tmp_path, "- {name: truck,", "- {name: lorry,")
    assert "at /classes/1/name" in message
    message = _preset_error(tmp_path, "[296, 700]", "[296, 900]")
    assert "at /analytics/roi/polygon/0: point (296, 900) is outside the 1280x720 frame" in message


def test_malformed_preset_yaml_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nname: broken\nframe: {width: 1280, height: 720\ncamera: {}\n")
    expected = r"broken\.yaml:4:\d+: error: malformed YAML: .*starts at line 3"
    with pytest.raises(ValidationError, match=expected):
        parse_preset(path.read_text(), path)


# ----------------------------------------------------------------------------- CLI


def test_cli_make_writes_files_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["make", "--seed", "3", "--seconds", "0.5", "--out", str(out), "--width", "320", "--height", "180"]
    result = CliRunner().invoke(world_cli, [*args, "--no-noise", "--shake"])
    assert result.exit_code == 0, result.output
    for name in ("video.mp4", "gt.txt", "truth.json", "seqinfo.ini"):
        assert (out / name).is_file()
    assert "15 frames of 320x180 at 30 fps" in result.output
    for word in ("car", "truck", "bus", "motorcycle", "ROI TL1 entries", "inbound crossings (Exit)", "total"):
        assert word in result.output
    document = json.loads((out / "truth.json").read_text())
    assert document["parameters"]["noise_sigma"] == 0.0 and document["parameters"]["shake_px"] > 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--preset", "nowhere"], "error: unknown world preset 'nowhere'"),
        (["--seconds", "0"], "error: seconds must be a positive number, got 0.0"),
        (["--seconds", "-2"], "error: seconds must be a positive number, got -2.0"),
        (["--seconds", "nan"], "error: seconds must be a positive number, got nan"),
        (["--width", "321"], "error: width must be an even number of pixels from 64 to 7680, got 321"),
    ],
)
def test_cli_rejects_bad_input(tmp_path: Path, args: list[str], expected: str) -> None:
    result = CliRunner().invoke(world_cli, ["make", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists(), "nothing is written for bad input"


def test_cli_rejects_an_unwritable_out_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(world_cli, ["make", "--seconds", "0.1", "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert f"error: cannot create output directory {blocker / 'sub'}" in result.output


def test_cli_reports_a_malformed_preset(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nframe:\n  width: [1280\n")
    result = CliRunner().invoke(world_cli, ["make", "--preset", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "malformed YAML" in result.output


def test_cli_h264_without_ffmpeg_names_the_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.ffmpeg.find_ffmpeg", lambda: None)
    result = CliRunner().invoke(
        world_cli, ["make", "--seconds", "0.1", "--codec", "h264", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "needs the 'ffmpeg' binary" in result.output and "apt-get install ffmpeg" in result.output
