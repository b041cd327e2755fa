"""NvSORT-style tracker: config parsing (messages name file, line and key) and tracking behaviour."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.meta import UNTRACKED_OBJECT_ID, BatchMeta, FrameMeta, ObjectMeta
from fake_device.deepstream.tracker import (
    MatcherType,
    NvSortTracker,
    StateEstimatorType,
    TrackerConfig,
    load_tracker_config,
    parse_tracker_config,
)

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[3] / "scenarios" / "traffic" / "app" / "config_tracker_NvSORT.yml"

# A track of boxes: one entry per frame, None where the detector missed the object.
Track = list[tuple[float, float, float, float] | None]


def _nvsort() -> TrackerConfig:
    return load_tracker_config(SAMPLE)


def _obj(
    box: tuple[float, float, float, float], *, cls: int = 0, conf: float = 0.9, label: str = "car"
) -> ObjectMeta:
    left, top, width, height = box
    return ObjectMeta(
        class_id=cls, confidence=conf, left=left, top=top, width=width, height=height, obj_label=label
    )


def _frame(source: int, num: int, objects: list[ObjectMeta]) -> FrameMeta:
    return FrameMeta(
        source_id=source,
        frame_num=num,
        ntp_timestamp=num * 33_333_333,
        source_frame_width=1920,
        source_frame_height=1080,
        objects=objects,
    )


def _run(tracker: NvSortTracker, frames: list[list[ObjectMeta]], source: int = 0) -> list[list[ObjectMeta]]:
    """Feed one stream frame by frame; the reported objects of each frame."""
    out = []
    for num, objects in enumerate(frames):
        batch = tracker.process(BatchMeta(frames=[_frame(source, num, objects)]))
        out.append(list(batch.frames[0].objects))
    return out


def _ids(out: list[list[ObjectMeta]]) -> list[list[int]]:
    return [[o.object_id for o in objects] for objects in out]


def _line_track(
    frames: int,
    *,
    start: tuple[float, float] = (100.0, 300.0),
    velocity: tuple[float, float] = (6.0, 1.5),
    size: tuple[float, float] = (80.0, 50.0),
    noise: float = 1.0,
    missed: set[int] = frozenset(),
    seed: int = 0,
) -> Track:
    """A straight-line track with Gaussian jitter on every box coordinate."""
    rng = np.random.default_rng(seed)
    track: Track = []
    for f in range(frames):
        jitter = rng.normal(0.0, noise, 4)
        box = (
            start[0] + velocity[0] * f + jitter[0],
            start[1] + velocity[1] * f + jitter[1],
            size[0] + jitter[2],
            size[1] + jitter[3],
        )
        track.append(None if f in missed else box)
    return track


def _frames_of(*tracks: Track, labels: tuple[str, ...] = ("a", "b", "c")) -> list[list[ObjectMeta]]:
    length = max(len(t) for t in tracks)
    return [
        [_obj(t[f], label=label) for t, label in zip(tracks, labels, strict=False) if f < len(t) and t[f]]
        for f in range(length)
    ]


# ================================================================================ config parsing


def _write(tmp_path: Path, text: str, name: str = "config_tracker.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> ConfigError:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_tracker_config(path)
    return info.value


def test_sample_nvsort_config_parses() -> None:
    c = _nvsort()
    assert c.source == str(SAMPLE)
    assert c.min_detector_confidence == pytest.approx(0.1345)
    assert (c.probation_age, c.max_shadow_tracking_age, c.early_termination_age) == (5, 26, 1)
    assert c.max_targets_per_stream == 300
    assert c.association_matcher_type is MatcherType.CASCADED
    assert c.state_estimator_type is StateEstimatorType.REGULAR
    assert c.check_class_match and c.use_prediction_4_assoc and c.use_aspect_ratio
    assert not c.use_unique_id and not c.enable_bbox_unclipping
    assert c.noise_weight_var_4_loc == pytest.approx(0.0301)


def test_missing_keys_take_nvidia_defaults(tmp_path: Path) -> None:
    c = load_tracker_config(_write(tmp_path, "%YAML:1.0\nBaseConfig:\n  minDetectorConfidence: 0.3\n"))
    assert c == TrackerConfig(min_detector_confidence=0.3, source=c.source)
    assert (c.probation_age, c.max_shadow_tracking_age, c.early_termination_age) == (5, 38, 2)
    assert c.association_matcher_type is MatcherType.GREEDY
    assert c.state_estimator_type is StateEstimatorType.DUMMY


def test_header_is_optional_and_line_numbers_count_it(tmp_path: Path) -> None:
    good = "BaseConfig:\n  minDetectorConfidence: 0.2\n"
    assert load_tracker_config(_write(tmp_path, good)).min_detector_confidence == 0.2
    body = good + "TargetManagement:\n  probationAge: x\n"
    with_header = _error(tmp_path, "%YAML:1.0\n" + body)
    without_header = _error(tmp_path, body)
    assert (with_header.line, without_header.line) == (5, 4)


def test_empty_sections_are_allowed(tmp_path: Path) -> None:
    c = load_tracker_config(_write(tmp_path, "%YAML:1.0\nBaseConfig:\nStateEstimator: {}\n"))
    assert c.min_detector_confidence == 0.0


def test_unknown_key_names_file_line_key_known_keys_and_suggestion(tmp_path: Path) -> None:
    err = _error(
        tmp_path,
        "%YAML:1.0\nBaseConfig:\n  minDetectorConfidence: 0.2\nTargetManagement:\n  probatonAge: 3\n",
    )
    text = str(err)
    assert err.line == 5
    assert "config_tracker.yml:5: unknown key 'probatonAge' in section TargetManagement" in text
    assert "maxShadowTrackingAge" in text and "earlyTerminationAge" in text  # the known keys
    assert "did you mean 'probationAge'?" in text


def test_unknown_section_suggests_the_close_one(tmp_path: Path) -> None:
    err = _error(tmp_path, "%YAML:1.0\nBaseConfig:\n  minDetectorConfidence: 0.2\nTargetManagment:\n")
    assert err.line == 4
    assert "unknown section 'TargetManagment'" in str(err)
    assert "did you mean 'TargetManagement'?" in str(err)
    assert "DataAssociator" in str(err)


def test_key_in_the_wrong_section_says_where_it_belongs(tmp_path: Path) -> None:
    err = _error(tmp_path, "DataAssociator:\n  maxShadowTrackingAge: 20\n")
    assert err.line == 2
    assert "maxShadowTrackingAge belongs in section TargetManagement" in str(err)


def test_unemulated_nvidia_key_says_so(tmp_path: Path) -> None:
    err = _error(tmp_path, "TargetManagement:\n  outputShadowTracks: 1\n")
    assert err.line == 2 and "outputShadowTracks" in str(err)
    assert "feature the emulation does not have" in str(err.hint)


NVDCF = """%YAML:1.0
BaseConfig:
  minDetectorConfidence: 0
