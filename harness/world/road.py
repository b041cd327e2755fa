"""The road, and everything around it that does not move.

:class:`Road` knows the lanes (where vehicles drive). :class:`Scenery` renders, once per world,
what the camera sees without traffic (grass, asphalt, markings, guard rails), the props that
stand in front of traffic (bridge, tree, gantry sign) as a separate layer with a mask, and the
ground shadows they cast. Per frame only copies and masks are needed, which keeps rendering cheap.

Props are drawn after all vehicles. That is exact while the camera is high enough above the
road: a vehicle nearer than a prop then always projects below the prop's lowest point in the
image (the preset schema enforces elevated prop parts above 4.5 m and a camera above 8 m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from harness.world.camera import Camera, box_faces

INBOUND = "inbound"
OUTBOUND = "outbound"

SHIFT = 3  # fixed-point bits for OpenCV polygon drawing: 1/8 pixel positions
_SCALE = 1 << SHIFT

Colour = tuple[int, int, int]


def to_fixed(points: list[tuple[float, float]]) -> np.ndarray:
    """Pixel coordinates → OpenCV fixed-point int32 polygon (sub-pixel accurate drawing)."""
    return np.round(np.asarray(points, dtype=np.float64) * _SCALE).astype(np.int32)


@dataclass(frozen=True)
class Lane:
    """One lane. ``number`` 1 is the kerb lane; numbers grow towards the median, so lane 2 is
    the overtaking lane of a two-lane carriageway, whichever direction it carries."""

    direction: str
    number: int
    center_x: float
    width: float


class Road:
    """Lanes of a divided road: inbound on the left half (x < 0), outbound on the right."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.lane_width = float(spec["lane_width_m"])
        self.median = float(spec["median_m"])
        self.shoulder = float(spec["shoulder_m"])
        self.n_inbound = int(spec["lanes"]["inbound"])
        self.n_outbound = int(spec["lanes"]["outbound"])
        half = self.median / 2
        self._lanes: dict[str, list[Lane]] = {INBOUND: [], OUTBOUND: []}
        for number in range(1, self.n_inbound + 1):
            cx = -(half + (self.n_inbound - number + 0.5) * self.lane_width)
            self._lanes[INBOUND].append(Lane(INBOUND, number, cx, self.lane_width))
        for number in range(1, self.n_outbound + 1):
            cx = half + (self.n_outbound - number + 0.5) * self.lane_width
            self._lanes[OUTBOUND].append(Lane(OUTBOUND, number, cx, self.lane_width))
        self.left_edge = -(half + self.n_inbound * self.lane_width)
        self.right_edge = half + self.n_outbound * self.lane_width

    def lanes(self, direction: str) -> list[Lane]:
        return list(self._lanes[direction])

    def lane(self, direction: str, number: int) -> Lane:
        lanes = self._lanes[direction]
        if not 1 <= number <= len(lanes):
            raise ValueError(f"the road has no {direction} lane {number} (it has {len(lanes)})")
        return lanes[number - 1]


