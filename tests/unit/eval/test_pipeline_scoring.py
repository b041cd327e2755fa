"""Scoring a pipeline run against the world's truth: tracking, ROI membership, counting, latency.

Every case is built from the world's own truth with a known change (ids swapped, rows dropped, a
phantom object added), so the expected figure can be computed by hand rather than trusted to
py-motmetrics. The messages are made by the emulated nvmsgconv, so the object strings are the
ones a DeepStream app sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fake_device.deepstream.meta import UNTRACKED_OBJECT_ID, FrameMeta, ObjectAnalytics, ObjectMeta
from fake_device.deepstream.msgconv import EventMsg, NvMsgConv, VehicleObject
from harness.errors import HarnessError
from harness.eval import TrackRow, TrackWriter, WorldTruth, load_world_truth, read_tracks, score_pipeline
from harness.eval.pipeline import parse_object_string, score_tracking
from harness.world import CLASS_NAMES, WorldParams, write_world

pytestmark = pytest.mark.unit

FPS = 15
BASE_NS = 1_700_000_000_000_000_000  # whole milliseconds: @timestamp keeps them exactly


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 6 s at 15 fps: 90 frames, so every-30th-frame messages land on 3 frames with vehicles in TL1
    out = tmp_path_factory.mktemp("world")
    write_world(WorldParams(seed=3, seconds=6, width=640, height=360, fps=FPS), out)
    return out


@pytest.fixture(scope="module")
def truth(world: Path) -> WorldTruth:
    return load_world_truth(world)


def perfect_tracks(truth: WorldTruth) -> list[TrackRow]:
    """Every gt.txt row as a track (ids offset: a tracker's ids are its own)."""
    return [
        TrackRow(
            frame,
            row.id + 100,
            row.x,
            row.y,
            row.w,
            row.h,
            0.9,
            row.class_id,
            (truth.roi_label,) if truth.in_roi(row) else (),
        )
        for frame in sorted(truth.frames)
        for row in truth.frames[frame]
    ]


def write_tracks(path: Path, rows: Iterable[TrackRow]) -> Path:
    path.write_text(
        "".join(
            f"{r.frame},{r.id},{r.x:g},{r.y:g},{r.w:g},{r.h:g},{r.confidence:g},{r.class_id},-1,"
            f"{';'.join(r.rois) or '-'}\n"
            for r in rows
        )
    )
    return path


def care_rows(truth: WorldTruth, min_visibility: float = 0.3) -> int:
    return sum(1 for rows in truth.frames.values() for r in rows if r.visibility >= min_visibility)


def frame_ns(frame_num: int) -> int:
    return BASE_NS + round(frame_num * 1000 / FPS) * 1_000_000


def frame_meta(truth: WorldTruth, frame_num: int, *, in_roi_only: bool) -> FrameMeta:
    objects = [
        ObjectMeta(
            class_id=row.class_id,
            confidence=0.9,
            left=row.x,
            top=row.y,
            width=row.w,
            height=row.h,
            obj_label=CLASS_NAMES[row.class_id],
            object_id=row.id + 100,
            analytics=ObjectAnalytics(roi_status=[truth.roi_label] if truth.in_roi(row) else []),
        )
        for row in truth.frames.get(frame_num + 1, ())
        if truth.in_roi(row) or not in_roi_only
    ]
    return FrameMeta(0, frame_num, frame_ns(frame_num), truth.width, truth.height, objects=objects)


def app_messages(
    truth: WorldTruth,
    *,
    interval: int = 30,
    extra: Sequence[ObjectMeta] = (),
    latency_ms: float | None = None,
) -> list[str]:
    """What the seed's app sends: the ROI's vehicles of every 30th frame (payload-type 1, events)."""
    conv = NvMsgConv(payload_type=1)
    lines = []
    for frame_num in range(0, truth.frame_count, interval):
        frame = frame_meta(truth, frame_num, in_roi_only=True)
        frame.objects.extend(extra)
        events = [
            EventMsg.from_object(obj, frame, sensorStr="cam-0", extMsg=VehicleObject(type=obj.obj_label))
            for obj in frame.objects
        ]
        for payload in conv.convert(frame, events):
            doc = json.loads(payload)
            if latency_ms is None:
                lines.append(json.dumps(doc))
            else:
                received = frame.ntp_timestamp + round(latency_ms * 1e6)
                lines.append(json.dumps({"received_ns": received, "payload": doc}))
    return lines


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


# -- tracking ---------------------------------------------------------------------------------


def test_perfect_tracks_score_one(world: Path, truth: WorldTruth, tmp_path: Path) -> None:
    result = score_pipeline(world, tracks=write_tracks(tmp_path / "tracks.txt", perfect_tracks(truth)))
    t = result.tracking
    assert t is not None
    assert (t.mota, t.idf1, t.motp) == (1.0, 1.0, 1.0)
    assert (t.id_switches, t.false_positives, t.misses) == (0, 0, 0)
    assert t.gt_rows == care_rows(truth)
    assert t.tracks == len({r.id for rows in truth.frames.values() for r in rows})
    assert result.roi_tracks is not None and result.roi_tracks.truth > 0
    assert (result.roi_tracks.precision, result.roi_tracks.recall) == (1.0, 1.0)
    assert result.count_tracks is not None
    assert result.count_tracks.truth == len(truth.entered_ids) > 0
    assert result.count_tracks.error == 0.0
    assert result.passed and result.notes == []


def _swap_pair(truth: WorldTruth) -> tuple[int, int, int]:
    """A frame k and two vehicles seen well (and apart) in frames k-1 and k."""
    for k in range(2, truth.frame_count + 1):
        before = {r.id: r for r in truth.frames.get(k - 1, ()) if r.visibility >= 0.5}
        now = [r for r in truth.frames.get(k, ()) if r.visibility >= 0.5 and r.id in before]
        for i, a in enumerate(now):
            for b in now[i + 1 :]:
                apart = a.x + a.w < b.x or b.x + b.w < a.x or a.y + a.h < b.y or b.y + b.h < a.y
                if apart:
                    return k, a.id, b.id
    raise AssertionError("no two vehicles to swap")


def test_swapped_ids_count_two_switches(truth: WorldTruth) -> None:
    k, a, b = _swap_pair(truth)
    rows = []
    for row in perfect_tracks(truth):
        if row.frame >= k and row.id - 100 in (a, b):
            row = replace(row, id=(b if row.id - 100 == a else a) + 100)
        rows.append(row)
    t = score_tracking(truth, rows)
    n = care_rows(truth)
    assert t.id_switches == 2  # each of the two vehicles changes track once
    assert t.idf1 < 1.0
    assert t.mota == pytest.approx(1 - 2 / n)
    assert (t.false_positives, t.misses) == (0, 0)


def test_dropping_half_the_rows_costs_exactly_those_rows(truth: WorldTruth) -> None:
    rows = perfect_tracks(truth)
    care = [i for i, r in enumerate(rows) if truth_visibility(truth, r) >= 0.3]
    dropped = set(care[::2])
    t = score_tracking(truth, [r for i, r in enumerate(rows) if i not in dropped])
    n, d = care_rows(truth), len(dropped)
    assert t.misses == d and t.false_positives == 0 and t.id_switches == 0
    assert t.recall == pytest.approx((n - d) / n)
    assert t.mota == pytest.approx(1 - d / n)
    # identity: every kept row is an identity true positive, every dropped one an identity miss
    assert t.idf1 == pytest.approx(2 * (n - d) / (2 * (n - d) + d))


def truth_visibility(truth: WorldTruth, row: TrackRow) -> float:
    return next(g.visibility for g in truth.frames[row.frame] if g.id == row.id - 100)


def test_dont_care_rows_are_neither_found_nor_missed(truth: WorldTruth) -> None:
    rows = perfect_tracks(truth)
    hidden = [r for r in rows if truth_visibility(truth, r) < 0.3]
    assert hidden, "the world should have vehicles less than 30% visible"
    # predicted on: not false positives (shifted a little, still IoU >= 0.5 with the truth)
    shifted = [replace(r, x=r.x + 0.1 * r.w) if truth_visibility(truth, r) < 0.3 else r for r in rows]
    t = score_tracking(truth, shifted)
    assert (t.false_positives, t.misses, t.mota) == (0, 0, 1.0)
    assert t.dont_care_rows == len(hidden) and t.dont_care_predictions == len(hidden)
    # not predicted: not misses
    t = score_tracking(truth, [r for r in rows if truth_visibility(truth, r) >= 0.3])
    assert (t.false_positives, t.misses, t.mota) == (0, 0, 1.0)
    assert t.gt_rows == care_rows(truth)
    # with a stricter rule they count
    t = score_tracking(truth, [r for r in rows if truth_visibility(truth, r) >= 0.3], min_visibility=0.0)
    assert t.misses == len(hidden)


def test_class_aware_tracking_needs_the_class(truth: WorldTruth) -> None:
    rows = perfect_tracks(truth)
    wrong = [replace(r, class_id=(r.class_id + 1) % len(CLASS_NAMES)) for r in rows]
    assert score_tracking(truth, wrong).mota == 1.0
    t = score_tracking(truth, wrong, class_aware=True)
    assert t.misses == care_rows(truth)
    # as COCO's crowd regions: a don't-care box absorbs only predictions of its class
    assert t.false_positives == len(rows) and t.dont_care_predictions == 0


# -- messages ---------------------------------------------------------------------------------


def test_messages_from_truth_score_one(world: Path, truth: WorldTruth, tmp_path: Path) -> None:
    lines = app_messages(truth)
    assert len(lines) == 2  # frame 0 has no vehicle in TL1: the app sends nothing
    result = score_pipeline(world, messages=write_lines(tmp_path / "messages.jsonl", lines))
    m, c = result.roi_messages, result.count_messages
    assert m is not None and c is not None
    assert m.frames == 3 and m.truth == 3  # vehicles 2 and 3 at frame 31, 6 at frame 61
    assert (m.precision, m.recall) == (1.0, 1.0)
    assert (c.predicted, c.truth, c.error) == (3, 3, 0.0)
    assert c.per_class is not None and c.per_class["car"].truth == 3 and c.per_class["car"].error == 0.0
    assert result.tracking is None and result.latency is None
    assert result.passed
    # class-aware: the vehicle type in the object string is the world's class
    assert score_pipeline(world, messages=tmp_path / "messages.jsonl", class_aware=True).roi_messages == m


def test_phantom_object_lowers_precision_and_miscounts(
    world: Path, truth: WorldTruth, tmp_path: Path
) -> None:
    phantom = ObjectMeta(0, 0.8, 600.0, 2.0, 30.0, 20.0, obj_label="car", object_id=999)
    path = write_lines(tmp_path / "messages.jsonl", app_messages(truth, extra=[phantom]))
    result = score_pipeline(world, messages=path)
    m, c = result.roi_messages, result.count_messages
    assert m is not None and c is not None
    assert m.false_positives == 3 and m.true_positives == 3  # once per message
    assert m.precision == pytest.approx(0.5) and m.recall == 1.0
    assert (c.predicted, c.truth) == (4, 3) and c.error == pytest.approx(1 / 3)
    assert not result.passed
    assert [g.name for g in result.missed] == ["count error (messages)"]


def test_missing_message_counts_as_an_empty_frame(world: Path, truth: WorldTruth, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "messages.jsonl", app_messages(truth)[1:])  # frame 30's is lost
    result = score_pipeline(world, messages=path)
    assert result.roi_messages is not None and result.roi_messages.false_negatives == 2
    assert any("2 of 3 sampled frames have no message" in n for n in result.notes)
    # scoring only the frames that have a message, nothing is missing
    result = score_pipeline(world, messages=path, message_interval=0)
    assert result.roi_messages is not None and result.roi_messages.recall == 1.0


def test_latency_percentiles_from_wrapped_lines(world: Path, truth: WorldTruth, tmp_path: Path) -> None:
    conv = NvMsgConv(payload_type=1)
    latencies = [float(5 + 3 * i % 41) for i in range(truth.frame_count)]
    lines = []
    for frame_num, latency in enumerate(latencies):
        frame = frame_meta(truth, frame_num, in_roi_only=True)
        events = [EventMsg.from_object(obj, frame) for obj in frame.objects]
        if not events:  # frames without vehicles in the ROI send nothing
            continue
        (payload,) = conv.convert(frame, events)
        received = frame.ntp_timestamp + round(latency * 1e6)
        lines.append(json.dumps({"received_ns": received, "payload": json.loads(payload)}))
    lines[0] = json.dumps(json.loads(lines[0])["payload"])  # a plain line: scored, no latency
    sent = [latencies[int(json.loads(line)["payload"]["id"])] for line in lines[1:]]
    result = score_pipeline(world, messages=write_lines(tmp_path / "m.jsonl", lines), message_interval=1)
    lat = result.latency
    assert lat is not None and lat.messages == len(sent)
    p50, p95, p99 = np.percentile(sent, [50, 95, 99])
    assert (lat.p50_ms, lat.p95_ms, lat.p99_ms) == (
        pytest.approx(p50),
        pytest.approx(p95),
        pytest.approx(p99),
    )
    assert lat.max_ms == max(sent) and lat.min_ms == min(sent)
    assert result.roi_messages is not None and result.roi_messages.recall == 1.0


def test_object_strings_of_both_apis() -> None:
    frame = FrameMeta(0, 30, BASE_NS, 640, 360)
    obj = ObjectMeta(1, 0.75, 10.5, 20.25, 30.0, 40.0, obj_label="truck", object_id=7)
    frame.objects.append(obj)
    events = [
        EventMsg.from_object(obj, frame, extMsg=VehicleObject(type="truck", make="acme")),
        EventMsg.from_object(obj, frame, trackingId=UNTRACKED_OBJECT_ID),  # no extMsg: "|#||||||"
        EventMsg.from_object(obj, frame, objType="person"),
    ]
    (payload,) = NvMsgConv(payload_type=1).convert(frame, events)
    vehicle, bare, person = (parse_object_string(s) for s in json.loads(payload)["objects"])
    assert vehicle is not None and bare is not None and person is not None
    assert (vehicle.tracking_id, vehicle.left, vehicle.top, vehicle.right, vehicle.bottom) == (
        7,
        10.5,
        20.25,
        40.5,
        60.25,
    )
    assert (vehicle.type_name, vehicle.label, vehicle.confidence) == ("Vehicle", "truck", 0.75)
    assert not bare.tracked and bare.label == "Vehicle" and bare.confidence == 0.75
    assert person.label == "Person" and person.confidence == 0.75
    # msg2p-newapi: "id|left|top|right|bottom|label", no confidence
    (payload,) = NvMsgConv(payload_type=1, msg2p_newapi=True).convert(frame)
    (new,) = (parse_object_string(s) for s in json.loads(payload)["objects"])
    assert new is not None and (new.label, new.confidence, new.tracking_id) == ("truck", None, 7)
    assert parse_object_string("") is None


# -- tracks.txt -------------------------------------------------------------------------------


def test_track_writer_round_trip(truth: WorldTruth, tmp_path: Path) -> None:
    path = tmp_path / "tracks.txt"
    with TrackWriter(path) as writer:
        for frame_num in range(truth.frame_count):
            frame = frame_meta(truth, frame_num, in_roi_only=False)
            for obj in frame.objects:
                obj.left += 0.25  # muxer pixels are floats
            frame.objects.append(ObjectMeta(0, 0.5, 1.0, 2.0, 3.0, 4.0))  # untracked: skipped
            writer.write_frame(frame)
    rows = read_tracks(path)
    expected = [replace(r, x=r.x + 0.25, line=i) for i, r in enumerate(perfect_tracks(truth), 1)]
    assert writer.rows == len(rows) == len(expected)
    assert rows == expected
    with pytest.raises(ValueError, match="one TrackWriter per source"), TrackWriter(tmp_path / "t2.txt") as w:
        w.write_frame(FrameMeta(0, 0, 0, 640, 360))
        w.write_frame(FrameMeta(1, 0, 0, 640, 360))


# -- errors -----------------------------------------------------------------------------------


def test_errors_name_file_and_line(world: Path, truth: WorldTruth, tmp_path: Path) -> None:
    tracks_file = write_tracks(tmp_path / "tracks.txt", perfect_tracks(truth)[:20])
    text = tracks_file.read_text().splitlines()
    text[11] = "12,5,1,2,3,4,0.9,0,-1"  # 9 fields
    tracks_file.write_text("\n".join(text) + "\n")
    with pytest.raises(HarnessError, match=r"tracks\.txt:12: expected 10 comma-separated fields"):
        score_pipeline(world, tracks=tracks_file)
    text[11] = "12,5,1,2,x,4,0.9,0,-1,-"
    tracks_file.write_text("\n".join(text) + "\n")
    with pytest.raises(HarnessError, match=r"tracks\.txt:12: not a number"):
        read_tracks(tracks_file)
    text[11] = f"{truth.frame_count + 1},5,1,2,3,4,0.9,0,-1,-"
    tracks_file.write_text("\n".join(text) + "\n")
    with pytest.raises(HarnessError, match=rf"tracks\.txt:12: frame {truth.frame_count + 1} is beyond"):
        score_pipeline(world, tracks=tracks_file)

    good = app_messages(truth)
    messages = write_lines(tmp_path / "messages.jsonl", [*good[:2], "{not json"])
    with pytest.raises(HarnessError, match=r"messages\.jsonl:3: not JSON"):
        score_pipeline(world, messages=messages)
    full = {"messageid": "x", "@timestamp": "2024-01-01T00:00:00.000Z", "object": {"id": "1"}}
    write_lines(messages, [good[0], json.dumps(full)])
    with pytest.raises(HarnessError, match=r"messages\.jsonl:2: a full-schema message") as error:
        score_pipeline(world, messages=messages)
    assert "payload-type" in str(error.value)
    other = json.loads(good[0])
    other["objects"] = other["objects"][:-1]
    write_lines(messages, [good[0], good[1], good[0]])  # redelivered: fine
    notes = score_pipeline(world, messages=messages).notes
    assert any(n.startswith("1 repeated message") for n in notes)
    write_lines(messages, [good[0], json.dumps(other)])
    with pytest.raises(HarnessError, match=r"messages\.jsonl:2: frame id 30 already came on line 1"):
        score_pipeline(world, messages=messages)
    write_lines(messages, [json.dumps({**other, "id": "5"})])
    with pytest.raises(HarnessError, match=r"messages\.jsonl:1: frame id 5 is not a multiple of the message"):
        score_pipeline(world, messages=messages)
    write_lines(
        messages, [json.dumps({"received_ns": 5, "payload": {**json.loads(good[0]), "@timestamp": "?"}})]
    )
    with pytest.raises(HarnessError, match=r"messages\.jsonl:1: @timestamp"):
        score_pipeline(world, messages=messages)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HarnessError, match=r"gt\.txt is missing"):
        score_pipeline(empty, tracks=tracks_file)
    (empty / "gt.txt").write_text((world / "gt.txt").read_text())
    doc = json.loads((world / "truth.json").read_text())
    del doc["roi"]
    (empty / "truth.json").write_text(json.dumps(doc))
    with pytest.raises(HarnessError, match=r"truth\.json has no ROI"):
        score_pipeline(empty, tracks=tracks_file)
    # a world the shipped detector trained on would flatter the pipeline
    doc = json.loads((world / "truth.json").read_text())
    (empty / "truth.json").write_text(json.dumps({**doc, "seed": 1500}))
    good_tracks = write_tracks(tmp_path / "good.txt", perfect_tracks(truth))
    with pytest.raises(HarnessError, match="reserved for training") as error:
        score_pipeline(empty, tracks=good_tracks)
    assert "--allow-training-seeds" in str(error.value)
    assert score_pipeline(empty, tracks=good_tracks, allow_training_seeds=True).seed == 1500


