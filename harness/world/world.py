"""The synthetic traffic world: parameters in, frames and exact ground truth out.

No traffic video or dataset can be downloaded where the harness runs, and a simulator needs an
oracle anyway: every box, every ROI entry and every line crossing here is known, so the real
pipeline's output can be scored against it.

Three ways in: :func:`iter_world` yields frames with their truth (training, evaluation, pipeline
tests, nothing written); :func:`generate` runs a whole video in memory and returns the truth
summary and the hash of the raw frames; :func:`write_world` also writes ``video.mp4``,
``gt.txt``, ``truth.json`` and ``seqinfo.ini``. :func:`sample_video` makes (once, then caches)
the short clip that plays the role of the seed's ``awsgg-example.mp4``.

The same seed and parameters give byte-identical frames and truth: all randomness comes from
numpy ``Generator(PCG64)`` streams spawned from the seed (traffic, sensor noise, lighting and
shake each get their own, so switching noise off does not change the traffic).
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from harness.errors import HarnessError
from harness.world.camera import Camera, Shake
from harness.world.presets import CLASS_NAMES, Preset, load_preset
from harness.world.render import Lighting, Renderer, SensorNoise
from harness.world.road import Road, Scenery
from harness.world.traffic import ScriptedVehicle, Traffic
from harness.world.truth import TruthObject, TruthRecorder
from harness.world.video import CODECS, ffmpeg_for_h264, open_sink
from harness.world_bounds import (
    MAX_FPS,
    MAX_HEIGHT_PX,
    MAX_SECONDS,
    MAX_SEED,
    MAX_WIDTH_PX,
    MIN_SIDE_PX,
    SECONDS_HINT,
)

#: Bumped whenever the same parameters would render different pixels or truth; part of cache keys.
GENERATOR_VERSION = "1"
TRUTH_FORMAT = "edge-harness-world/1"
SAMPLE_NAME = "awsgg-example.mp4"
VIDEO_NAME = "video.mp4"
_MARGIN_PX = 8  # canvas border that absorbs camera shake; always present so shake never changes scenery


@dataclass(frozen=True)
class WorldParams:
    """What to generate. ``None`` means "the preset's default".

    ``traffic``: automatic traffic (Poisson arrivals); set False to see only ``script``.
    ``lighting``: day/dusk drift and cloud flicker; ``noise``: Gaussian sensor noise;
    ``shake``: per-frame camera translation (truth follows it); ``shadows``: ground shadows.
    """

    seed: int = 0
    seconds: float | None = None
    preset: str = "highway"
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    noise: bool = True
    shake: bool = False
    shadows: bool | None = None
    lighting: bool = True
    traffic: bool = True
    script: tuple[ScriptedVehicle, ...] = ()


@dataclass
class WorldFrame:
    """One rendered frame. Unpacks as ``index, image, objects``."""

    index: int
    time_s: float
    image: np.ndarray
    objects: list[TruthObject]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.index, self.image, self.objects))


@dataclass
class WorldResult:
    """What a generated world produced: its configuration, truth and the raw-frame hash."""

    config: dict[str, Any]
    frame_count: int
    frames_sha256: str
    recorder: TruthRecorder
    render_ms_per_frame: float
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def truth(self) -> dict[str, Any]:
        return self.recorder.summary()

    @property
    def gt_text(self) -> str:
        return self.recorder.gt_text

    def truth_document(self) -> dict[str, Any]:
        """The content of truth.json: everything needed to know which world a run saw."""
        return {
            "format": TRUTH_FORMAT,
            **self.config,
            "frames_sha256": self.frames_sha256,
            "gt_sha256": self.recorder.gt_sha256(),
            **self.truth,
        }


def _check_params(params: WorldParams) -> None:
    def bad(message: str, hint: str | None = None) -> None:
        raise HarnessError(message, hint=hint)

    if (
        isinstance(params.seed, bool)
        or not isinstance(params.seed, int | np.integer)
        or not 0 <= params.seed <= MAX_SEED
    ):
        bad(f"seed must be an integer from 0 to 2**63-1, got {params.seed!r}")
    if params.seconds is not None:
        s = params.seconds
        if not isinstance(s, int | float) or not math.isfinite(s) or s <= 0:
            bad(f"seconds must be a positive number, got {s!r}")
        if s > MAX_SECONDS:
            bad(f"seconds must be at most {MAX_SECONDS:g}, got {s!r}", hint=SECONDS_HINT)
    if params.fps is not None and (not math.isfinite(params.fps) or not 0 < params.fps <= MAX_FPS):
        bad(f"fps must be in (0, {MAX_FPS}], got {params.fps!r}")
    for name, value, top in (("width", params.width, MAX_WIDTH_PX), ("height", params.height, MAX_HEIGHT_PX)):
        if value is None:
            continue
        if not isinstance(value, int | np.integer) or not MIN_SIDE_PX <= value <= top or value % 2:
            bad(
                f"{name} must be an even number of pixels from {MIN_SIDE_PX} to {top}, got {value!r}",
                hint="H.264 needs even sizes",
            )
    ids = [s.id for s in params.script if s.id is not None]
    if len(ids) != len(set(ids)):
        bad(f"scripted vehicles share track ids: {sorted(i for i in set(ids) if ids.count(i) > 1)}")


class World:
    """A configured world. Cheap to create; the scenery is rendered when frames are first asked for."""

    def __init__(self, params: WorldParams | None = None) -> None:
        params = params or WorldParams()
        _check_params(params)
        self.params = params
        self.preset: Preset = load_preset(params.preset)
        p = self.preset
        self.fps = float(params.fps if params.fps is not None else p.fps)
        if params.width is not None and params.height is None:
            width, height = params.width, 2 * round(params.width * p.height / p.width / 2)
        elif params.height is not None and params.width is None:
            width, height = 2 * round(params.height * p.width / p.height / 2), params.height
        else:
            width, height = params.width or p.width, params.height or p.height
        self.width, self.height = int(width), int(height)
        self.seconds = float(params.seconds if params.seconds is not None else p.defaults["seconds"])
        if self.seconds > MAX_SECONDS:  # the preset's default: its loader already refuses more
            raise HarnessError(
                f"seconds must be at most {MAX_SECONDS:g}, got {self.seconds}", hint=SECONDS_HINT
            )
        self.frame_count = max(1, round(self.seconds * self.fps))
        self._sx, self._sy = self.width / p.width, self.height / p.height
        self.shadows = bool(params.shadows if params.shadows is not None else p.defaults["shadows"])
        self.noise_sigma = float(p.defaults["noise_sigma"]) if params.noise else 0.0
        self.shake_px = float(p.defaults["shake_px"]) * min(self._sx, self._sy) if params.shake else 0.0
        self.roi_polygon = tuple((round(x * self._sx), round(y * self._sy)) for x, y in p.roi_polygon)
        self.line_direction = tuple((round(x * self._sx), round(y * self._sy)) for x, y in p.line_direction)
        self.line = tuple((round(x * self._sx), round(y * self._sy)) for x, y in p.line)
        cam = p.camera
        base = Camera(
            float(cam["focal_px"]),
            float(cam["focal_px"]),
            float(cam["center_x"]),
            float(cam["horizon_y"]),
            float(cam["height_m"]),
            float(cam.get("x_m", 0.0)),
        )
        self.camera = base.scaled(self._sx, self._sy)
        self.road = Road(p.road)
        for i, s in enumerate(params.script):
            for lane in (s.lane, *(c.to_lane for c in s.lane_changes)):
                n = len(self.road.lanes(s.direction))
                if not 1 <= lane <= n:
                    raise HarnessError(
                        f"scripted vehicle {i} uses {s.direction} lane {lane}; the road has lanes 1..{n}"
                    )
        self._used = False

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES

    def config(self) -> dict[str, Any]:
        """Everything that determines the output (JSON-able): written to truth.json and hashed
        into cache keys."""
        p = self.preset
        return {
            "generator_version": GENERATOR_VERSION,
            "seed": int(self.params.seed),
            "preset": {"name": p.name, "sha256": p.sha256, "document": p.data},
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "seconds": self.seconds,
            "frame_count": self.frame_count,
            "class_names": list(CLASS_NAMES),
            "parameters": {
                "noise_sigma": self.noise_sigma,
                "shake_px": self.shake_px,
                "shadows": self.shadows,
                "lighting": bool(self.params.lighting),
                "traffic": bool(self.params.traffic),
                "script": [asdict(s) for s in self.params.script],
            },
            "roi": {"label": p.roi_label, "polygon": [list(pt) for pt in self.roi_polygon]},
            "line": {
                "label": p.line_label,
                "direction": [list(pt) for pt in self.line_direction],
                "line": [list(pt) for pt in self.line],
            },
        }

    def recorder(self) -> TruthRecorder:
        """An empty truth recorder for this world's ROI and counting line."""
        p = self.preset
        return TruthRecorder(p.roi_label, self.roi_polygon, p.line_label, self.line_direction, self.line)  # type: ignore[arg-type]

    def frames(self) -> Iterator[WorldFrame]:
        """Render the world frame by frame (a World renders once; make another for a rerun)."""
        if self._used:
            raise RuntimeError("a World renders its frames once; create a new World to render again")
        self._used = True
        p, params = self.preset, self.params
        streams = np.random.SeedSequence(int(params.seed)).spawn(4)
        traffic_rng, noise_rng, light_rng, shake_rng = (
            np.random.Generator(np.random.PCG64(s)) for s in streams
        )
        margin = _MARGIN_PX
        camera = self.camera.shifted(margin, margin)
        canvas_size = (self.width + 2 * margin, self.height + 2 * margin)
        scenery = Scenery(camera, self.road, canvas_size, p.props, p.scene)
        renderer = Renderer(camera, scenery, (self.width, self.height), margin, shadows=self.shadows)
        traffic = Traffic(
            p, self.road, camera, canvas_size[1], traffic_rng, auto=params.traffic, script=params.script
        )
        lighting = Lighting(light_rng, p.defaults["lighting"], params.lighting)
        noise = SensorNoise(noise_rng, self.noise_sigma, (self.width, self.height))
        shake = Shake(shake_rng, self.shake_px, margin)
        dt = 1.0 / self.fps
        if params.traffic:
            steps = round(float(p.traffic["warmup_s"]) * self.fps)
            for k in range(steps, 0, -1):
                t = -k * dt
                traffic.spawn(t, dt)
                traffic.advance(t, dt)
        reserved = {s.id for s in params.script if s.id is not None}
        next_id = 1
        w, h = self.width, self.height
        for index in range(1, self.frame_count + 1):
            t = (index - 1) * dt
            traffic.spawn(t, dt)
            drawn = renderer.draw(traffic.vehicles)
            dx, dy = shake.next()
            view, ids = renderer.crop((dx, dy))
            visible = renderer.visible_pixels(ids)
            rows = []
            for d in drawn:
                bx, by, bw, bh = d.box
                x0, y0 = bx - margin - dx, by - margin - dy
                x1, y1 = min(w, x0 + bw), min(h, y0 + bh)
                x0, y0 = max(0, x0), max(0, y0)
                if x1 <= x0 or y1 <= y0:
                    continue
                rows.append((d, x0, y0, x1 - x0, y1 - y0))
            for d, *_ in sorted(rows, key=lambda r: r[0].vehicle.key):
                if d.vehicle.track_id is None:
                    while next_id in reserved:
                        next_id += 1
                    d.vehicle.track_id = next_id
                    next_id += 1
            objects = [
                TruthObject(
                    id=int(d.vehicle.track_id),  # type: ignore[arg-type]
                    class_id=d.vehicle.body.class_id,
                    x=int(x),
                    y=int(y),
                    w=int(bw),
                    h=int(bh),
                    visibility=round(min(1.0, float(visible[d.slot]) / d.area), 4),
                    direction=d.vehicle.direction,
                    speed_kmh=round(d.vehicle.speed * 3.6, 1),
                )
                for d, x, y, bw, bh in rows
            ]
            objects.sort(key=lambda o: o.id)
            lut = lighting.lut(t)
            image = cv2.LUT(view, lut) if lut is not None else view.copy()
            noise.apply(image)
            yield WorldFrame(index, t, image, objects)
            traffic.advance(t, dt)


