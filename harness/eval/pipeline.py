"""Scoring a DeepStream pipeline run against the synthetic world's ground truth.

A run leaves two things behind that can be checked against the world's exact truth:

* ``tracks.txt`` — what the tracker and nvdsanalytics produced for every frame, in the MOT layout
  of ``gt.txt`` (``frame,id,x,y,w,h,conf,class,-1,roi``; :class:`TrackWriter` writes it from frame
  metadata, :func:`read_tracks` reads it);
* ``messages.jsonl`` — the Kafka messages a consumer read, one minimal-schema payload per line,
  optionally wrapped as ``{"received_ns": …, "payload": {…}}`` with the consumer's receive time.

From these, :func:`score_pipeline` computes tracking accuracy (MOTA, IDF1, MOTP with
py-motmetrics, which is checked against the MOT Challenge's devkit), ROI membership precision/recall,
counting error and frame → Kafka latency, and checks the goals. Everything is a pure function of
the files, so a test can feed hand-made rows and a CI job can score a real run the same way.

The don't-care rule matches the detector's training and :mod:`harness.eval.truth`: a truth box
less than ``min_visibility`` visible is not a vehicle anyone can demand, so a prediction on it is
neither a true nor a false positive, and missing it costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

import numpy as np

from harness.errors import HarnessError
from harness.eval.run import check_held_out
from harness.eval.truth import IGNORE_BELOW_VISIBILITY
from harness.world import CLASS_NAMES, point_in_polygon

if TYPE_CHECKING:
    from fake_device.deepstream.meta import FrameMeta

#: a prediction and a truth box are the same object from this IoU on (MOT Challenge, COCO AP50)
IOU_THRESHOLD = 0.5
#: the seed's app sends a message for every 30th frame (``frame_num % 30 == 0``, as deepstream-test4)
MESSAGE_INTERVAL = 30
DEFAULT_MIN_MOTA = 0.80
DEFAULT_MAX_COUNT_ERROR = 0.05
#: NvDsObjectMeta.object_id of an object no tracker has seen (nvdsmeta.h UNTRACKED_OBJECT_ID)
UNTRACKED_ID = 0xFFFFFFFFFFFFFFFF

TRACK_FIELDS = 10
GT_FIELDS = 9
_NO_ROI = "-"


# -- the world's truth ------------------------------------------------------------------------


@dataclass(frozen=True)
class GtRow:
    """One ``gt.txt`` row: a vehicle's box (0-based pixels) in one frame."""

    frame: int
    id: int
    x: float
    y: float
    w: float
    h: float
    class_id: int
    visibility: float

    @property
    def bottom_centre(self) -> tuple[float, float]:
        """The point nvdsanalytics tests against the ROI."""
        return (self.x + self.w / 2, self.y + self.h)


@dataclass(frozen=True)
class WorldTruth:
    """What a run is scored against: ``gt.txt`` by frame and the ROI of ``truth.json``."""

    directory: Path
    seed: int | None
    frame_count: int
    width: int
    height: int
    roi_label: str
    roi_polygon: tuple[tuple[float, float], ...]
    entered_ids: tuple[int, ...]
    frames: Mapping[int, tuple[GtRow, ...]]
    vehicle_class: Mapping[int, int]  # truth id → world class id

    def in_roi(self, row: GtRow) -> bool:
        return point_in_polygon(row.bottom_centre, self.roi_polygon)


def _parse_gt_line(text: str, where: str) -> GtRow:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != GT_FIELDS:
        raise HarnessError(
            f"{where}: expected {GT_FIELDS} comma-separated fields "
            f"(frame,id,x,y,w,h,conf,class,visibility), got {len(parts)}"
        )
    try:
        frame, track_id, class_id = int(parts[0]), int(parts[1]), int(parts[7])
        x, y, w, h, visibility = (float(parts[i]) for i in (2, 3, 4, 5, 8))
    except ValueError as error:
        raise HarnessError(f"{where}: not a number: {error}") from None
    if frame < 1:
        raise HarnessError(f"{where}: frame {frame}: frames count from 1")
    return GtRow(frame, track_id, x, y, w, h, class_id, visibility)