# -- the command ------------------------------------------------------------------------------


def test_cli_exit_codes_and_json(world: Path, truth: WorldTruth, tmp_path: Path) -> None:
    from harness.cli import main

    rows = perfect_tracks(truth)
    good = write_tracks(tmp_path / "good.txt", rows)
    half = write_tracks(tmp_path / "half.txt", rows[::2])
    messages = write_lines(tmp_path / "messages.jsonl", app_messages(truth, latency_ms=12))
    runner = CliRunner()
    out = tmp_path / "out" / "score.json"
    args = ["eval", "pipeline", "--truth", str(world), "--messages", str(messages), "--json", str(out)]

    result = runner.invoke(main, [*args, "--tracks", str(good)])
    assert result.exit_code == 0, result.output
    assert "MOTA" in result.output and "p50 12.0 ms" in result.output
    assert json.loads(out.read_text())["passed"] is True

    result = runner.invoke(main, [*args, "--tracks", str(half)])
    assert result.exit_code == 1, result.output
    assert "goal missed: MOTA" in result.output
    document = json.loads(out.read_text())
    assert document["passed"] is False and document["tracking"]["mota"] < 0.8
    assert document["latency"]["p99_ms"] == 12.0

    result = runner.invoke(
        main, [*args[:4], "--tracks", str(half), "--min-mota", "0.3", "--max-count-error", "1"]
    )
    assert result.exit_code == 0, result.output

    result = runner.invoke(main, ["eval", "pipeline", "--truth", str(world)])
    assert result.exit_code == 2 and "--tracks, --messages or both" in result.output
    result = runner.invoke(main, ["eval", "pipeline", "--truth", str(tmp_path), "--tracks", str(good)])
    assert result.exit_code == 1 and "gt.txt is missing" in result.output