TargetManagement:
  maxTargetsPerStream: 150
  probationAge: 3
  searchRegionPaddingScale: 1
DataAssociator:
  minMatchingScore4SizeSimilarity: 0.6
  minMatchingScore4VisualSimilarity: 0.7
  matchingScoreWeight4VisualSimilarity: 0.6
  matchingScoreWeight4Iou: 0.4
StateEstimator:
  stateEstimatorType: 1
VisualTracker:
  visualTrackerType: 1
  useColorNames: 1
  filterLr: 0.075
"""


def test_nvdcf_config_is_read_and_its_visual_parts_listed_as_ignored(tmp_path: Path) -> None:
    c = load_tracker_config(_write(tmp_path, NVDCF))
    assert (c.probation_age, c.max_targets_per_stream) == (3, 150)
    assert c.matching_score_weight_4_iou == pytest.approx(0.4)
    assert c.state_estimator_type is StateEstimatorType.SIMPLE
    assert c.ignored == (
        "TargetManagement.searchRegionPaddingScale",
        "DataAssociator.minMatchingScore4VisualSimilarity",
        "DataAssociator.matchingScoreWeight4VisualSimilarity",
        "VisualTracker",
    )
    assert _nvsort().ignored == ()


def test_nvdcf_visual_keys_are_still_range_checked(tmp_path: Path) -> None:
    err = _error(tmp_path, "DataAssociator:\n  matchingScoreWeight4VisualSimilarity: 2\n")
    assert err.line == 2 and "out of range" in str(err) and "a number from 0 to 1" in str(err)


def test_reid_section_is_named_as_not_emulated(tmp_path: Path) -> None:
    err = _error(tmp_path, "%YAML:1.0\nReID:\n  reidType: 2\n")
    assert err.line == 2
    assert "ReID" in str(err) and "NvDeepSORT" in str(err)


@pytest.mark.parametrize(
    ("section", "line", "expected"),
    [
        ("TargetManagement:\n  probationAge: -1", "probationAge is -1, out of range", "an integer >= 0"),
        ("TargetManagement:\n  probationAge: 2.5", "probationAge is '2.5'", "an integer"),
        ("TargetManagement:\n  maxShadowTrackingAge: 'ten'", "maxShadowTrackingAge is 'ten'", "an integer"),
        ("DataAssociator:\n  matchingScoreWeight4Iou: abc", "matchingScoreWeight4Iou is 'abc'", "a number"),
        ("DataAssociator:\n  matchingScoreWeight4Iou: 1.5", "out of range", "a number from 0 to 1"),
        ("DataAssociator:\n  associationMatcherType: 2", "associationMatcherType is 2", "1 (CASCADED)"),
        ("DataAssociator:\n  checkClassMatch: 2", "checkClassMatch is '2'", "0 or 1"),
        ("DataAssociator:\n  dataAssociatorType: 1", "dataAssociatorType is 1", "0 (DEFAULT)"),
        ("StateEstimator:\n  stateEstimatorType: 3", "stateEstimatorType is 3", "2 (REGULAR)"),
        ("DataAssociator:\n  minMatchingScore4Iou: .nan", "minMatchingScore4Iou", "a finite number"),
        ("TargetManagement:\n  maxTargetsPerStream: [1, 2]", "a list or mapping", "an integer"),
        ("TargetManagement:\n  minIouDiff4NewTarget:", "has no value", "a number from 0 to 1"),
    ],
)
def test_bad_values_name_file_line_key_and_expectation(
    tmp_path: Path, section: str, line: str, expected: str
) -> None:
    err = _error(tmp_path, "%YAML:1.0\nBaseConfig:\n  minDetectorConfidence: 0.1\n" + section + "\n")
    assert err.file.endswith("config_tracker.yml")
    assert err.line == 5
    assert str(err).startswith(f"{err.file}:5: ")
    assert line in str(err)
    assert expected in err.expected


def test_sv3dt_estimator_has_a_hint(tmp_path: Path) -> None:
    err = _error(tmp_path, "StateEstimator:\n  stateEstimatorType: 3\n")
    assert "SV3DT" in str(err.hint)


def test_true_false_and_hex_are_read(tmp_path: Path) -> None:
    text = "DataAssociator:\n  checkClassMatch: false\nTargetManagement:\n  probationAge: 0x3\n"
    c = load_tracker_config(_write(tmp_path, text))
    assert c.check_class_match is False and c.probation_age == 3


def test_repeated_key_is_an_error(tmp_path: Path) -> None:
    err = _error(tmp_path, "TargetManagement:\n  probationAge: 3\n  probationAge: 4\n")
    assert err.line == 3 and "repeated (first at line 2)" in str(err)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    err = _error(tmp_path, "%YAML:1.0\nBaseConfig:\n  minDetectorConfidence: [0.1\nTargetManagement:\n")
    assert err.line >= 3 and "invalid YAML" in str(err)


@pytest.mark.parametrize(
    ("text", "message"),
    [("%YAML:1.0\n", "empty"), ("- BaseConfig\n", "not a mapping"), ("BaseConfig: 3\n", "not a mapping")],
)
def test_wrong_document_shape(tmp_path: Path, text: str, message: str) -> None:
    assert message in str(_error(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_tracker_config(tmp_path / "nope.yml")
    assert info.value.line == 0 and "nope.yml: tracker config file not found" in str(info.value)


def test_parse_from_text_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"^inline:1: unknown section"):
        parse_tracker_config("Bogus: {}\n", source="inline")


# ================================================================================ tracking


def test_reported_object_is_the_detector_object_with_an_id() -> None:
    tracker = NvSortTracker(replace(_nvsort(), probation_age=0))
    det = _obj((10.0, 20.0, 30.0, 40.0), cls=2, conf=0.77, label="truck")
    (out,) = _run(tracker, [[det]])
    assert out == [det] and out[0] is det
    assert (det.class_id, det.obj_label, det.confidence) == (2, "truck", 0.77)
    assert (det.left, det.top, det.width, det.height) == (10.0, 20.0, 30.0, 40.0)
    assert det.object_id == 0 and det.tracker_confidence == 1.0


def test_ids_survive_noise_missed_frames_and_a_short_gap() -> None:
    c = _nvsort()
    gap = set(range(30, 35))  # 5 frames, shorter than maxShadowTrackingAge (26)
    track = _line_track(70, missed={12, 19, 47} | gap)
    out = _ids(_run(NvSortTracker(c), _frames_of(track)))
    assert out[: c.probation_age] == [[]] * c.probation_age  # tentative: not reported yet
    for f in range(c.probation_age, 70):
        assert out[f] == ([] if track[f] is None else [0]), f"frame {f}"


def test_new_id_after_a_gap_longer_than_max_shadow_tracking_age() -> None:
    c = _nvsort()
    gap = set(range(20, 20 + c.max_shadow_tracking_age + 2))
    track = _line_track(80, missed=gap)
    out = _ids(_run(NvSortTracker(c), _frames_of(track)))
    back = max(gap) + 1
    assert out[back - 1] == [] and out[19] == [0]
    # the old target was terminated: the object is a new, tentative target again
    assert out[back : back + c.probation_age] == [[]] * c.probation_age
    assert {i for ids in out[back + c.probation_age :] for i in ids} == {1}


def test_gap_just_within_max_shadow_tracking_age_keeps_the_id() -> None:
    c = replace(_nvsort(), max_shadow_tracking_age=6)
    track = _line_track(40, missed=set(range(15, 21)))  # 6 missed frames: shadow age reaches 6
    assert {i for ids in _ids(_run(NvSortTracker(c), _frames_of(track))) for i in ids} == {0}
    track = _line_track(40, missed=set(range(15, 22)))  # 7: terminated
    assert {i for ids in _ids(_run(NvSortTracker(c), _frames_of(track))) for i in ids} == {0, 1}


@pytest.mark.parametrize("occluded", [set(), {29, 30, 31}])
def test_crossing_objects_keep_their_ids(occluded: set[int]) -> None:
    """Two cars pass each other with overlapping boxes (IoU up to 0.6); optionally the far one is
    hidden behind the near one while they overlap."""
    a = _line_track(62, start=(0.0, 200.0), velocity=(8.0, 0.0), size=(60.0, 60.0), noise=0.5, seed=1)
    b = _line_track(
        62, start=(480.0, 215.0), velocity=(-8.0, 0.0), size=(60.0, 60.0), noise=0.5, seed=2, missed=occluded
    )
    out = _run(NvSortTracker(_nvsort()), _frames_of(a, b, labels=("a", "b")))
    seen: dict[str, set[int]] = {"a": set(), "b": set()}
    for f, objects in enumerate(out[5:], start=5):
        assert len(objects) == (1 if f in occluded else 2), f"frame {f}"
        for o in objects:
            seen[o.obj_label].add(o.object_id)
    assert seen == {"a": {0}, "b": {1}}


def test_object_is_reported_only_after_probation() -> None:
    c = replace(_nvsort(), probation_age=3)
    out = _ids(_run(NvSortTracker(c), _frames_of(_line_track(8))))
    assert out == [[], [], [], [0], [0], [0], [0], [0]]


def test_probation_zero_reports_at_once() -> None:
    out = _ids(_run(NvSortTracker(replace(_nvsort(), probation_age=0)), _frames_of(_line_track(3))))
    assert out == [[0], [0], [0]]


def test_tentative_target_is_terminated_early() -> None:
    """With earlyTerminationAge 1 a miss during probation ends the target; the object then starts a
    new probation under a new id."""
    c = replace(_nvsort(), probation_age=3, early_termination_age=1)
    out = _ids(_run(NvSortTracker(c), _frames_of(_line_track(10, missed={2}))))
    assert out == [[], [], [], [], [], [], [1], [1], [1], [1]]
    c = replace(c, early_termination_age=2)  # one miss is tolerated now
    out = _ids(_run(NvSortTracker(c), _frames_of(_line_track(10, missed={2}))))
    assert out == [[], [], [], [0], [0], [0], [0], [0], [0], [0]]


def test_min_iou_diff_4_new_target_suppresses_duplicates() -> None:
    """Two boxes on one car (IoU 0.82): one target unless the threshold is above their IoU."""
    track = _line_track(12, noise=0.0)
    twin = [(x + 8.0, y, w, h) for x, y, w, h in track]  # 80 px wide: IoU 72/88
    frames = _frames_of(track, twin)
    c = replace(_nvsort(), probation_age=2)
    out = _ids(_run(NvSortTracker(replace(c, min_iou_diff_4_new_target=0.5)), frames))
    assert all(ids == [0] for ids in out[2:])
    out = _ids(_run(NvSortTracker(replace(c, min_iou_diff_4_new_target=0.9)), frames))
    assert all(sorted(ids) == [0, 1] for ids in out[2:])


def test_check_class_match() -> None:
    """The same box changes class: with checkClassMatch it is another object (new target)."""
    c = replace(_nvsort(), probation_age=2)
    frames = [[_obj(box, cls=0 if f < 10 else 1)] for f, box in enumerate(_line_track(20, noise=0.0))]
    out = _ids(_run(NvSortTracker(replace(c, check_class_match=False)), frames))
    assert all(ids == [0] for ids in out[2:])
    out = _ids(_run(NvSortTracker(replace(c, check_class_match=True)), frames))
    assert all(ids == [0] for ids in out[2:10])
    assert out[10:12] == [[], []] and all(ids == [1] for ids in out[12:])


@pytest.mark.parametrize("matcher", list(MatcherType))
def test_low_confidence_detection_continues_a_validated_target(matcher: MatcherType) -> None:
    c = replace(_nvsort(), association_matcher_type=matcher, probation_age=2)
    confs = [0.9] * 8 + [0.2] * 6  # 0.2: above minDetectorConfidence, below tentativeDetectorConfidence
    frames = [[_obj(box, conf=conf)] for box, conf in zip(_line_track(14), confs, strict=True)]
    assert all(ids == [0] for ids in _ids(_run(NvSortTracker(c), frames))[2:])


def test_low_confidence_detections_start_targets_only_when_greedy() -> None:
    frames = [[_obj(box, conf=0.2)] for box in _line_track(10)]
    c = replace(_nvsort(), probation_age=2)
    greedy = _ids(_run(NvSortTracker(replace(c, association_matcher_type=MatcherType.GREEDY)), frames))
    cascaded = _ids(_run(NvSortTracker(replace(c, association_matcher_type=MatcherType.CASCADED)), frames))
    assert all(ids == [0] for ids in greedy[2:])
    assert cascaded == [[]] * 10


def test_cascade_matches_low_confidence_detections_by_tentative_iou() -> None:
    """Stage 2 takes a low-confidence detection only if its IoU reaches minMatchingScore4TentativeIou."""
    track = _line_track(12, velocity=(0.0, 0.0), noise=0.0)
    frames = [[_obj(box)] for box in track[:8]]
    shifted = (track[8][0] + 20.0, *track[8][1:])  # IoU with the target ≈ 0.6
    frames += [[_obj(shifted, conf=0.2)] for _ in range(4)]
    c = replace(_nvsort(), probation_age=2, use_prediction_4_assoc=False)
    strict = _ids(_run(NvSortTracker(replace(c, min_matching_score_4_tentative_iou=0.9)), frames))
    loose = _ids(_run(NvSortTracker(replace(c, min_matching_score_4_tentative_iou=0.3)), frames))
    assert strict[8:] == [[]] * 4
    assert loose[8:] == [[0]] * 4


def test_greedy_takes_the_best_combined_score_first() -> None:
    """Two targets side by side; a detection overlapping both goes to the one with the higher score."""
    left = [(100.0, 100.0, 50.0, 50.0)] * 6
    right = [(140.0, 100.0, 50.0, 50.0)] * 6
    c = replace(
        _nvsort(),
        probation_age=0,
        association_matcher_type=MatcherType.GREEDY,
        state_estimator_type=StateEstimatorType.DUMMY,
        min_iou_diff_4_new_target=0.9,
        min_matching_score_4_overall=0.0,
        min_matching_score_4_iou=0.0,
        min_matching_score_4_size_similarity=0.0,
    )
    tracker = NvSortTracker(c)
    _run(tracker, _frames_of(left, right))
    (out,) = _run(tracker, [[_obj((128.0, 100.0, 50.0, 50.0))]])  # closer to the right one
    assert [o.object_id for o in out] == [1]


def test_detections_below_min_detector_confidence_are_dropped() -> None:
    c = replace(_nvsort(), probation_age=0)
    frames = [[_obj(box, conf=0.1)] for box in _line_track(5)]  # minDetectorConfidence is 0.1345
    tracker = NvSortTracker(c)
    assert _ids(_run(tracker, frames)) == [[]] * 5
    assert tracker.target_count(0) == 0


def test_max_targets_per_stream() -> None:
    c = replace(_nvsort(), probation_age=0, max_targets_per_stream=2)
    boxes = [[(100.0 * k, 100.0, 50.0, 50.0)] * 3 for k in range(4)]
    out = _ids(_run(NvSortTracker(c), _frames_of(*boxes, labels=("a", "b", "c", "d"))))
    assert all(sorted(ids) == [0, 1] for ids in out)


def test_streams_are_independent() -> None:
    c = replace(_nvsort(), probation_age=2)
    tracker = NvSortTracker(c)
    busy = _frames_of(_line_track(30), _line_track(30, start=(600.0, 300.0), seed=3))
    quiet = _frames_of(_line_track(30, missed=set(range(5, 30))))
    reported: dict[int, list[list[int]]] = {0: [], 1: []}
    for f in range(30):
        frames = [_frame(0, f, busy[f]), _frame(1, f, quiet[f])]
        for frame in tracker.process(BatchMeta(frames=frames, max_frames_in_batch=2)).frames:
            reported[frame.source_id].append([o.object_id for o in frame.objects])
    assert all(sorted(ids) == [0, 1] for ids in reported[0][2:])  # per-stream ids from 0
    assert reported[1][2:5] == [[0]] * 3 and reported[1][5:] == [[]] * 25
    alone = _ids(_run(NvSortTracker(c), busy))
    assert alone == reported[0]  # stream 1 changed nothing for stream 0


def test_unique_ids_have_a_random_upper_half_per_stream() -> None:
    c = replace(_nvsort(), probation_age=0, use_unique_id=True)
    frames = _frames_of(_line_track(3), _line_track(3, start=(600.0, 300.0)))

    def ids_per_stream(seed: int) -> dict[int, list[int]]:
        tracker = NvSortTracker(c, seed=seed)
        return {s: sorted(_ids(_run(tracker, frames, source=s))[-1]) for s in (0, 7)}

    first = ids_per_stream(seed=5)
    for ids in first.values():
        assert [i & 0xFFFFFFFF for i in ids] == [0, 1]  # lower half: sequential per stream
        assert ids[0] >> 32 == ids[1] >> 32 != 0
        assert UNTRACKED_OBJECT_ID not in ids
    assert first[0][0] >> 32 != first[7][0] >> 32
    assert ids_per_stream(seed=5) == first  # deterministic given the seed
    assert ids_per_stream(seed=6)[0][0] >> 32 != first[0][0] >> 32


def test_remove_source_forgets_targets_but_not_the_id_counter() -> None:
    tracker = NvSortTracker(replace(_nvsort(), probation_age=0))
    frames = _frames_of(_line_track(3))
    assert _ids(_run(tracker, frames))[-1] == [0]
    tracker.remove_source(0)
    assert tracker.target_count(0) == 0
    assert _ids(_run(tracker, frames))[0] == [1]


def test_remove_source_can_restart_the_ids() -> None:
    tracker = NvSortTracker(replace(_nvsort(), probation_age=0))
    frames = _frames_of(_line_track(3))
    _run(tracker, frames)
    tracker.remove_source(0, restart_ids=True)
    assert _ids(_run(tracker, frames))[0] == [0]


def test_track_reports_the_target_box_and_leaves_the_list_alone() -> None:
    tracker = NvSortTracker(replace(_nvsort(), probation_age=0))
    objects = [_obj((100.0, 200.0, 80.0, 40.0)), _obj((600.0, 200.0, 80.0, 40.0), conf=0.01)]
    tracks = tracker.track(0, 0, objects)
    assert len(objects) == 2  # removal is the caller's
    assert [t.obj for t in tracks.objects] == [objects[0]]
    assert tracks.objects[0].target_id == objects[0].object_id == 0
    assert tracks.objects[0].box == pytest.approx((100.0, 200.0, 80.0, 40.0))
    assert objects[1].object_id == UNTRACKED_OBJECT_ID


def test_past_frames_report_the_probation_once_at_activation() -> None:
    c = replace(_nvsort(), probation_age=3, enable_past_frame=True)
    tracker = NvSortTracker(c)
    track = _line_track(6, noise=0.0)
    past = [tracker.track(0, num, _frames_of(track)[num]).past for num in range(6)]
    assert [len(p) for p in past] == [0, 0, 0, 1, 0, 0]
    (target,) = past[3]
    assert (target.target_id, target.class_id, target.label) == (0, 0, "a")
    assert [f.frame_num for f in target.frames] == [0, 1, 2]
    assert [f.age for f in target.frames] == [0, 1, 2]
    assert all(f.confidence == 1.0 for f in target.frames)
    assert target.frames[0].box == pytest.approx(track[0])


def test_past_frames_report_shadow_tracking_when_the_target_is_seen_again() -> None:
    c = replace(_nvsort(), probation_age=0, enable_past_frame=True)
    tracker = NvSortTracker(c)
    frames = _frames_of(_line_track(8, noise=0.0, missed={3, 4}))
    past = [tracker.track(0, num, frames[num]).past for num in range(8)]
    assert [len(p) for p in past] == [0, 0, 0, 0, 0, 1, 0, 0]
    (target,) = past[5]
    assert target.target_id == 0
    assert [(f.frame_num, f.confidence) for f in target.frames] == [(3, 0.0), (4, 0.0)]


def test_past_frames_are_off_by_default() -> None:
    tracker = NvSortTracker(replace(_nvsort(), probation_age=2))
    frames = _frames_of(_line_track(4))
    assert all(not tracker.track(0, n, frames[n]).past for n in range(4))


@pytest.mark.parametrize("estimator", list(StateEstimatorType))
def test_every_state_estimator_keeps_a_slow_track(estimator: StateEstimatorType) -> None:
    c = replace(_nvsort(), state_estimator_type=estimator, probation_age=1, use_prediction_4_assoc=True)
    c = replace(c, noise_weight_var_4_loc=-1.0) if estimator is StateEstimatorType.SIMPLE else c
    out = _ids(_run(NvSortTracker(c), _frames_of(_line_track(40, velocity=(3.0, 0.5), missed={20, 21}))))
    assert {i for ids in out for i in ids} == {0}


def test_regular_filter_with_absolute_noise() -> None:
    """REGULAR without noiseWeightVar4* falls back to the absolute process/measurement variances."""
    c = replace(_nvsort(), noise_weight_var_4_loc=-0.1, noise_weight_var_4_vel=-0.1, use_aspect_ratio=False)
    out = _ids(_run(NvSortTracker(c), _frames_of(_line_track(40, missed=set(range(20, 25))))))
    assert {i for ids in out for i in ids} == {0}


# ================================================================================ properties

_boxes = st.tuples(
    st.integers(0, 12).map(lambda v: v * 25.0),
    st.integers(0, 6).map(lambda v: v * 25.0),
    st.integers(2, 8).map(lambda v: v * 10.0),
    st.integers(2, 8).map(lambda v: v * 10.0),
    st.integers(0, 2),
    st.floats(0.0, 1.0),
)
_sequences = st.lists(st.lists(_boxes, max_size=6), min_size=1, max_size=25)
_configs = st.builds(
    lambda matcher, probation, shadow, early, check, predict, estimator, diff: replace(
        _nvsort(),
        association_matcher_type=matcher,
        probation_age=probation,
        max_shadow_tracking_age=shadow,
        early_termination_age=early,
        check_class_match=check,
        use_prediction_4_assoc=predict,
        state_estimator_type=estimator,
        min_iou_diff_4_new_target=diff,
        max_targets_per_stream=8,
    ),
    st.sampled_from(list(MatcherType)),
    st.integers(0, 3),
    st.integers(0, 5),
    st.integers(0, 2),
    st.booleans(),
    st.booleans(),
    st.sampled_from(list(StateEstimatorType)),
    st.sampled_from([0.3, 0.6, 1.0]),
)


def _objects(sequence: list[list[tuple]]) -> list[list[ObjectMeta]]:
    return [[_obj(d[:4], cls=d[4], conf=d[5]) for d in frame] for frame in sequence]


@settings(max_examples=150, deadline=None)
@given(config=_configs, sequence=_sequences)
def test_reported_ids_are_unique_tracked_and_never_come_back_after_termination(
    config: TrackerConfig, sequence: list[list[tuple]]
) -> None:
    tracker = NvSortTracker(config)
    frames = _objects(sequence)
    inputs = [list(objects) for objects in frames]
    out = _run(tracker, frames)
    last_seen: dict[int, int] = {}
    for f, objects in enumerate(out):
        ids = [o.object_id for o in objects]
        assert len(ids) == len(set(ids))  # one object per id per frame
        assert all(any(o is i for i in inputs[f]) for o in objects)  # the detector's own objects
        assert all(o.tracked and o.confidence >= config.min_detector_confidence for o in objects)
        for i in ids:
            if i in last_seen:  # a target is terminated after maxShadowTrackingAge unmatched frames
                assert f - last_seen[i] <= config.max_shadow_tracking_age + 1
            last_seen[i] = f
        assert tracker.target_count(0) <= config.max_targets_per_stream


@settings(max_examples=50, deadline=None)
@given(config=_configs, sequence=_sequences, unique=st.booleans())
def test_same_input_same_output(config: TrackerConfig, sequence: list[list[tuple]], unique: bool) -> None:
    config = replace(config, use_unique_id=unique)
    runs = [_ids(_run(NvSortTracker(config, seed=11), _objects(sequence))) for _ in range(2)]
    assert runs[0] == runs[1]
