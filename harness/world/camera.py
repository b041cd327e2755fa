"""The fixed traffic camera: a pinhole over the road, plus optional shake.

The camera looks along the road from above. Its image plane is kept vertical and the principal
point is shifted down (a "shift lens"), which keeps vertical edges vertical and makes the ground
projection a one-line formula; for a camera well above the road this is visually the same as a
tilted camera, and it keeps every box an exact function of world coordinates. Far vehicles come
out smaller than near ones: the mild perspective a real pole- or gantry-mounted camera has.

World coordinates (metres): X across the road (positive to the image's right, 0 under the
camera), Y up from the road surface, Z along the road away from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Projects world points to pixel coordinates of a canvas.

    ``fx``/``fy`` are focal lengths in pixels (they differ only when a preset drawn for one
    frame size is rendered at another aspect ratio); ``horizon_y`` is the image row where the
    road would vanish; ``height_m`` is the camera's height above the road.
    """

    fx: float
    fy: float
    cx: float
    horizon_y: float
    height_m: float
    x_m: float = 0.0

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """Pixel position of the world point (x, y, z); z must be positive."""
        inv = 1.0 / z
        return self.cx + self.fx * (x - self.x_m) * inv, self.horizon_y + self.fy * (self.height_m - y) * inv

    def ground_z_at_row(self, row: float) -> float:
        """Distance along the road of the ground point seen at image row ``row``."""
        return self.fy * self.height_m / (row - self.horizon_y)

    def top_z_at_row(self, row: float, top_m: float) -> float:
        """Distance at which a point ``top_m`` above the road is seen at image row ``row``."""
        return self.fy * (self.height_m - top_m) / (row - self.horizon_y)

    def scaled(self, sx: float, sy: float) -> Camera:
        """The same camera for a frame scaled by (sx, sy), as when a preset drawn for 1280×720
        is rendered at another size."""
        return Camera(self.fx * sx, self.fy * sy, self.cx * sx, self.horizon_y * sy, self.height_m, self.x_m)

    def shifted(self, dx: float, dy: float) -> Camera:
        """The same camera drawing onto a canvas whose origin is (-dx, -dy) in image pixels."""
        return Camera(self.fx, self.fy, self.cx + dx, self.horizon_y + dy, self.height_m, self.x_m)


class Shake:
    """Small per-frame camera translation, in whole pixels.

    A mast in the wind moves smoothly, not by independent jumps, so the offset follows an AR(1)
    process. Whole pixels keep every ground-truth box exact: the frame is a crop of a larger
    canvas at the shaken offset, and boxes move by the same integers.
    """

    def __init__(self, rng: np.random.Generator, sigma_px: float, margin_px: int, rho: float = 0.6) -> None:
        self._rng = rng
        self._sigma = float(sigma_px)
        self._margin = int(margin_px)
        self._rho = float(rho)
        self._state = (0.0, 0.0)

    def next(self) -> tuple[int, int]:
        """The (dx, dy) offset of the next frame, within ±margin."""
        if self._sigma <= 0.0:
            return 0, 0
        nx, ny = self._rng.normal(0.0, self._sigma, size=2)
        sx = self._rho * self._state[0] + float(nx)
        sy = self._rho * self._state[1] + float(ny)
        self._state = (sx, sy)
        m = self._margin
        return int(min(m, max(-m, round(sx)))), int(min(m, max(-m, round(sy))))


@dataclass(frozen=True)
class Face:
    """A visible rectangular face of a box: ``origin`` plus ``u`` and ``v`` edge vectors (world
    metres). Sub-rectangles in (u, v) ∈ [0, 1]² are windows, lights and stripes."""

    name: str
    origin: tuple[float, float, float]
    u: tuple[float, float, float]
    v: tuple[float, float, float]

    def quad(
        self, camera: Camera, u0: float = 0.0, u1: float = 1.0, v0: float = 0.0, v1: float = 1.0
    ) -> list:
        """Pixel corners of the sub-rectangle [u0, u1] × [v0, v1] of this face.

        Interpolation happens in world space before projecting, so a window a third of the way
        along a side stays a third of the way along in perspective.
        """
        ox, oy, oz = self.origin
        ux, uy, uz = self.u
        vx, vy, vz = self.v
        project = camera.project
        return [
            project(ox + a * ux + b * vx, oy + a * uy + b * vy, oz + a * uz + b * vz)
            for a, b in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))
        ]


def box_faces(
    camera: Camera,
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    z0: float,
    z1: float,
    *,
    front_is_near: bool = True,
) -> list[Face]:
    """The faces of an axis-aligned box that the camera sees, drawn back to front.

    A box seen from above and in front shows at most three faces: a side (the one facing the
    camera's x), the near end and the top; they never overlap each other, so their union is the
    box's silhouette. ``front_is_near`` says whether the box's front (u/v origin for the top and
    side) is its near end, so that details placed "from the front" land at the right end.
    """
    faces: list[Face] = []
    length = z1 - z0
    front_z, along = (z0, length) if front_is_near else (z1, -length)
    if x0 > camera.x_m:
        faces.append(Face("side", (x0, y0, front_z), (0.0, 0.0, along), (0.0, y1 - y0, 0.0)))
    elif x1 < camera.x_m:
        faces.append(Face("side", (x1, y0, front_z), (0.0, 0.0, along), (0.0, y1 - y0, 0.0)))
    faces.append(
        Face("front" if front_is_near else "rear", (x0, y0, z0), (x1 - x0, 0.0, 0.0), (0.0, y1 - y0, 0.0))
    )
    if y1 < camera.height_m:
        faces.append(Face("top", (x0, y1, front_z), (x1 - x0, 0.0, 0.0), (0.0, 0.0, along)))
    return faces