def _relabel(lines: list[str], label: str, *, first_only: bool = False) -> list[str]:
    """The messages with the vehicle type of their object strings (``…|Vehicle|#|<type>|…``)
    replaced."""
    out = []
    done = False
    for line in lines:
        doc = json.loads(line)
        objects = []
        for text in doc["objects"]:
            if not (first_only and done):
                parts = text.split("|")
                assert parts[5:7] == ["Vehicle", "#"], text
                text = "|".join([*parts[:7], label, *parts[8:]])
                done = True
            objects.append(text)
        out.append(json.dumps({**doc, "objects": objects}))
    return out


def test_class_accuracy_is_the_share_of_rightly_labelled_hits(
    world: Path, truth: WorldTruth, tmp_path: Path
) -> None:
    """Right classes score 1; a one-class detector's "vehicle" is never a class (0, with the same
    vehicle-agnostic precision and recall); one truck among three cars costs a third."""
    lines = app_messages(truth)
    assert all(o.split("|")[7] == "car" for line in lines for o in json.loads(line)["objects"])
    right = score_pipeline(world, messages=write_lines(tmp_path / "right.jsonl", lines)).roi_messages
    generic = score_pipeline(
        world, messages=write_lines(tmp_path / "generic.jsonl", _relabel(lines, "vehicle"))
    )
    one_wrong = score_pipeline(
        world, messages=write_lines(tmp_path / "one.jsonl", _relabel(lines, "truck", first_only=True))
    )
    assert right is not None and generic.roi_messages is not None and one_wrong.roi_messages is not None
    assert (right.class_correct, right.class_accuracy) == (3, 1.0)
    assert (generic.roi_messages.precision, generic.roi_messages.recall) == (right.precision, right.recall)
    assert (generic.roi_messages.class_correct, generic.roi_messages.class_accuracy) == (0, 0.0)
    assert one_wrong.roi_messages.class_accuracy == pytest.approx(2 / 3)
    # tracks scored vehicle-agnostic carry no class figure: their class ids are the detector's
    tracks = write_tracks(tmp_path / "tracks.txt", perfect_tracks(truth))
    assert score_pipeline(world, tracks=tracks).roi_tracks.class_accuracy is None