def _texture(rng: np.random.Generator, shape: tuple[int, int], cell: int, amplitude: float) -> np.ndarray:
    """Smooth random blotches (float32, mean 0), like worn asphalt or grass: coarse noise
    upsampled with smoothstep weights. Plain numpy arithmetic on purpose: OpenCV's float resize
    may round differently on CPUs with other SIMD units, which would break byte-identical output."""
    h, w = shape
    coarse = rng.normal(0.0, amplitude, size=(h // cell + 2, w // cell + 2))

    def weights(n: int) -> tuple[np.ndarray, np.ndarray]:
        pos = np.arange(n, dtype=np.float64) / cell
        index = np.floor(pos).astype(np.intp)
        f = pos - index
        return index, f * f * (3.0 - 2.0 * f)

    rows, fy = weights(h)
    cols, fx = weights(w)
    tall = coarse[rows] * (1.0 - fy)[:, None] + coarse[rows + 1] * fy[:, None]
    return (tall[:, cols] * (1.0 - fx) + tall[:, cols + 1] * fx).astype(np.float32)


def _shade(colour: Colour, factor: float) -> Colour:
    return tuple(int(min(255, max(0, round(c * factor)))) for c in colour)  # type: ignore[return-value]


class Scenery:
    """Static parts of the picture for one camera and canvas size.

    ``background``: the empty road (BGR). ``prop_layer``/``prop_mask``: props in front of
    traffic, and ``prop_regions``: the canvas rectangles to composite. ``shadow_mask``/
    ``shadow_regions``: where ground shadows fall (applied per frame so vehicles driving through
    darken too).
    """

    def __init__(
        self,
        camera: Camera,
        road: Road,
        canvas_size: tuple[int, int],
        props: tuple[dict[str, Any], ...],
        scene: dict[str, Any],
    ) -> None:
        self.camera = camera
        self.road = road
        self.width, self.height = canvas_size
        self._rng = np.random.Generator(np.random.PCG64(int(scene["seed"])))
        self._sun = tuple(float(v) for v in scene["sun"]["shadow_per_m"])
        self.shadow_gain = float(scene["sun"]["shadow_gain"])
        self.z_near = camera.ground_z_at_row(self.height + 60)
        self.z_far = camera.ground_z_at_row(-20)
        self.background = self._render_background()
        self.prop_layer = np.zeros((self.height, self.width, 3), np.uint8)
        self.prop_mask = np.zeros((self.height, self.width), np.uint8)
        self.shadow_mask = np.zeros((self.height, self.width), np.uint8)
        self.prop_regions: list[tuple[int, int, int, int]] = []
        self.shadow_regions: list[tuple[int, int, int, int]] = []
        for prop in props:
            self._add_prop(prop)

    # ----------------------------------------------------------------- background

    def _ground_quad(self, x0: float, x1: float, z0: float, z1: float) -> np.ndarray:
        p = self.camera.project
        return to_fixed([p(x0, 0.0, z0), p(x1, 0.0, z0), p(x1, 0.0, z1), p(x0, 0.0, z1)])

    def _render_background(self) -> np.ndarray:
        h, w = self.height, self.width
        rng = self._rng
        road = self.road
        img = np.empty((h, w, 3), np.float32)
        img[:] = (58, 112, 84)  # grass, BGR
        img += _texture(rng, (h, w), 48, 14.0)[..., None] * np.float32([0.6, 1.0, 0.8])
        img += rng.normal(0.0, 5.0, size=(h, w, 1)).astype(np.float32)

        left = road.left_edge - road.shoulder
        right = road.right_edge + road.shoulder
        zn, zf = self.z_near, self.z_far
        road_mask = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(road_mask, self._ground_quad(left, right, zn, zf), 1, cv2.LINE_AA, SHIFT)
        asphalt = np.empty((h, w, 3), np.float32)
        asphalt[:] = (92, 94, 96)
        asphalt += _texture(rng, (h, w), 24, 6.0)[..., None]
        asphalt += rng.normal(0.0, 6.0, size=(h, w, 1)).astype(np.float32)
        np.copyto(img, asphalt, where=road_mask[..., None].astype(bool))
        out = np.clip(img, 0, 255).astype(np.uint8)

        # Darker wheel tracks along each lane: real asphalt is polished where tyres run.
        for direction in (INBOUND, OUTBOUND):
            for lane in road.lanes(direction):
                for off in (-0.85, 0.85):
                    quad = self._ground_quad(lane.center_x + off - 0.35, lane.center_x + off + 0.35, zn, zf)
                    track = np.zeros(out.shape[:2], np.uint8)
                    cv2.fillConvexPoly(track, quad, 1, cv2.LINE_8, SHIFT)
                    darker = (out.astype(np.uint16) * 7 // 8).astype(np.uint8)  # integer: exact everywhere
                    cv2.copyTo(darker, track, out)

        # Median: paved strip with a concrete barrier.
        half = road.median / 2
        if half > 0:
            cv2.fillConvexPoly(
                out, self._ground_quad(-half, half, zn, zf), (120, 122, 122), cv2.LINE_AA, SHIFT
            )
            self._draw_box(out, -0.3, 0.3, 0.0, 0.85, zn, zf, (170, 172, 170))

        # Markings: dashed between lanes of one direction, solid at the edges (yellow at the median).
        white, yellow = (225, 228, 228), (40, 190, 220)
        for x in (road.left_edge, road.right_edge):
            if x != 0:
                cv2.fillConvexPoly(
                    out, self._ground_quad(x - 0.08, x + 0.08, zn, zf), white, cv2.LINE_AA, SHIFT
                )
        if road.n_inbound:
            cv2.fillConvexPoly(
                out, self._ground_quad(-half - 0.2, -half - 0.05, zn, zf), yellow, cv2.LINE_AA, SHIFT
            )
        if road.n_outbound:
            cv2.fillConvexPoly(
                out, self._ground_quad(half + 0.05, half + 0.2, zn, zf), yellow, cv2.LINE_AA, SHIFT
            )
        for direction, sign in ((INBOUND, -1.0), (OUTBOUND, 1.0)):
            lanes = road.lanes(direction)
            for k in range(1, len(lanes)):
                x = sign * (half + k * road.lane_width)
                z = math.floor(zn / 12.0) * 12.0
                while z < zf:
                    cv2.fillConvexPoly(
                        out, self._ground_quad(x - 0.07, x + 0.07, z, z + 3.0), white, cv2.LINE_AA, SHIFT
                    )
                    z += 12.0

        # Guard rails on posts beyond the shoulders, bushes behind them.
        for x in (left - 0.6, right + 0.6):
            z = math.floor(zn / 4.0) * 4.0
            while z < zf:
                self._draw_box(out, x - 0.08, x + 0.08, 0.0, 0.75, z, z + 0.16, (70, 74, 78))
                z += 4.0
            self._draw_box(out, x - 0.06, x + 0.06, 0.5, 0.8, zn, zf, (176, 180, 182))
        for _ in range(70):
            side = -1.0 if rng.random() < 0.5 else 1.0
            edge = left if side < 0 else right
            x = edge + side * rng.uniform(3.0, 25.0)
            z = rng.uniform(zn, zf * 1.2)
            cx, cy = self.camera.project(x, 0.6, z)
            r = max(2, int(1.2 * self.camera.fx / z))
            green = (int(rng.uniform(30, 60)), int(rng.uniform(70, 110)), int(rng.uniform(40, 70)))
            cv2.circle(out, (int(cx), int(cy)), r, green, -1, cv2.LINE_AA)
        return out

    def _draw_box(
        self,
        img: np.ndarray,
        x0: float,
        x1: float,
        y0: float,
        y1: float,
        z0: float,
        z1: float,
        colour: Colour,
        mask: np.ndarray | None = None,
    ) -> None:
        shades = {"side": 0.72, "front": 0.86, "rear": 0.86, "top": 1.0}
        for face in box_faces(self.camera, x0, x1, y0, y1, z0, z1):
            quad = to_fixed(face.quad(self.camera))
            cv2.fillConvexPoly(img, quad, _shade(colour, shades[face.name]), cv2.LINE_8, SHIFT)
            if mask is not None:
                cv2.fillConvexPoly(mask, quad, 255, cv2.LINE_8, SHIFT)

    # ----------------------------------------------------------------- props and shadows

    def _add_prop(self, prop: dict[str, Any]) -> None:
        before = self.prop_mask.copy()
        shadow_before = self.shadow_mask.copy()
        kind = prop["kind"]
        if kind == "bridge":
            self._add_bridge(prop)
        elif kind == "tree":
            self._add_tree(prop)
        elif kind == "sign":
            self._add_sign(prop)
        for mask, prev, regions in (
            (self.prop_mask, before, self.prop_regions),
            (self.shadow_mask, shadow_before, self.shadow_regions),
        ):
            changed = cv2.compare(mask, prev, cv2.CMP_NE)
            x, y, w, h = cv2.boundingRect(changed)
            if w > 0 and h > 0:
                regions.append((x, y, w, h))

    def _box_shadow(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> None:
        """Mark the ground shadow of a box: the hull of its corners slid along the sun direction."""
        sx, sz = self._sun
        ground = np.float32(
            [[x + sx * y, max(1.0, z + sz * y)] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)]
        )
        hull = cv2.convexHull(ground).reshape(-1, 2)
        quad = to_fixed([self.camera.project(float(gx), 0.0, float(gz)) for gx, gz in hull])
        cv2.fillConvexPoly(self.shadow_mask, quad, 1, cv2.LINE_8, SHIFT)

    def _add_bridge(self, prop: dict[str, Any]) -> None:
        z = float(prop["z_m"])
        bottom, top, depth = (
            float(prop["deck_bottom_m"]),
            float(prop["deck_top_m"]),
            float(prop["deck_depth_m"]),
        )
        road = self.road
        x0, x1 = road.left_edge - road.shoulder - 8.0, road.right_edge + road.shoulder + 8.0
        concrete = (150, 156, 160)
        pillar_z = (z + depth / 2 - 0.6, z + depth / 2 + 0.6)
        pillars = [road.left_edge - road.shoulder - 1.2, road.right_edge + road.shoulder + 1.2]
        if road.median >= 1.4:
            pillars.append(0.0)
        for px in pillars:
            self._draw_box(
                self.prop_layer, px - 0.6, px + 0.6, 0.0, bottom, *pillar_z, concrete, self.prop_mask
            )
        self._draw_box(self.prop_layer, x0, x1, bottom, top, z, z + depth, concrete, self.prop_mask)
        for rz in (z + 0.1, z + depth - 0.3):  # parapets along both deck edges
            self._draw_box(
                self.prop_layer, x0, x1, top, top + 0.9, rz, rz + 0.2, (128, 132, 136), self.prop_mask
            )
        self._box_shadow(x0, x1, bottom, top, z, z + depth)

    def _add_tree(self, prop: dict[str, Any]) -> None:
        x, z = float(prop["x_m"]), float(prop["z_m"])
        r, bottom = float(prop["canopy_radius_m"]), float(prop["canopy_bottom_m"])
        trunk = (40, 62, 86)
        self._draw_box(
            self.prop_layer,
            x - 0.22,
            x + 0.22,
            0.0,
            bottom + r * 0.6,
            z - 0.22,
            z + 0.22,
            trunk,
            self.prop_mask,
        )
        x += float(prop.get("lean_m", 0.0))  # the crown leans over the road
        rng = self._rng
        cam = self.camera
        cy_m = bottom + r
        # A canopy is a cluster of leafy blobs; darker ones first (inside), lighter on top.
        for i in range(26):
            a = rng.uniform(0, 2 * math.pi)
            d = rng.uniform(0.0, 0.55) * r
            bx, by, bz = x + d * math.cos(a), cy_m + rng.uniform(-0.35, 0.45) * r, z + d * math.sin(a) * 0.6
            px, py = cam.project(bx, by, bz)
            radius = max(1.0, rng.uniform(0.35, 0.55) * r * cam.fx / bz)
            shade = 0.65 + 0.45 * i / 26
            colour = _shade(
                (int(rng.uniform(30, 45)), int(rng.uniform(95, 125)), int(rng.uniform(45, 70))), shade
            )
            centre = (round(px * _SCALE), round(py * _SCALE))
            cv2.circle(self.prop_layer, centre, round(radius * _SCALE), colour, -1, cv2.LINE_8, SHIFT)
            cv2.circle(self.prop_mask, centre, round(radius * _SCALE), 255, -1, cv2.LINE_8, SHIFT)
        dx, dz = self._sun[0] * cy_m, self._sun[1] * cy_m
        ring = [
            cam.project(x + dx + r * math.cos(t), 0.0, max(1.0, z + dz + r * math.sin(t)))
            for t in np.linspace(0, 2 * math.pi, 28)
        ]
        cv2.fillPoly(self.shadow_mask, [to_fixed(ring)], 1, cv2.LINE_8, SHIFT)

    def _add_sign(self, prop: dict[str, Any]) -> None:
        x, z = float(prop["x_m"]), float(prop["z_m"])
        a, b = float(prop["panel_from_m"]), float(prop["panel_to_m"])
        bottom, top = float(prop["panel_bottom_m"]), float(prop["panel_top_m"])
        steel = (150, 150, 146)
        self._draw_box(self.prop_layer, x - 0.2, x + 0.2, 0.0, top + 0.4, z, z + 0.4, steel, self.prop_mask)
        arm0, arm1 = min(a, x), max(b, x)
        self._draw_box(self.prop_layer, arm0, arm1, top, top + 0.3, z + 0.1, z + 0.3, steel, self.prop_mask)
        panel_green = (60, 120, 20)
        self._draw_box(self.prop_layer, a, b, bottom, top, z - 0.15, z + 0.05, panel_green, self.prop_mask)
        face = box_faces(self.camera, a, b, bottom, top, z - 0.15, z + 0.05)
        front = next(f for f in face if f.name == "front")
        cam = self.camera
        border = [to_fixed(front.quad(cam, 0.03, 0.97, 0.06, 0.94))]
        cv2.polylines(self.prop_layer, border, True, (235, 235, 235), 1, cv2.LINE_8, SHIFT)
        for row, (u0, u1) in enumerate(((0.1, 0.62), (0.1, 0.8), (0.1, 0.45))):
            v1 = 0.82 - row * 0.25
            cv2.fillConvexPoly(
                self.prop_layer,
                to_fixed(front.quad(cam, u0, u1, v1 - 0.12, v1)),
                (235, 235, 235),
                cv2.LINE_8,
                SHIFT,
            )
        self._box_shadow(a, b, bottom, top, z - 0.15, z + 0.05)
