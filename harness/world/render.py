"""Drawing frames: vehicles over the static scenery, then shadows, props, light and noise.

Each frame starts as a copy of the pre-rendered background on a canvas a few pixels larger than
the frame (the margin absorbs camera shake). Vehicles are painted far to near with OpenCV's
convex-polygon fill. The same polygons are painted into an id mask (one value per vehicle, 255
for props), which is how visibility is measured rather than guessed: the pixels a vehicle still
owns at the end, inside the frame, over the pixels its silhouette has on its own.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from harness.world.camera import Camera, box_faces
from harness.world.road import INBOUND, SHIFT, Scenery, to_fixed
from harness.world.traffic import Vehicle
from harness.world.vehicle import Colour, Part

PROP_ID = 255
MAX_VEHICLES_PER_FRAME = 254
_FACE_SHADE = {"top": 1.0, "front": 0.86, "rear": 0.86, "side": 0.72}


@functools.lru_cache(maxsize=8192)
def _shaded(colour: Colour, face: str) -> Colour:
    """Colour of a face lit from above: tops brightest, ends a little darker, sides darkest."""
    f = _FACE_SHADE[face]
    return tuple(min(255, round(c * f)) for c in colour)  # type: ignore[return-value]


@dataclass
class Drawn:
    """A vehicle painted into the current canvas: its id-mask value, its silhouette's pixel box
    on the canvas and how many pixels that silhouette has when nothing covers or clips it."""

    vehicle: Vehicle
    slot: int
    box: tuple[int, int, int, int]
    area: int


def _part_order(a: tuple[Part, tuple[float, ...]], b: tuple[Part, tuple[float, ...]]) -> int:
    """Painter's order of two parts of one vehicle: a part entirely nearer is drawn later; of
    two stacked parts the upper one is drawn later (the camera looks down on it)."""
    (_, (_, _, ay0, ay1, az0, az1)), (_, (_, _, by0, by1, bz0, bz1)) = a, b
    if az1 <= bz0:
        return 1
    if bz1 <= az0:
        return -1
    if ay0 >= by1:
        return 1
    if by0 >= ay1:
        return -1
    return 0


class Lighting:
    """Global light over time: a slow day/dusk drift plus passing-cloud flicker.

    Each seed starts at another phase of the drift, so a set of videos spans bright day to
    dusk. Darker light also turns bluer, as dusk does.
    """

    def __init__(self, rng: np.random.Generator, spec: dict, enabled: bool) -> None:
        self.enabled = enabled
        self._lo, self._hi = float(spec["min_gain"]), float(spec["max_gain"])
        self._period = float(rng.uniform(*spec["drift_period_s"]))
        self._phase = float(rng.uniform(0.0, 2 * math.pi))
        self._flicker = float(spec["flicker"])
        self._cloud = [(float(rng.uniform(3.0, 9.0)), float(rng.uniform(0, 2 * math.pi))) for _ in range(2)]
        self._ramp = np.arange(256, dtype=np.float32)

    def gain(self, t: float) -> float:
        if not self.enabled:
            return 1.0
        mid, amp = (self._hi + self._lo) / 2, (self._hi - self._lo) / 2
        g = mid + amp * math.cos(2 * math.pi * t / self._period + self._phase)
        g += self._flicker * sum(
            w * math.sin(2 * math.pi * t / p + ph) for w, (p, ph) in zip((0.6, 0.4), self._cloud, strict=True)
        )
        return max(0.05, g)

    def lut(self, t: float) -> np.ndarray | None:
        """A per-channel lookup table for time ``t`` (None: leave pixels as they are)."""
        if not self.enabled:
            return None
        g = self.gain(t)
        dusk = min(1.0, max(0.0, (self._hi - g) / max(1e-6, self._hi - self._lo)))
        gains = np.float32([g * (1 + 0.10 * dusk), g, g * (1 - 0.08 * dusk)])  # B, G, R
        table = np.clip(self._ramp[:, None] * gains[None, :] + 0.5, 0, 255).astype(np.uint8)
        return table.reshape(1, 256, 3)


class SensorNoise:
    """Gaussian sensor noise from a small bank of pre-drawn fields.

    Drawing 2.7 million normal samples per 720p frame would cost more than rendering the frame;
    instead a few padded fields are drawn once and each frame uses one of them at a random
    offset (thousands of distinct patterns; no two consecutive frames share one in practice).
    """

    _FIELDS = 3
    _PAD = 32

    def __init__(self, rng: np.random.Generator, sigma: float, size: tuple[int, int]) -> None:
        self._rng = rng
        self.sigma = float(sigma)
        w, h = size
        self._size = size
        self._pos: list[np.ndarray] = []
        self._neg: list[np.ndarray] = []
        if self.sigma <= 0:
            return
        for _ in range(self._FIELDS):
            n = rng.standard_normal((h + self._PAD, w + self._PAD, 3), dtype=np.float32) * np.float32(
                self.sigma
            )
            n = np.rint(n)
            self._pos.append(np.clip(n, 0, 255).astype(np.uint8))
            self._neg.append(np.clip(-n, 0, 255).astype(np.uint8))

    def apply(self, image: np.ndarray) -> None:
        """Add noise to ``image`` in place (saturating at 0 and 255)."""
        if self.sigma <= 0:
            return
        k = int(self._rng.integers(self._FIELDS))
        dy, dx = (int(v) for v in self._rng.integers(0, self._PAD + 1, size=2))
        w, h = self._size
        cv2.add(image, self._pos[k][dy : dy + h, dx : dx + w], dst=image)
        cv2.subtract(image, self._neg[k][dy : dy + h, dx : dx + w], dst=image)


class Renderer:
    """Paints vehicles onto the scenery and turns the canvas into a camera frame."""

    def __init__(
        self, camera: Camera, scenery: Scenery, frame_size: tuple[int, int], margin: int, *, shadows: bool
    ) -> None:
        self.camera = camera
        self.scenery = scenery
        self.width, self.height = frame_size
        self.margin = margin
        self.canvas = scenery.background.copy()
        self.ids = np.zeros(self.canvas.shape[:2], np.uint8)
        # Regions are composited with cv2.copyTo and a 0/1 mask: ~100x faster than numpy's
        # masked copy on these sizes, which matters at thousands of frames.
        self._shadows: list[tuple[int, int, int, int, np.ndarray]] = []
        if shadows:
            gain = scenery.shadow_gain
            self._shadow_lut = np.clip(np.arange(256) * gain + 0.5, 0, 255).astype(np.uint8)
            for x, y, w, h in scenery.shadow_regions:
                mask = np.ascontiguousarray(scenery.shadow_mask[y : y + h, x : x + w])
                self._shadows.append((x, y, w, h, mask))
        self._props: list[tuple[int, int, int, int, np.ndarray, np.ndarray, np.ndarray]] = []
        for x, y, w, h in scenery.prop_regions:
            mask = np.ascontiguousarray(scenery.prop_mask[y : y + h, x : x + w])
            layer = scenery.prop_layer[y : y + h, x : x + w].copy()
            self._props.append((x, y, w, h, mask, layer, np.full((h, w), PROP_ID, np.uint8)))

    # ----------------------------------------------------------------- vehicles

    def _polygons(self, v: Vehicle) -> tuple[list[tuple[np.ndarray, Colour, bool]], list[float]]:
        """Polygons of a vehicle in drawing order: (fixed-point points, colour, is a face), and
        the float pixel bounds [x_min, y_min, x_max, y_max] of its faces."""
        cam = self.camera
        inbound = v.direction == INBOUND
        placed = []
        for part in v.body.parts:
            x0, x1 = v.x + part.across[0], v.x + part.across[1]
            if inbound:
                z0, z1 = v.z_front + part.along[0], v.z_front + part.along[1]
            else:
                z0, z1 = v.z_front - part.along[1], v.z_front - part.along[0]
            placed.append((part, (x0, x1, part.up[0], part.up[1], z0, z1)))
        if len(placed) > 1:
            placed.sort(key=functools.cmp_to_key(_part_order))
        polys: list[tuple[np.ndarray, Colour, bool]] = []
        bounds = [math.inf, math.inf, -math.inf, -math.inf]
        for part, (x0, x1, y0, y1, z0, z1) in placed:
            for face in box_faces(cam, x0, x1, y0, y1, z0, z1, front_is_near=inbound):
                quad = face.quad(cam)
                for px, py in quad:
                    bounds[0] = min(bounds[0], px)
                    bounds[1] = min(bounds[1], py)
                    bounds[2] = max(bounds[2], px)
                    bounds[3] = max(bounds[3], py)
                polys.append((to_fixed(quad), _shaded(part.colour, face.name), True))
                for d in part.details:
                    if d.face == face.name:
                        sub = to_fixed(face.quad(cam, d.u0, d.u1, d.v0, d.v1))
                        polys.append((sub, _shaded(d.colour, face.name), False))
        return polys, bounds

    def draw(self, vehicles: list[Vehicle]) -> list[Drawn]:
        """Paint background, vehicles (far to near), shadows and props onto the canvas."""
        canvas, ids = self.canvas, self.ids
        np.copyto(canvas, self.scenery.background)
        ids.fill(0)
        ch, cw = ids.shape
        cam_x = self.camera.x_m
        drawn: list[Drawn] = []
        order = sorted(vehicles, key=lambda v: (-v.z_near, -abs(v.x - cam_x), v.key))
        for v in order:
            polys, (bx0, by0, bx1, by1) = self._polygons(v)
            if bx1 < 0 or by1 < 0 or bx0 >= cw or by0 >= ch:
                continue
            slot = len(drawn) + 1
            if slot > MAX_VEHICLES_PER_FRAME:
                raise RuntimeError(f"more than {MAX_VEHICLES_PER_FRAME} vehicles in one frame")
            for pts, colour, is_face in polys:
                cv2.fillConvexPoly(canvas, pts, colour, cv2.LINE_8, SHIFT)
                if is_face:
                    cv2.fillConvexPoly(ids, pts, slot, cv2.LINE_8, SHIFT)
            # The silhouette alone, unclipped: its pixel count is the denominator of visibility.
            ox, oy = math.floor(bx0) - 1, math.floor(by0) - 1
            lw, lh = math.ceil(bx1) - ox + 2, math.ceil(by1) - oy + 2
            local = np.zeros((lh, lw), np.uint8)
            origin = np.int32([ox << SHIFT, oy << SHIFT])
            for pts, _, is_face in polys:
                if is_face:
                    cv2.fillConvexPoly(local, pts - origin, 1, cv2.LINE_8, SHIFT)
            area = cv2.countNonZero(local)
            if area == 0:
                continue
            x, y, w, h = cv2.boundingRect(local)
            drawn.append(Drawn(v, slot, (ox + x, oy + y, w, h), area))
        for x, y, w, h, mask in self._shadows:
            sub = canvas[y : y + h, x : x + w]
            cv2.copyTo(cv2.LUT(sub, self._shadow_lut), mask, sub)
        for x, y, w, h, mask, layer, prop_ids in self._props:
            cv2.copyTo(layer, mask, canvas[y : y + h, x : x + w])
            cv2.copyTo(prop_ids, mask, ids[y : y + h, x : x + w])
        return drawn

    def crop(self, shake: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The frame and its id mask: the canvas seen through the (shaken) camera window."""
        ox, oy = self.margin + shake[0], self.margin + shake[1]
        return (
            self.canvas[oy : oy + self.height, ox : ox + self.width],
            self.ids[oy : oy + self.height, ox : ox + self.width],
        )

    @staticmethod
    def visible_pixels(ids: np.ndarray) -> np.ndarray:
        """Pixels per id-mask value in a (cropped) id mask."""
        return cv2.calcHist([ids], [0], None, [256], [0, 256]).ravel()