def load_world_truth(truth_dir: str | Path) -> WorldTruth:
    """Read ``gt.txt`` and ``truth.json`` of a world directory (``edge-harness world make --out``)."""
    directory = Path(truth_dir)
    hint = f"make a world with: edge-harness world make --seed N --out {directory}"
    if not directory.is_dir():
        raise HarnessError(f"world directory {directory} does not exist", hint=hint)
    gt_path, truth_path = directory / "gt.txt", directory / "truth.json"
    if not gt_path.is_file():
        raise HarnessError(f"{gt_path} is missing: no ground truth to score against", hint=hint)
    if not truth_path.is_file():
        raise HarnessError(f"{truth_path} is missing: no ROI and frame count to score against", hint=hint)
    try:
        gt_bytes = gt_path.read_bytes()
        doc = json.loads(truth_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise HarnessError(f"cannot read {error.filename}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HarnessError(f"{truth_path}: not JSON: {error}") from None
    if not isinstance(doc, dict):
        raise HarnessError(f"{truth_path}: expected a JSON object (edge-harness-world/1)")
    roi = doc.get("roi")
    if not isinstance(roi, dict) or not {"label", "polygon", "entered_ids"} <= roi.keys():
        raise HarnessError(
            f"{truth_path} has no ROI (an 'roi' object with label, polygon and entered_ids)",
            hint="ROI truth comes from edge-harness world make; is this a world directory?",
        )
    expected_sha = doc.get("gt_sha256")
    if expected_sha is not None and hashlib.sha256(gt_bytes).hexdigest() != expected_sha:
        raise HarnessError(
            f"{gt_path} does not belong to {truth_path} (its SHA-256 is not truth.json's gt_sha256)",
            hint="score against an unmodified world directory",
        )
    try:
        polygon = tuple((float(x), float(y)) for x, y in roi["polygon"])
        entered = tuple(int(i) for i in roi["entered_ids"])
    except (TypeError, ValueError):
        raise HarnessError(f"{truth_path}: roi.polygon must be [[x, y], …] and roi.entered_ids ids") from None
    if len(polygon) < 3:
        raise HarnessError(f"{truth_path}: roi.polygon has {len(polygon)} points, a polygon needs 3")

    frames: dict[int, list[GtRow]] = {}
    vehicle_class: dict[int, int] = {}
    text = gt_bytes.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = _parse_gt_line(line, f"{gt_path}:{number}")
        frames.setdefault(row.frame, []).append(row)
        vehicle_class.setdefault(row.id, row.class_id)
    frame_count = doc.get("frame_count")
    if not isinstance(frame_count, int) or frame_count < 1:
        frame_count = max(frames, default=0)
    seed = doc.get("seed")
    return WorldTruth(
        directory=directory,
        seed=seed if isinstance(seed, int) else None,
        frame_count=frame_count,
        width=int(doc.get("width", 0)),
        height=int(doc.get("height", 0)),
        roi_label=str(roi["label"]),
        roi_polygon=polygon,
        entered_ids=entered,
        frames={k: tuple(v) for k, v in frames.items()},
        vehicle_class=vehicle_class,
    )


# -- tracks.txt -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackRow:
    """One ``tracks.txt`` row: a tracked object in one frame (``frame`` = DeepStream frame_num + 1)."""

    frame: int
    id: int
    x: float
    y: float
    w: float
    h: float
    confidence: float
    class_id: int
    rois: tuple[str, ...]  # nvdsanalytics roiStatus: the ROI labels the object was in
    line: int = 0  # where it came from, for error messages


def _fmt(value: float, decimals: int) -> str:
    if not math.isfinite(value):
        raise ValueError(f"cannot write the non-finite value {value} to tracks.txt")
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class TrackWriter:
    """Writes ``tracks.txt`` from frame metadata after the tracker and nvdsanalytics.

    One file per source: frame numbers restart per source in DeepStream, so two sources in one
    file would collide. Each frame is flushed, so a run that dies still leaves its rows to score.
    Untracked objects (``object_id`` = UNTRACKED_OBJECT_ID) are skipped: DeepStream's tracker
    drops them too, and they have no identity to score.
    """

    def __init__(self, path: str | Path, *, source_id: int | None = None) -> None:
        self.path = Path(path)
        self.source_id = source_id
        self.rows = 0
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")

    def write_frame(self, frame: FrameMeta) -> int:
        """Append the frame's tracked objects; returns how many rows were written."""
        if self._file is None:
            raise ValueError(f"{self.path}: the writer is closed")
        if self.source_id is None:
            self.source_id = frame.source_id
        elif frame.source_id != self.source_id:
            raise ValueError(
                f"{self.path}: frame of source {frame.source_id} in the tracks of source {self.source_id}; "
                "use one TrackWriter per source"
            )
        lines = []
        for obj in frame.objects:
            if obj.object_id == UNTRACKED_ID:
                continue
            rois = list(obj.analytics.roi_status) if obj.analytics is not None else []
            for label in rois:
                if not label or label == _NO_ROI or any(c in label for c in ",;\n"):
                    raise ValueError(f"ROI label {label!r} cannot be written to tracks.txt")
            lines.append(
                ",".join(
                    (
                        str(frame.frame_num + 1),
                        str(obj.object_id),
                        _fmt(float(obj.left), 2),
                        _fmt(float(obj.top), 2),
                        _fmt(float(obj.width), 2),
                        _fmt(float(obj.height), 2),
                        _fmt(float(obj.confidence), 4),
                        str(obj.class_id),
                        "-1",
                        ";".join(rois) or _NO_ROI,
                    )
                )
            )
        if lines:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        self.rows += len(lines)
        return len(lines)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_track_line(text: str, where: str, number: int) -> TrackRow:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != TRACK_FIELDS:
        raise HarnessError(
            f"{where}: expected {TRACK_FIELDS} comma-separated fields "
            f"(frame,id,x,y,w,h,conf,class,-1,roi), got {len(parts)}"
        )
    try:
        frame, track_id, class_id = int(parts[0]), int(parts[1]), int(parts[7])
        x, y, w, h, confidence = (float(parts[i]) for i in (2, 3, 4, 5, 6))
        float(parts[8])
    except ValueError as error:
        raise HarnessError(f"{where}: not a number: {error}") from None
    if frame < 1:
        raise HarnessError(f"{where}: frame {frame}: frames count from 1 (DeepStream frame_num + 1)")
    if track_id < 0:
        raise HarnessError(f"{where}: negative track id {track_id}")
    if not all(math.isfinite(v) for v in (x, y, w, h, confidence)) or w < 0 or h < 0:
        raise HarnessError(f"{where}: box {x},{y},{w},{h} is not a finite box with w, h ≥ 0")
    roi = parts[9]
    rois = () if roi in ("", _NO_ROI) else tuple(label.strip() for label in roi.split(";"))
    return TrackRow(frame, track_id, x, y, w, h, confidence, class_id, rois, number)


def read_tracks(path: str | Path) -> list[TrackRow]:
    """Read ``tracks.txt``; a bad row is an error naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise HarnessError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise HarnessError(f"{path}: not UTF-8 text: {error}") from None
    rows: list[TrackRow] = []
    seen: dict[tuple[int, int], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = _parse_track_line(line, f"{path}:{number}", number)
        first = seen.setdefault((row.frame, row.id), number)
        if first != number:
            raise HarnessError(
                f"{path}:{number}: track {row.id} appears twice in frame {row.frame} (first on line {first})"
            )
        rows.append(row)
    return rows


# -- messages.jsonl ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageObject:
    """One object string of a minimal-schema payload.

    ``trackingId|left|top|right|bottom|Type`` then, from event metadata,
    ``|#|<extension fields>|confidence`` (vehicle: ``type|make|model|color|license|region``), or
    nothing more from ``msg2p-newapi``, where ``Type`` is the object's label. ``label`` is the
    class the object claims: the vehicle type when set, else ``Type``.
    """

    tracking_id: int
    left: float
    top: float
    right: float
    bottom: float
    type_name: str
    label: str
    confidence: float | None

    @property
    def tracked(self) -> bool:
        return self.tracking_id != UNTRACKED_ID


@dataclass(frozen=True)
class Message:
    """One minimal-schema payload (``id`` is DeepStream's frame_num, so truth frame = id + 1)."""

    frame_id: int
    timestamp: str
    sensor_id: str
    objects: tuple[MessageObject, ...]
    received_ns: int | None = None
    line: int = 0

    @property
    def truth_frame(self) -> int:
        return self.frame_id + 1


_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z")


def parse_rfc3339_ns(text: str) -> int:
    """``2018-04-11T04:59:59.828Z`` → nanoseconds since the epoch, without float rounding."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp (like 2024-05-01T12:00:00.123Z)")
    date, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    stamp = datetime.fromisoformat(f"{date}T{clock}{zone}")
    seconds = int((stamp - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def parse_object_string(text: str) -> MessageObject | None:
    """A minimal-schema object string → :class:`MessageObject`; ``None`` for a dummy (empty) one."""
    if text == "":
        return None
    parts = text.split("|")
    if len(parts) < 6:
        raise ValueError(
            f"expected at least 6 '|'-separated fields (trackingId|left|top|right|bottom|Type…), "
            f"got {len(parts)}"
        )
    try:
        tracking_id = int(parts[0])
        left, top, right, bottom = (float(p) for p in parts[1:5])
    except ValueError as error:
        raise ValueError(f"not a number: {error}") from None
    if not all(math.isfinite(v) for v in (left, top, right, bottom)):
        raise ValueError("non-finite box coordinate")
    type_name = parts[5]
    label = type_name
    if len(parts) > 7 and parts[6] == "#" and type_name == "Vehicle" and parts[7]:
        label = parts[7]
    confidence = None
    if len(parts) > 6:
        try:
            confidence = float(parts[-1])
        except ValueError:
            raise ValueError(f"the last field {parts[-1]!r} is not a confidence") from None
    return MessageObject(tracking_id, left, top, right, bottom, type_name, label, confidence)


def _parse_message(doc: Any, where: str, number: int, received_ns: int | None) -> Message:
    if not isinstance(doc, dict):
        raise HarnessError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    if "objects" not in doc:
        if "object" in doc or "messageid" in doc:
            raise HarnessError(
                f"{where}: a full-schema message (payload-type 0): frame-level scoring needs the minimal "
                "schema, whose 'id' is the frame number",
                hint="set msg-conv-payload-type=1 (payload_type=1) in the app to score its messages",
            )
        raise HarnessError(f"{where}: not a DeepStream minimal-schema payload (no 'objects' list)")
    objects_doc, frame_doc = doc["objects"], doc.get("id")
    if not isinstance(objects_doc, list) or not all(isinstance(o, str) for o in objects_doc):
        raise HarnessError(f"{where}: 'objects' must be a list of strings (minimal schema)")
    try:
        frame_id = int(frame_doc)  # a string in DeepStream's payload
    except (TypeError, ValueError):
        raise HarnessError(f"{where}: 'id' {frame_doc!r} is not a frame number") from None
    if frame_id < 0:
        raise HarnessError(f"{where}: 'id' {frame_id} is not a frame number")
    objects = []
    for index, text in enumerate(objects_doc, 1):
        try:
            obj = parse_object_string(text)
        except ValueError as error:
            raise HarnessError(f"{where}: object {index} {text!r}: {error}") from None
        if obj is not None:
            objects.append(obj)
    timestamp = doc.get("@timestamp")
    return Message(
        frame_id=frame_id,
        timestamp=timestamp if isinstance(timestamp, str) else "",
        sensor_id=str(doc.get("sensorId", "")),
        objects=tuple(objects),
        received_ns=received_ns,
        line=number,
    )


def read_messages(path: str | Path) -> list[Message]:
    """Read ``messages.jsonl``: one payload per line, plain or ``{"received_ns": …, "payload": …}``.

    The payload of a wrapped line may also be the message text (a JSON string), as a consumer
    that stores Kafka values verbatim would write it.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise HarnessError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise HarnessError(f"{path}: not UTF-8 text: {error}") from None
    messages = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as error:
            raise HarnessError(
                f"{where}: not JSON: {error.msg} (column {error.colno})",
                hint="one JSON document per line; re-serialise pretty-printed payloads with json.dumps",
            ) from None
        received_ns = None
        if isinstance(doc, dict) and "payload" in doc and "objects" not in doc:
            received = doc.get("received_ns")
            if received is not None and (not isinstance(received, int) or isinstance(received, bool)):
                raise HarnessError(f"{where}: received_ns must be an integer (ns since the epoch)")
            received_ns = received
            doc = doc["payload"]
            if isinstance(doc, str):
                try:
                    doc = json.loads(doc)
                except json.JSONDecodeError as error:
                    raise HarnessError(f"{where}: the payload text is not JSON: {error.msg}") from None
        messages.append(_parse_message(doc, where, number, received_ns))
    return messages


# -- matching ---------------------------------------------------------------------------------


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` [N, 4] with every box in ``b`` [M, 4] (x1, y1, x2, y2)."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _match(valid: np.ndarray, iou: np.ndarray) -> list[tuple[int, int]]:
    """Hungarian matching: as many valid pairs as possible, then the highest total IoU."""
    if not valid.any():
        return []
    from scipy.optimize import linear_sum_assignment

    penalty = min(valid.shape) + 1.0  # above any sum of valid costs: a valid pair always wins
    rows, cols = linear_sum_assignment(np.where(valid, 1.0 - iou, penalty))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if valid[r, c]]


def _boxes(rows: Sequence[GtRow | TrackRow]) -> np.ndarray:
    if not rows:
        return np.zeros((0, 4))
    return np.array([[r.x, r.y, r.x + r.w, r.y + r.h] for r in rows], dtype=np.float64)


def _pairs(
    truth_boxes: np.ndarray,
    truth_classes: Sequence[int | None],
    pred_boxes: np.ndarray,
    pred_classes: Sequence[int | None],
    class_aware: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """IoU and the valid-pair mask (IoU ≥ 0.5 and, class-aware, the same class)."""
    iou = _iou(truth_boxes, pred_boxes)
    valid = iou >= IOU_THRESHOLD
    if class_aware and valid.size:
        valid &= np.array(truth_classes)[:, None] == np.array(pred_classes)[None, :]
    return iou, valid


# -- results ----------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: such figures become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class TrackingScore:
    """CLEAR MOT and identity figures of ``tracks.txt`` (py-motmetrics, IoU ≥ 0.5).

    ``motp`` is the mean IoU of matched pairs (higher is better, as the MOT Challenge prints it;
    py-motmetrics' own ``motp`` is 1 − this). ``gt_rows`` and ``misses`` count only truth rows at
    or above the visibility threshold; ``dont_care_rows`` are the others and
    ``dont_care_predictions`` the predictions that matched them and were removed.
    """

    frames: int
    mota: float
    idf1: float
    motp: float
    id_switches: int
    false_positives: int
    misses: int
    matches: int
    gt_rows: int
    predictions: int
    gt_objects: int
    tracks: int
    precision: float
    recall: float
    idp: float
    idr: float
    mostly_tracked: int
    mostly_lost: int
    fragmentations: int
    dont_care_rows: int
    dont_care_predictions: int

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass(frozen=True)
class MembershipScore:
    """Whether the objects reported in the ROI are the vehicles that are in it.

    Truth: vehicles whose box's bottom-centre is inside the ROI polygon. Predictions: the
    objects the source puts in the ROI (every message object; tracks rows whose roi column has
    the label). ``ignored`` predictions matched a don't-care truth box. ``class_correct`` of the
    true positives carry the matched vehicle's class (``class_accuracy`` = that share): a label
    that is not one of the world's classes — a one-class detector's ``vehicle`` — is never right,
    which is what tells a detector that names classes from one that cannot.
    """

    source: str
    frames: int
    truth: int
    predicted: int
    true_positives: int
    false_positives: int
    false_negatives: int
    ignored: int
    precision: float | None
    recall: float | None
    class_correct: int = 0
    class_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass(frozen=True)
class ClassCount:
    predicted: int
    truth: int
    error: float  # |predicted − truth| / truth; inf when truth is 0 and predicted is not


@dataclass(frozen=True)
class CountScore:
    """Distinct vehicles counted in the ROI against the truth (``error`` = |pred − truth| / truth)."""

    source: str
    predicted: int
    truth: int
    error: float
    truth_rule: str
    per_class: dict[str, ClassCount] | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass(frozen=True)
class LatencyScore:
    """Event → Kafka latency: consumer receive time − the message's ``@timestamp`` (set in the app's probe).

    ``@timestamp`` has millisecond resolution (truncated), so figures can read up to 1 ms high.
    """

    messages: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass(frozen=True)
class Goal:
    """One pass/fail criterion (``op`` is ``>=`` or ``<=``)."""

    name: str
    value: float | None
    op: str
    limit: float
    met: bool

    def describe(self) -> str:
        """``MOTA 0.712 < 0.800`` — the relation as it is, so a missed goal reads as such."""
        if self.value is None or math.isnan(self.value):
            return f"{self.name} undefined (goal {self.op} {self.limit:.3f})"
        shown = "inf" if math.isinf(self.value) else f"{self.value:.3f}"
        relation = self.op if self.met else {">=": "<", "<=": ">"}[self.op]
        return f"{self.name} {shown} {relation} {self.limit:.3f}"


@dataclass
class PipelineScore:
    """Everything :func:`score_pipeline` measured (``to_dict`` is the ``--json`` document)."""

    truth_dir: Path
    seed: int | None
    tracks_file: Path | None
    messages_file: Path | None
    frames: int
    roi_label: str
    min_visibility: float
    class_aware: bool
    message_interval: int | None
    tracking: TrackingScore | None = None
    roi_messages: MembershipScore | None = None
    roi_tracks: MembershipScore | None = None
    count_messages: CountScore | None = None
    count_tracks: CountScore | None = None
    latency: LatencyScore | None = None
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.met for g in self.goals)

    @property
    def missed(self) -> list[Goal]:
        return [g for g in self.goals if not g.met]

    def to_dict(self) -> dict[str, Any]:
        def part(value: Any) -> Any:
            return value.to_dict() if value is not None else None

        return _clean(
            {
                "truth": {
                    "dir": str(self.truth_dir),
                    "seed": self.seed,
                    "frames": self.frames,
                    "roi": self.roi_label,
                    "dont_care_rule": f"visibility < {self.min_visibility}: neither found nor missed",
                },
                "tracks_file": str(self.tracks_file) if self.tracks_file else None,
                "messages_file": str(self.messages_file) if self.messages_file else None,
                "class_aware": self.class_aware,
                "message_interval": self.message_interval,
                "iou_threshold": IOU_THRESHOLD,
                "tracking": part(self.tracking),
                "roi_membership": {"messages": part(self.roi_messages), "tracks": part(self.roi_tracks)},
                "counting": {"messages": part(self.count_messages), "tracks": part(self.count_tracks)},
                "latency": part(self.latency),
                "goals": [asdict(g) for g in self.goals],
                "passed": self.passed,
                "notes": self.notes,
            }
        )


# -- scoring ----------------------------------------------------------------------------------


def score_tracking(
    truth: WorldTruth,
    tracks: Sequence[TrackRow],
    *,
    min_visibility: float = IGNORE_BELOW_VISIBILITY,
    class_aware: bool = False,
) -> TrackingScore:
    """MOTA, IDF1, MOTP … of ``tracks`` over every frame of the world.

    Per frame, predictions are first matched (Hungarian, IoU ≥ 0.5) against all truth boxes; the
    ones matched to a don't-care box are removed, the rest go to py-motmetrics with the truth
    boxes that count. Frames without tracks still count (their vehicles are misses).
    """
    import motmetrics as mm

    by_frame: dict[int, list[TrackRow]] = {}
    for row in tracks:
        by_frame.setdefault(row.frame, []).append(row)
    dense: dict[int, int] = {}  # tracker ids can be any uint64; motmetrics keeps them in int64 columns
    accumulator = mm.MOTAccumulator(auto_id=False)
    dont_care_rows = dont_care_predictions = 0
    for frame in range(1, truth.frame_count + 1):
        gt = truth.frames.get(frame, ())
        preds = by_frame.get(frame, [])
        iou, valid = _pairs(
            _boxes(gt), [g.class_id for g in gt], _boxes(preds), [p.class_id for p in preds], class_aware
        )
        care = np.array([g.visibility >= min_visibility for g in gt], dtype=bool)
        dont_care_rows += int((~care).sum())
        removed = {p for g, p in _match(valid, iou) if not care[g]}
        dont_care_predictions += len(removed)
        keep = np.array([i for i in range(len(preds)) if i not in removed], dtype=np.int64)
        care_index = np.flatnonzero(care)
        distances = 1.0 - iou[np.ix_(care_index, keep)]
        distances[~valid[np.ix_(care_index, keep)]] = np.nan
        accumulator.update(
            [gt[i].id for i in care_index],
            [dense.setdefault(preds[int(i)].id, len(dense)) for i in keep],
            distances,
            frameid=frame,
        )
    names = [
        "mota",
        "motp",
        "idf1",
        "idp",
        "idr",
        "num_switches",
        "num_false_positives",
        "num_misses",
        "num_matches",
        "num_objects",
        "num_predictions",
        "num_unique_objects",
        "precision",
        "recall",
        "mostly_tracked",
        "mostly_lost",
        "num_fragmentations",
    ]
    summary = mm.metrics.create().compute(accumulator, metrics=names, name="run").iloc[0]
    value = {name: float(summary[name]) for name in names}
    gt_rows = int(value["num_objects"])
    return TrackingScore(
        frames=truth.frame_count,
        mota=value["mota"] if gt_rows else math.nan,
        idf1=value["idf1"],
        motp=1.0 - value["motp"],
        id_switches=int(value["num_switches"]),
        false_positives=int(value["num_false_positives"]),
        misses=int(value["num_misses"]),
        matches=int(value["num_matches"]),
        gt_rows=gt_rows,
        predictions=int(value["num_predictions"]),
        gt_objects=int(value["num_unique_objects"]),
        tracks=len({row.id for row in tracks}),
        precision=value["precision"],
        recall=value["recall"],
        idp=value["idp"],
        idr=value["idr"],
        mostly_tracked=int(value["mostly_tracked"]),
        mostly_lost=int(value["mostly_lost"]),
        fragmentations=int(value["num_fragmentations"]),
        dont_care_rows=dont_care_rows,
        dont_care_predictions=dont_care_predictions,
    )


@dataclass(frozen=True)
class _Claim:
    """An object a source says is in the ROI at one frame."""

    id: int | None  # None: untracked
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    class_id: int | None  # world class id, None when the label is not a world class


@dataclass
class _MembershipTally:
    labelled: bool = True  # claims carry world classes (tracks: only when scored class-aware)
    frames: int = 0
    truth: int = 0
    predicted: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    ignored: int = 0
    class_correct: int = 0
    truth_ids: set[int] = field(default_factory=set)  # truth in the ROI that counts, at a scored frame
    # per claim that did not match a don't-care box: (tracking id, class id)
    counted_claims: list[tuple[int, int | None]] = field(default_factory=list)

    def score(self, source: str) -> MembershipScore:
        return MembershipScore(
            source=source,
            frames=self.frames,
            truth=self.truth,
            predicted=self.predicted,
            true_positives=self.tp,
            false_positives=self.fp,
            false_negatives=self.fn,
            ignored=self.ignored,
            precision=_ratio(self.tp, self.tp + self.fp),
            recall=_ratio(self.tp, self.tp + self.fn),
            class_correct=self.class_correct,
            class_accuracy=_ratio(self.class_correct, self.tp) if self.labelled else None,
        )


def _score_membership(
    truth: WorldTruth,
    claims: Mapping[int, Sequence[_Claim]],
    frames: Iterable[int],
    *,
    min_visibility: float,
    class_aware: bool,
    labelled: bool = True,
) -> _MembershipTally:
    tally = _MembershipTally(labelled=labelled)
    for frame in frames:
        tally.frames += 1
        gt = [g for g in truth.frames.get(frame, ()) if truth.in_roi(g)]
        preds = list(claims.get(frame, ()))
        care = [g.visibility >= min_visibility for g in gt]
        pred_boxes = np.array([c.box for c in preds], dtype=np.float64).reshape(-1, 4)
        iou, valid = _pairs(
            _boxes(gt), [g.class_id for g in gt], pred_boxes, [c.class_id for c in preds], class_aware
        )
        matched = {p: g for g, p in _match(valid, iou)}
        tally.truth += sum(care)
        tally.predicted += len(preds)
        tally.truth_ids.update(g.id for g, c in zip(gt, care, strict=True) if c)
        found = {g for g in matched.values() if care[g]}
        tally.fn += sum(care) - len(found)
        for index, claim in enumerate(preds):
            g = matched.get(index)
            if g is not None and not care[g]:
                tally.ignored += 1
                continue
            if g is None:
                tally.fp += 1
            else:
                tally.tp += 1
                tally.class_correct += claim.class_id is not None and claim.class_id == gt[g].class_id
            if claim.id is not None:
                tally.counted_claims.append((claim.id, claim.class_id))
    return tally


def _count_error(predicted: int, truth: int) -> float:
    if truth == 0:
        return 0.0 if predicted == 0 else math.inf
    return abs(predicted - truth) / truth


def _majority(values: Iterable[int]) -> int:
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v))


def _count(
    source: str,
    predicted_ids: Mapping[int, list[int | None]],
    truth_ids: Iterable[int],
    truth_class: Mapping[int, int],
    truth_rule: str,
    per_class: bool,
) -> CountScore:
    """Distinct ids; per class the majority class of each predicted id's claims."""
    truth_set = set(truth_ids)
    classes = None
    if per_class:
        predicted_class = {}
        for i, cls in predicted_ids.items():
            known = [c for c in cls if c is not None]
            if known:
                predicted_class[i] = _majority(known)
        classes = {}
        for class_id, name in enumerate(CLASS_NAMES):
            p = sum(1 for c in predicted_class.values() if c == class_id)
            t = sum(1 for i in truth_set if truth_class.get(i) == class_id)
            classes[name] = ClassCount(p, t, _count_error(p, t))
    return CountScore(
        source=source,
        predicted=len(predicted_ids),
        truth=len(truth_set),
        error=_count_error(len(predicted_ids), len(truth_set)),
        truth_rule=truth_rule,
        per_class=classes,
    )


def score_latency(messages: Sequence[Message], source: str | Path = "messages") -> LatencyScore | None:
    """Percentiles of received − ``@timestamp`` over the messages that carry a receive time.

    Messages are expected deduplicated (one per frame): a redelivery's later receive time says
    something about the consumer, not about the pipeline.
    """
    values = []
    for message in messages:
        if message.received_ns is None:
            continue
        try:
            sent = parse_rfc3339_ns(message.timestamp)
        except ValueError as error:
            raise HarnessError(f"{source}:{message.line}: @timestamp: {error}") from None
        values.append((message.received_ns - sent) / 1e6)
    if not values:
        return None
    arr = np.array(values)
    p50, p95, p99 = (float(v) for v in np.percentile(arr, [50, 95, 99]))
    return LatencyScore(
        messages=len(values),
        p50_ms=round(p50, 3),
        p95_ms=round(p95, 3),
        p99_ms=round(p99, 3),
        mean_ms=round(float(arr.mean()), 3),
        min_ms=round(float(arr.min()), 3),
        max_ms=round(float(arr.max()), 3),
    )


def _world_class(label: str) -> int | None:
    name = label.strip().lower()
    return CLASS_NAMES.index(name) if name in CLASS_NAMES else None


def _dedupe_messages(path: Path, messages: Sequence[Message], notes: list[str]) -> list[Message]:
    """Kafka delivers at least once: identical repeats of a frame's message are dropped."""
    first: dict[int, Message] = {}
    duplicates = 0
    for message in messages:
        earlier = first.get(message.frame_id)
        if earlier is None:
            first[message.frame_id] = message
        elif earlier.objects == message.objects:
            duplicates += 1
        else:
            raise HarnessError(
                f"{path}:{message.line}: frame id {message.frame_id} already came on line {earlier.line} "
                "with other objects",
                hint="one pipeline run and one camera per file",
            )
    if duplicates:
        notes.append(f"{duplicates} repeated message(s) (at-least-once delivery) scored once")
    sensors = sorted({m.sensor_id for m in first.values()})
    if len(sensors) > 1:
        raise HarnessError(
            f"{path}: messages of {len(sensors)} sensors ({', '.join(map(repr, sensors[:4]))}); the world "
            "is one camera",
            hint="filter the messages by sensorId first",
        )
    return sorted(first.values(), key=lambda m: m.frame_id)


def score_pipeline(
    truth_dir: str | Path,
    tracks: str | Path | None = None,
    messages: str | Path | None = None,
    *,
    min_visibility: float = IGNORE_BELOW_VISIBILITY,
    class_aware: bool = False,
    message_interval: int | None = MESSAGE_INTERVAL,
    min_mota: float = DEFAULT_MIN_MOTA,
    max_count_error: float = DEFAULT_MAX_COUNT_ERROR,
    allow_training_seeds: bool = False,
) -> PipelineScore:
    """Score a pipeline run's ``tracks.txt`` and/or ``messages.jsonl`` against a world directory.

    ``message_interval``: the app sends a message for every N-th frame (frame_num % N == 0), so
    each such frame of the world is scored, and a missing message counts as one without objects;
    ``None`` (or 0) scores only the frames that have a message. Goals: MOTA ≥ ``min_mota`` (with
    tracks), counting error ≤ ``max_count_error`` (for each source given). A world rendered from
    a seed the shipped detector trained on is refused unless ``allow_training_seeds``: the
    detector has seen those very frames, so the figures would flatter the pipeline.
    """
    if tracks is None and messages is None:
        raise HarnessError("nothing to score: give tracks.txt, messages.jsonl or both")
    if not 0.0 <= min_visibility <= 1.0:
        raise HarnessError(f"min_visibility must be between 0 and 1, got {min_visibility}")
    if message_interval is not None and message_interval < 0:
        raise HarnessError(f"message_interval must be 0 or more, got {message_interval}")
    message_interval = message_interval or None
    truth = load_world_truth(truth_dir)
    if truth.seed is not None and not allow_training_seeds:
        check_held_out([truth.seed])
    result = PipelineScore(
        truth_dir=Path(truth_dir),
        seed=truth.seed,
        tracks_file=Path(tracks) if tracks is not None else None,
        messages_file=Path(messages) if messages is not None else None,
        frames=truth.frame_count,
        roi_label=truth.roi_label,
        min_visibility=min_visibility,
        class_aware=class_aware,
        message_interval=message_interval,
    )
    if tracks is not None:
        _score_tracks_file(result, truth, Path(tracks))
    if messages is not None:
        _score_messages_file(result, truth, Path(messages))
    if result.tracking is not None:
        mota = result.tracking.mota
        result.goals.append(Goal("MOTA", mota, ">=", min_mota, math.isfinite(mota) and mota >= min_mota))
    for count in (result.count_messages, result.count_tracks):
        if count is not None:
            result.goals.append(
                Goal(
                    f"count error ({count.source})",
                    count.error,
                    "<=",
                    max_count_error,
                    count.error <= max_count_error,
                )
            )
    return result


_PER_CLASS_TRUTH = "; per class by the truth's class"


def _score_tracks_file(result: PipelineScore, truth: WorldTruth, path: Path) -> None:
    """Tracking, ROI membership and counting of ``tracks.txt`` into ``result``."""
    rows = read_tracks(path)
    for r in rows:
        if r.frame > truth.frame_count:
            raise HarnessError(
                f"{path}:{r.line}: frame {r.frame} is beyond the world's {truth.frame_count} frames",
                hint="was the video looped (file-loop), or is this another world's run?",
            )
    if result.class_aware:
        for row in rows:
            if not 0 <= row.class_id < len(CLASS_NAMES):
                raise HarnessError(
                    f"{path}:{row.line}: class {row.class_id} is not a world class id "
                    f"(0-{len(CLASS_NAMES) - 1}: {', '.join(CLASS_NAMES)})",
                    hint="--class-aware needs a model whose labels are the world's classes",
                )
    last = max((r.frame for r in rows), default=0)
    if last < truth.frame_count:
        result.notes.append(
            f"{path.name} ends at frame {last} of {truth.frame_count}: vehicles of later frames are misses"
        )
    _note_size(result.notes, path, truth, (r.x + r.w for r in rows), (r.y + r.h for r in rows))
    result.tracking = score_tracking(
        truth, rows, min_visibility=result.min_visibility, class_aware=result.class_aware
    )
    claims: dict[int, list[_Claim]] = {}
    for r in rows:
        if truth.roi_label in r.rois:
            claims.setdefault(r.frame, []).append(
                _Claim(r.id, (r.x, r.y, r.x + r.w, r.y + r.h), r.class_id if result.class_aware else None)
            )
    tally = _score_membership(
        truth,
        claims,
        range(1, truth.frame_count + 1),
        min_visibility=result.min_visibility,
        class_aware=result.class_aware,
        labelled=result.class_aware,
    )
    result.roi_tracks = tally.score("tracks")
    in_roi: dict[int, list[int | None]] = {}
    for r in rows:
        if truth.roi_label in r.rois:
            in_roi.setdefault(r.id, []).append(r.class_id if result.class_aware else None)
    result.count_tracks = _count(
        "tracks",
        in_roi,
        truth.entered_ids,
        truth.vehicle_class,
        f"truth.json roi.entered_ids (every vehicle that entered {truth.roi_label})"
        + (_PER_CLASS_TRUTH if result.class_aware else ""),
        per_class=result.class_aware,
    )


def _score_messages_file(result: PipelineScore, truth: WorldTruth, path: Path) -> None:
    """ROI membership, counting and latency of ``messages.jsonl`` into ``result``."""
    parsed = _dedupe_messages(path, read_messages(path), result.notes)
    for m in parsed:
        if m.truth_frame > truth.frame_count:
            raise HarnessError(
                f"{path}:{m.line}: frame id {m.frame_id} (truth frame {m.truth_frame}) is beyond the "
                f"world's {truth.frame_count} frames",
                hint="was the video looped (file-loop), or is this another world's run?",
            )
    interval = result.message_interval
    if interval:
        for m in parsed:
            if m.frame_id % interval:
                raise HarnessError(
                    f"{path}:{m.line}: frame id {m.frame_id} is not a multiple of the message "
                    f"interval {interval}",
                    hint="pass the app's interval (--message-interval N), or 0 to score only the frames "
                    "that have a message",
                )
        frames = list(range(1, truth.frame_count + 1, interval))
        missing = len(set(frames) - {m.truth_frame for m in parsed})
        if missing:
            result.notes.append(
                f"{missing} of {len(frames)} sampled frames have no message: scored as frames without objects"
            )
    else:
        frames = [m.truth_frame for m in parsed]
    labels = sorted({o.label for m in parsed for o in m.objects})
    world_labels = all(_world_class(label) is not None for label in labels)
    if result.class_aware and not world_labels:
        bad = [label for label in labels if _world_class(label) is None]
        raise HarnessError(
            f"{path}: --class-aware needs world class names ({', '.join(CLASS_NAMES)}) as the objects' "
            f"vehicle type, got {', '.join(map(repr, bad[:5]))}",
            hint="score without --class-aware (vehicle-agnostic)",
        )
    if labels and not world_labels:
        result.notes.append(f"message labels {labels[:5]} are not the world's classes: no per-class counting")
    untracked = sum(1 for m in parsed for o in m.objects if not o.tracked)
    if untracked:
        result.notes.append(f"{untracked} untracked message object(s): scored for membership, not counted")
    boxes = [o for m in parsed for o in m.objects]
    _note_size(result.notes, path, truth, (o.right for o in boxes), (o.bottom for o in boxes))
    message_claims = {
        m.truth_frame: [
            _Claim(
                o.tracking_id if o.tracked else None,
                (o.left, o.top, o.right, o.bottom),
                _world_class(o.label),
            )
            for o in m.objects
        ]
        for m in parsed
    }
    tally = _score_membership(
        truth, message_claims, frames, min_visibility=result.min_visibility, class_aware=result.class_aware
    )
    result.roi_messages = tally.score("messages")
    counted: dict[int, list[int | None]] = {}
    for tracking_id, class_id in tally.counted_claims:
        counted.setdefault(tracking_id, []).append(class_id)
    result.count_messages = _count(
        "messages",
        counted,
        tally.truth_ids,
        truth.vehicle_class,
        f"vehicles in {truth.roi_label} at the {len(frames)} message frames, "
        f"at least once with visibility >= {result.min_visibility}"
        + (_PER_CLASS_TRUTH if labels and world_labels else ""),
        per_class=bool(labels) and world_labels,
    )
    result.latency = score_latency(parsed, path)
    if result.latency is None:
        result.notes.append("no received_ns in the messages: no latency figures")


def _note_size(
    notes: list[str], path: Path, truth: WorldTruth, rights: Iterable[float], bottoms: Iterable[float]
) -> None:
    """Boxes well outside the world's frame mean the muxer ran at another size: say so."""
    right, bottom = max(rights, default=0.0), max(bottoms, default=0.0)
    if truth.width and truth.height and (right > truth.width * 1.05 or bottom > truth.height * 1.05):
        notes.append(
            f"{path.name}: boxes reach ({right:.0f}, {bottom:.0f}), outside the world's "
            f"{truth.width}x{truth.height}: was the muxer at another resolution?"
        )
