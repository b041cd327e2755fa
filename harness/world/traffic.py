"""Traffic: vehicles arriving, following, overtaking and leaving.

Vehicles arrive per lane as a Poisson stream, drive with the Intelligent Driver Model (IDM:
smooth acceleration to a desired speed, braking for the vehicle ahead, no collisions) and change
lanes smoothly to overtake a slower leader, to return to the kerb lane, or now and then for no
reason. Overtaking in the adjacent lane is what produces vehicle-on-vehicle occlusion.

A script (:class:`ScriptedVehicle`) places vehicles exactly, for scenes whose truth is checked
by hand: scripted vehicles keep their scripted speed and lanes and ignore other traffic (other
traffic still brakes for them).

Everything random comes from one ``numpy.random.Generator`` and vehicles are always visited in
creation order, so a seed gives the same traffic on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.world.camera import Camera
from harness.world.presets import CLASS_NAMES, Preset
from harness.world.road import INBOUND, OUTBOUND, Road
from harness.world.vehicle import BUS, TRUCK, Body, make_body

DIRECTIONS = (INBOUND, OUTBOUND)

# IDM parameters (Treiber et al.): comfortable acceleration, braking, time headway, jam gap.
_ACCEL = {0: 1.4, 1: 0.8, 2: 0.9, 3: 2.0}
_BRAKE = 2.0
_HEADWAY_S = {0: 1.3, 1: 1.7, 2: 1.6, 3: 1.1}
_JAM_GAP_M = 2.5
_LANE_CHANGE_COOLDOWN_S = 4.0
_SAFE_BRAKE = 2.5  # m/s², the hardest braking a lane change may force on anyone


@dataclass(frozen=True)
class LaneChange:
    """A scripted lane change: at ``at_s`` seconds move to lane ``to_lane`` over ``duration_s``."""

    at_s: float
    to_lane: int
    duration_s: float = 3.0


@dataclass(frozen=True)
class SpeedChange:
    """A scripted speed change: from ``at_s`` reach ``speed_kmh`` linearly over ``over_s``."""

    at_s: float
    speed_kmh: float
    over_s: float = 1.0


@dataclass(frozen=True)
class ScriptedVehicle:
    """One vehicle placed by hand.

    ``enter_s``: seconds after frame 1 at which it appears; ``start_z_m``: where its front is
    then (metres along the road; default: just out of view at the entry side, so it drives in);
    ``id``: its ground-truth track id (default: next free id on first appearance).
    """

    cls: str
    direction: str = INBOUND
    lane: int = 1
    speed_kmh: float = 80.0
    enter_s: float = 0.0
    start_z_m: float | None = None
    id: int | None = None
    lane_changes: tuple[LaneChange, ...] = ()
    speed_changes: tuple[SpeedChange, ...] = ()

    def __post_init__(self) -> None:
        if self.cls not in CLASS_NAMES:
            raise ValueError(f"unknown vehicle class {self.cls!r} (expected one of {list(CLASS_NAMES)})")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r} (expected inbound or outbound)")
        if self.speed_kmh < 0 or any(c.speed_kmh < 0 for c in self.speed_changes):
            raise ValueError("speeds must not be negative")
        if self.id is not None and self.id < 1:
            raise ValueError("track ids start at 1")

    def speed_at(self, t: float) -> float:
        """Scripted speed (m/s) at time ``t``: piecewise linear through the speed changes."""
        v = self.speed_kmh
        for change in sorted(self.speed_changes, key=lambda c: c.at_s):
            if t <= change.at_s:
                break
            frac = 1.0 if change.over_s <= 0 else min(1.0, (t - change.at_s) / change.over_s)
            v = v + (change.speed_kmh - v) * frac
        return v / 3.6


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass
class Vehicle:
    """A vehicle on the road. ``z_front`` is where its front bumper is along the road; the body
    extends behind it (further from the camera when inbound, nearer when outbound)."""

    key: int
    body: Body
    direction: str
    lane: int
    x: float
    z_front: float
    speed: float
    desired_speed: float
    script: ScriptedVehicle | None = None
    track_id: int | None = None
    change_from_x: float = 0.0
    change_to_x: float = 0.0
    change_start: float = 0.0
    change_duration: float = 0.0
    last_change: float = -1e9
    done: bool = False

    @property
    def sign(self) -> float:
        """+1 when driving away from the camera (outbound), -1 when towards it (inbound)."""
        return 1.0 if self.direction == OUTBOUND else -1.0

    @property
    def progress(self) -> float:
        """Position of the front bumper along the direction of travel."""
        return self.sign * self.z_front

    @property
    def z_near(self) -> float:
        return self.z_front if self.direction == INBOUND else self.z_front - self.body.length

    @property
    def z_far(self) -> float:
        return self.z_front + self.body.length if self.direction == INBOUND else self.z_front

    @property
    def changing_lane(self) -> bool:
        return self.change_duration > 0.0


class Traffic:
    """The vehicles on the road and the rules that move them."""

    def __init__(
        self,
        preset: Preset,
        road: Road,
        camera: Camera,
        canvas_height: int,
        rng: np.random.Generator,
        *,
        auto: bool = True,
        script: tuple[ScriptedVehicle, ...] = (),
    ) -> None:
        self.road = road
        self.camera = camera
        self._rng = rng
        self._canvas_height = canvas_height
        self.vehicles: list[Vehicle] = []
        self._next_key = 0
        self._auto = auto
        traffic = preset.traffic
        self._flow = {d: float(traffic["flow_per_lane_per_min"][d]) / 60.0 for d in DIRECTIONS}
        self._lane_change_rate = float(traffic["lane_changes_per_min"]) / 60.0
        self._heavy_factor = float(traffic["heavy_in_fast_lanes"])
        self._classes = preset.classes
        self._next_arrival: dict[tuple[str, int], float] = {}
        self._waiting: dict[tuple[str, int], tuple[Body, float]] = {}
        self._pending_script = sorted(enumerate(script), key=lambda item: (item[1].enter_s, item[0]))
        for ix, s in enumerate(script):
            road.lane(s.direction, s.lane)  # unknown lanes fail before any frame is drawn
            for change in s.lane_changes:
                try:
                    road.lane(s.direction, change.to_lane)
                except ValueError as err:
                    raise ValueError(f"scripted vehicle {ix}: {err}") from None

    # ----------------------------------------------------------------- entry and exit points

    def entry_z(self, body: Body, direction: str) -> float:
        """Front position at which a new vehicle is entirely outside the canvas, entry side."""
        cam = self.camera
        if direction == INBOUND:
            # Lowest image point is the front at ground level: keep it above the canvas top.
            return cam.fy * cam.height_m / (-cam.horizon_y) + 2.0
        # Highest image point is the front roof: keep it below the canvas bottom.
        z = cam.fy * (cam.height_m - body.height) / (self._canvas_height - cam.horizon_y) - 1.0
        return max(z, body.length + 2.0)

    def _has_left(self, v: Vehicle) -> bool:
        cam = self.camera
        if v.direction == INBOUND:
            z_top = cam.fy * (cam.height_m - v.body.height) / (self._canvas_height - cam.horizon_y)
            return v.z_far < z_top
        return v.z_near > cam.fy * cam.height_m / (-cam.horizon_y)

    # ----------------------------------------------------------------- creation

    def _add(
        self,
        body: Body,
        direction: str,
        lane: int,
        z_front: float,
        speed: float,
        desired: float,
        script: ScriptedVehicle | None = None,
    ) -> Vehicle:
        x = self.road.lane(direction, lane).center_x
        v = Vehicle(self._next_key, body, direction, lane, x, z_front, speed, desired, script)
        v.change_from_x = v.change_to_x = x
        if script is not None and script.id is not None:
            v.track_id = script.id
        self._next_key += 1
        self.vehicles.append(v)
        return v

    def _draw_class(self, lane: int) -> int:
        shares = np.array([c.share for c in self._classes], dtype=np.float64)
        if lane > 1:
            shares[TRUCK] *= self._heavy_factor
            shares[BUS] *= self._heavy_factor
        if shares.sum() <= 0:
            shares = np.array([c.share for c in self._classes], dtype=np.float64)
        return int(self._rng.choice(len(shares), p=shares / shares.sum()))

    def _spawn_arrivals(self, t: float) -> None:
        """Poisson arrivals per lane. An arrival is drawn once (class, size, desired speed) and
        waits at the entrance while the lane is full, so congestion cannot bias the class mix
        towards vehicles that happen to fit."""
        rng = self._rng
        for direction in DIRECTIONS:
            rate = self._flow[direction]
            if rate <= 0:
                continue
            for lane in self.road.lanes(direction):
                key = (direction, lane.number)
                if key not in self._next_arrival:
                    self._next_arrival[key] = t + float(rng.exponential(1.0 / rate))
                if t < self._next_arrival[key]:
                    continue
                if key not in self._waiting:
                    class_id = self._draw_class(lane.number)
                    body = make_body(class_id, rng)
                    lo, hi = self._classes[class_id].speed_kmh
                    self._waiting[key] = (body, float(rng.uniform(lo, hi)) / 3.6)
                body, desired = self._waiting[key]
                z = self.entry_z(body, direction)
                probe = Vehicle(-1, body, direction, lane.number, lane.center_x, z, desired, desired)
                leader, gap = self._leader(probe, self.vehicles)
                speed = desired
                if leader is not None:
                    needed = _JAM_GAP_M + 0.8 * min(desired, leader.speed) * _HEADWAY_S[body.class_id]
                    if gap < needed:
                        continue  # lane entrance blocked: the arrival waits for room
                    speed = min(desired, leader.speed + 2.0) if gap < 3 * needed else desired
                del self._waiting[key]
                self._add(body, direction, lane.number, z, speed, desired)
                self._next_arrival[key] = t + max(1.0, float(rng.exponential(1.0 / rate)))

    def _spawn_scripted(self, t: float, dt: float) -> None:
        while self._pending_script and self._pending_script[0][1].enter_s <= t + dt * 0.5:
            index, s = self._pending_script.pop(0)
            body_rng = np.random.Generator(np.random.PCG64([0x5C817, index]))
            body = make_body(CLASS_NAMES.index(s.cls), body_rng)
            z = s.start_z_m if s.start_z_m is not None else self.entry_z(body, s.direction)
            speed = s.speed_at(max(0.0, t))
            self._add(body, s.direction, s.lane, float(z), speed, speed, s)

    # ----------------------------------------------------------------- dynamics

    @staticmethod
    def _footprint(v: Vehicle, x: float | None = None) -> tuple[float, float]:
        """Road width a vehicle claims. A vehicle changing lanes claims its current and its
        target position, as a driver signals before moving over; without this, a vehicle
        behind in the target lane would not see it coming and drive into it."""
        if x is not None:
            return x - v.body.width / 2, x + v.body.width / 2
        lo, hi = (min(v.x, v.change_to_x), max(v.x, v.change_to_x)) if v.changing_lane else (v.x, v.x)
        return lo - v.body.width / 2, hi + v.body.width / 2

    def _overlaps(self, a: Vehicle, b: Vehicle, x_a: float | None = None) -> bool:
        a0, a1 = self._footprint(a, x_a)
        b0, b1 = self._footprint(b)
        return a0 < b1 + 0.3 and b0 < a1 + 0.3

    def _leader(
        self, v: Vehicle, others: list[Vehicle], x: float | None = None
    ) -> tuple[Vehicle | None, float]:
        """The nearest vehicle ahead sharing road width with ``v`` (at lateral ``x``) and the gap."""
        best, best_gap = None, math.inf
        for o in others:
            if o is v or o.direction != v.direction or not self._overlaps(v, o, x):
                continue
            gap = (o.progress - o.body.length) - v.progress
            if o.progress > v.progress and gap < best_gap:
                best, best_gap = o, gap
        return best, best_gap

    def _follower(self, v: Vehicle, x: float) -> tuple[Vehicle | None, float]:
        best, best_gap = None, math.inf
        for o in self.vehicles:
            if o is v or o.direction != v.direction or not self._overlaps(v, o, x):
                continue
            gap = (v.progress - v.body.length) - o.progress
            if o.progress <= v.progress and gap < best_gap:
                best, best_gap = o, gap
        return best, best_gap

    def _idm(self, v: Vehicle, leader: Vehicle | None, gap: float) -> float:
        cls = v.body.class_id
        a = _ACCEL[cls]
        v0 = max(v.desired_speed, 0.1)
        free = 1.0 - (v.speed / v0) ** 4
        if leader is None:
            return a * free
        dv = v.speed - leader.speed
        s_star = _JAM_GAP_M + max(0.0, v.speed * _HEADWAY_S[cls] + v.speed * dv / (2 * math.sqrt(a * _BRAKE)))
        return a * (free - (s_star / max(gap, 0.1)) ** 2)

    def _safe_lane(self, v: Vehicle, lane: int) -> bool:
        """MOBIL's safety criterion: after the change neither ``v`` nor its new follower would
        have to brake harder than :data:`_SAFE_BRAKE` (and both keep the jam gap)."""
        x = self.road.lane(v.direction, lane).center_x
        leader, gap = self._leader(v, self.vehicles, x)
        if leader is not None and (gap < _JAM_GAP_M or self._idm(v, leader, gap) < -_SAFE_BRAKE):
            return False
        follower, back = self._follower(v, x)
        return not (
            follower is not None and (back < _JAM_GAP_M or self._idm(follower, v, back) < -_SAFE_BRAKE)
        )

    def _start_change(self, v: Vehicle, lane: int, t: float, duration: float) -> None:
        v.change_from_x = v.x
        v.change_to_x = self.road.lane(v.direction, lane).center_x
        v.change_start = t
        v.change_duration = duration
        v.lane = lane
        v.last_change = t

    def _decide_lane_change(
        self, v: Vehicle, leader: Vehicle | None, gap: float, t: float, dt: float
    ) -> None:
        rng = self._rng
        roll, pick, duration = float(rng.random()), float(rng.random()), float(rng.uniform(2.5, 4.0))
        if v.changing_lane or t - v.last_change < _LANE_CHANGE_COOLDOWN_S:
            return
        n = len(self.road.lanes(v.direction))
        if n < 2:
            return
        target = None
        if leader is not None and gap < 45.0 and leader.speed < v.desired_speed - 2.5:
            # Blocked by a slower vehicle: overtake towards the median, or pass on the kerb side.
            for lane in (v.lane + 1, v.lane - 1):
                if 1 <= lane <= n and self._safe_lane(v, lane):
                    ahead, room = self._leader(v, self.vehicles, self.road.lane(v.direction, lane).center_x)
                    if ahead is None or room > gap + 10.0 or ahead.speed > leader.speed + 2.0:
                        target = lane
                        break
        elif v.lane > 1 and roll < 0.12 * dt:
            target = v.lane - 1  # keep to the kerb lane when the road ahead is free
        elif roll < self._lane_change_rate * dt:
            target = v.lane + (1 if pick < 0.5 else -1)
            if not 1 <= target <= n:
                target = v.lane - (1 if pick < 0.5 else -1)
        if target is not None and target != v.lane and self._safe_lane(v, target):
            self._start_change(v, target, t, duration)

    def spawn(self, t: float, dt: float) -> None:
        """Let in the vehicles due at time ``t`` (seconds; frame 1 is t = 0)."""
        if self._auto:
            self._spawn_arrivals(t)
        self._spawn_scripted(t, dt)

    def advance(self, t: float, dt: float) -> None:
        """Move every vehicle from time ``t`` to ``t + dt`` and drop those that left the view."""
        accelerations: list[float] = []
        for v in self.vehicles:
            leader, gap = self._leader(v, self.vehicles)
            if v.script is None:
                accelerations.append(self._idm(v, leader, gap))
                self._decide_lane_change(v, leader, gap, t, dt)
            else:
                accelerations.append(0.0)
                for change in v.script.lane_changes:
                    if change.at_s <= t < change.at_s + dt and change.to_lane != v.lane:
                        self._start_change(v, change.to_lane, t, max(change.duration_s, dt))
        for v, acc in zip(self.vehicles, accelerations, strict=True):
            if v.script is None:
                v.speed = max(0.0, v.speed + max(-9.0, acc) * dt)
            else:
                v.speed = v.script.speed_at(t + dt)
            v.z_front += v.sign * v.speed * dt
            if v.changing_lane:
                frac = (t + dt - v.change_start) / v.change_duration
                v.x = v.change_from_x + (v.change_to_x - v.change_from_x) * _smoothstep(frac)
                if frac >= 1.0:
                    v.x = v.change_to_x
                    v.change_duration = 0.0
            if self._has_left(v):
                v.done = True
        self.vehicles = [v for v in self.vehicles if not v.done]