def iter_world(params: WorldParams | None = None) -> Iterator[WorldFrame]:
    """Frames with their truth, in order, without writing anything."""
    return World(params).frames()


def generate(
    params: WorldParams | World | None = None,
    *,
    on_frame: Callable[[WorldFrame], None] | None = None,
) -> WorldResult:
    """Render a whole world in memory; frames go to ``on_frame`` (if given) and are not kept."""
    world = params if isinstance(params, World) else World(params)
    recorder = world.recorder()
    digest = hashlib.sha256()
    render_s = 0.0
    frames = world.frames()
    count = 0
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        render_s += time.perf_counter() - t0
        if frame is None:
            break
        count += 1
        digest.update(np.ascontiguousarray(frame.image).data)
        recorder.add(frame.index, frame.objects)
        if on_frame is not None:
            on_frame(frame)
    return WorldResult(world.config(), count, digest.hexdigest(), recorder, 1000.0 * render_s / max(1, count))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _seqinfo(world: World, video_name: str) -> str:
    """MOT's seqinfo.ini, so MOT tools (TrackEval and friends) read gt.txt without extra flags."""
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser["Sequence"] = {
        "name": f"{world.preset.name}-seed{world.params.seed}",
        "imDir": video_name,
        "frameRate": f"{world.fps:g}",
        "seqLength": str(world.frame_count),
        "imWidth": str(world.width),
        "imHeight": str(world.height),
        "imExt": ".mp4",
    }
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def prepare_output(out_dir: str | Path, codec: str = "mp4v") -> Path:
    """Check the codec and make the output directory, before any frame is rendered, so that a
    bad argument fails in a second rather than after minutes of rendering."""
    if codec not in CODECS:
        raise HarnessError(f"unknown codec {codec!r}", hint=f"use one of {', '.join(CODECS)}")
    if codec == "h264":
        ffmpeg_for_h264()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HarnessError(f"cannot create output directory {out}: {err.strerror or err}") from err
    if not os.access(out, os.W_OK | os.X_OK):
        raise HarnessError(f"output directory {out} is not writable")
    return out


