"""Acceptance: a deepstream-test1/test2 style app (apps/deepstream_test_2.py) on a world clip.

nvinfer runs the traffic app's detector (``config_infer_primary_rtdetr.txt``, detector B's ONNX
file in ONNX Runtime), nvtracker runs NvSORT with past-frame output, and a secondary nvinfer runs
the unit tests' tiny colour classifier on the cars. What the app's probe read through pyds (its
JSON lines) is compared with the world's ground truth and with the pixels of the clip.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from acceptance import (
    APPS,
    detector_folder,
    elementary_stream,
    imported_top_level,
    run_app,
    tiny_models,
    world_clip,
)

pytestmark = pytest.mark.integration

APP_FILES = ("dstest2_tracker_config.txt", "config_tracker_NvSORT_pastframe.yml", "dstest2_sgie1_config.txt")
CLASSES = ("car", "truck", "bus", "motorcycle")
PROBATION_AGE = 5  # config_tracker_NvSORT_pastframe.yml

Box = tuple[float, float, float, float]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run on a 3 s world clip (seed 2004: cars and trucks, one car hidden by the bridge deck)."""
    base = tmp_path_factory.mktemp("test2-app")
    clip = elementary_stream(world_clip(base / "world", seed=2004))
    work = detector_folder(base / "work")
    tiny_models(work, "colour_classifier")
    (work / "colours.txt").write_text("red;green;blue\n", encoding="utf-8")
    for name in APP_FILES:
        shutil.copy(APPS / name, work / name)
    result = run_app(
        [str(APPS / "deepstream_test_2.py"), str(clip), "--objects-out", str(base / "objects.jsonl")],
        cwd=work,
        timeout=300,
    )
    assert result.returncode == 0, result.tail()
    frames = [json.loads(line) for line in (base / "objects.jsonl").read_text().splitlines()]
    truth: dict[int, list[tuple[int, int, Box, float]]] = collections.defaultdict(list)
    for line in (base / "world" / "gt.txt").read_text().splitlines():
        f, track, x, y, w, h, _, cls, vis = line.split(",")
        truth[int(f) - 1].append((int(track), int(cls), (float(x), float(y), float(w), float(h)), float(vis)))
    return {"result": result, "frames": frames, "truth": truth, "video": base / "world" / "video.mp4"}


def _iou(a: Box, b: Box) -> float:
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_every_frame_is_counted_on_screen(run: dict[str, Any]) -> None:
    out = run["result"].output
    lines = re.findall(r"^Frame Number=(\d+) Number of Objects=(\d+) (.*)$", out, re.MULTILINE)
    assert [int(n) for n, _, _ in lines] == list(range(90))
    for (n, total, counts), frame in zip(lines, run["frames"], strict=True):
        assert int(n) == frame["frame"] and int(total) == len(frame["objects"])
        by_class = collections.Counter(o["label"] for o in frame["objects"])
        assert counts == " ".join(f"{name}_count={by_class[name]}" for name in CLASSES)


def test_counts_per_class_follow_the_world(run: dict[str, Any]) -> None:
    """Loosely: most reported objects are true vehicles of their class, most clear vehicles are found."""
    matched = reported = found = clear = 0
    for frame in run["frames"]:
        truths = run["truth"][frame["frame"]]
        for obj in frame["objects"]:
            reported += 1
            same_class = [box for _, cls, box, _ in truths if cls == obj["class_id"]]
            matched += max((_iou(obj["box"], box) for box in same_class), default=0.0) >= 0.5
        for _, cls, box, visibility in truths:
            if visibility >= 0.7 and box[2] * box[3] >= 400:
                clear += 1
                found += any(o["class_id"] == cls and _iou(o["box"], box) >= 0.5 for o in frame["objects"])
    assert reported >= 300 and clear >= 300
    assert matched / reported >= 0.85, (matched, reported)
    assert found / clear >= 0.75, (found, clear)
    reported_classes = {o["label"] for frame in run["frames"] for o in frame["objects"]}
    true_classes = {CLASSES[cls] for rows in run["truth"].values() for _, cls, _, v in rows if v >= 0.7}
    assert reported_classes == true_classes == {"car", "truck"}