def write_world(
    params: WorldParams | World | None,
    out_dir: str | Path,
    *,
    codec: str = "mp4v",
    on_frame: Callable[[WorldFrame], None] | None = None,
    video_name: str = VIDEO_NAME,
) -> WorldResult:
    """Render a world into ``out_dir``: the video, ``gt.txt``, ``truth.json`` and ``seqinfo.ini``.

    The video is written under a temporary name and renamed at the end, so a failed or
    interrupted run never leaves a truncated ``video.mp4`` next to a stale truth file.
    """
    world = params if isinstance(params, World) else World(params)
    out = prepare_output(out_dir, codec)
    partial = out / f".{Path(video_name).stem}.partial.mp4"
    try:
        sink = open_sink(partial, codec, world.fps, (world.width, world.height))
    except OSError as err:
        raise HarnessError(f"cannot write to {out}: {err.strerror or err}") from err

    def write(frame: WorldFrame) -> None:
        sink.write(frame.image)
        if on_frame is not None:
            on_frame(frame)

    try:
        result = generate(world, on_frame=write)
        sink.close()
    except BaseException:
        with contextlib.suppress(HarnessError):
            sink.close()
        partial.unlink(missing_ok=True)
        raise
    video = out / video_name
    partial.replace(video)
    gt, truth, seqinfo = out / "gt.txt", out / "truth.json", out / "seqinfo.ini"
    _write_text(gt, result.gt_text)
    document = result.truth_document()
    document["video"] = {"file": video_name, "codec": codec}
    _write_text(truth, json.dumps(document, indent=1, sort_keys=False) + "\n")
    _write_text(seqinfo, _seqinfo(world, video_name))
    result.paths.update(video=video, gt=gt, truth=truth, seqinfo=seqinfo)
    return result


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/edge-harness/world`` (``~/.cache`` when XDG_CACHE_HOME is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge-harness" / "world"


def content_key(world: World, codec: str = "mp4v") -> str:
    """A short hash of everything that determines a written world (config, generator version, codec)."""
    blob = json.dumps({"config": world.config(), "codec": codec}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def sample_video(
    cache_dir: str | Path | None = None,
    *,
    params: WorldParams | None = None,
    codec: str = "mp4v",
) -> Path:
    """The short highway clip in the role of the seed's ``awsgg-example.mp4``: generated on the
    first call, then served from ``<cache>/<content key>/`` (gt.txt and truth.json beside it).

    The key covers the parameters, the preset's bytes and :data:`GENERATOR_VERSION`, so a change
    to any of them makes a new clip instead of reusing a stale one.
    """
    world = World(params or WorldParams(seed=0, seconds=10.0))
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    target = root / content_key(world, codec)
    video = target / SAMPLE_NAME
    if video.is_file() and (target / "truth.json").is_file():
        return video
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HarnessError(f"cannot create the world cache {root}: {err.strerror or err}") from err
    staging = root / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_world(world, staging, codec=codec, video_name=SAMPLE_NAME)
        try:
            staging.rename(target)
        except OSError:
            if not video.is_file():  # nobody else finished it meanwhile: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return video