def test_tracker_ids_persist_while_a_vehicle_stays_in_view(run: dict[str, Any]) -> None:
    seen: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)  # truth id → (frame, tracker id)
    for frame in run["frames"]:
        assert all(o["id"] != 2**64 - 1 and o["tracker_confidence"] == 1.0 for o in frame["objects"])
        assert len({o["id"] for o in frame["objects"]}) == len(frame["objects"])
        assert all(o["text"] == f"{o['label']} {o['id']}" or o["text"].startswith(f"{o['label']} {o['id']} ")
                   for o in frame["objects"])  # fmt: skip
        for track, cls, box, _ in run["truth"][frame["frame"]]:
            best = max(((_iou(o["box"], box), o["id"]) for o in frame["objects"] if o["class_id"] == cls),
                       default=(0.0, None))  # fmt: skip
            if best[0] >= 0.5:
                seen[track].append((frame["frame"], best[1]))
    pairs = switches = 0
    owner: dict[int, int] = {}
    for track, hits in seen.items():
        for (f1, id1), (f2, id2) in itertools.pairwise(hits):
            if f2 - f1 <= 3:  # seen again within 3 frames: the same target
                pairs += 1
                switches += id1 != id2
        for _, tracker_id in hits:
            assert owner.setdefault(tracker_id, track) == track, f"tracker id {tracker_id} on two vehicles"
    assert pairs >= 300
    assert switches <= max(1, pairs // 100), (switches, pairs)


def test_past_frame_meta_holds_each_targets_probation(run: dict[str, Any]) -> None:
    reported_at = {}
    for frame in run["frames"]:
        for obj in frame["objects"]:
            reported_at.setdefault(obj["id"], (frame["frame"], obj["class_id"], obj["label"]))
    targets = [(frame["frame"], t) for frame in run["frames"] for t in frame["past"]]
    assert len(targets) >= 5
    activated = set()
    for frame_num, target in targets:
        assert (target["stream"], target["surface_stream"]) == (0, 0)
        assert target["num"] == len(target["frames"]) >= 1
        numbers = [f[0] for f in target["frames"]]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) and numbers[-1] < frame_num
        first = reported_at.get(target["id"])
        assert first is not None, f"past-frame data for target {target['id']} that was never reported"
        assert (target["class_id"], target["label"]) == first[1:]
        if first[0] == frame_num:  # the batch that activated it carries its probation frames
            activated.add(target["id"])
            assert len(numbers) == PROBATION_AGE and numbers[-1] == frame_num - 1
            assert [f[6] for f in target["frames"]] == list(range(PROBATION_AGE))  # age
            assert all(f[5] == 1.0 for f in target["frames"])  # each frame had a detection
    assert activated, "every new target reports its probation once"
    # every target reported after the first frames was activated with past-frame data
    late = {i for i, (f, _, _) in reported_at.items() if f >= PROBATION_AGE}
    assert late <= activated, late - activated


def _decoded(video: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            return frames
        frames.append(image)


def test_the_secondary_classifier_names_the_colour_of_the_car(run: dict[str, Any]) -> None:
    """The tiny classifier is softmax(20 x mean RGB) of the crop: recompute it from the clip's pixels."""
    images = _decoded(run["video"])
    assert len(images) == 90
    first_seen: dict[int, tuple[int, dict[str, Any]]] = {}
    for frame in run["frames"]:
        for obj in frame["objects"]:
            labels = obj["classifier"]
            assert all(uid == 2 and label in ("red", "green", "blue") for uid, label, _ in labels)
            if obj["class_id"] != 0:
                assert labels == [], "operate-on-class-ids=0: only cars are classified"
            w, h = obj["box"][2:]
            if obj["class_id"] == 0 and w >= 32 and h >= 32:
                first_seen.setdefault(obj["id"], (frame["frame"], obj))
    labelled = unlabelled = 0
    for frame_num, obj in first_seen.values():
        left, top, w, h = (int(v) for v in obj["box"])
        crop = images[frame_num][top : top + h, left : left + w]
        means = cv2.resize(crop, (32, 32), interpolation=cv2.INTER_LINEAR)[:, :, ::-1].reshape(-1, 3).mean(0)
        odds = np.exp(20 * means / 255.0)
        probabilities = odds / odds.sum()
        if probabilities.max() > 0.6:
            [(_, label, probability)] = obj["classifier"]
            assert label == ("red", "green", "blue")[int(probabilities.argmax())]
            assert abs(probability - probabilities.max()) < 0.1
            assert obj["text"] == f"car {obj['id']} {label} "  # the label appended to the tracker's text
            labelled += 1
        elif probabilities.max() < 0.45:
            assert obj["classifier"] == []
            unlabelled += 1
    assert labelled >= 3 and unlabelled >= 2, (labelled, unlabelled)


def test_the_app_imports_nothing_of_edge_harness() -> None:
    imported = imported_top_level(APPS / "deepstream_test_2.py")
    assert {"gi", "pyds"} <= imported and not imported & {"harness", "fake_device"}
