"""What each vehicle class looks like: sizes, parts and colours.

A vehicle is a few boxes (parts) in its own frame: ``across`` metres from its centre line, ``up``
from the road, ``along`` metres back from the front bumper. Details (windows, lights, wheels,
stripes) are rectangles on a part's faces. Classes differ in what a detector can learn: cars are
short with a glass cabin in many colours; trucks are long, with a cab ahead of a taller box
trailer; buses are long and tall with a row of windows, mostly yellow or white; motorcycles are
narrow with a rider and a helmet on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.world.presets import CLASS_NAMES

Colour = tuple[int, int, int]  # BGR, as OpenCV draws

CAR, TRUCK, BUS, MOTORCYCLE = range(4)
assert CLASS_NAMES == ("car", "truck", "bus", "motorcycle")

GLASS: Colour = (62, 52, 44)
TYRE: Colour = (28, 28, 30)
HEADLIGHT: Colour = (205, 235, 245)
TAIL_LIGHT: Colour = (30, 30, 190)
PLATE: Colour = (215, 220, 220)

# Share of each colour among cars (BGR), from common road fleets: white, black, greys dominate.
_CAR_COLOURS: tuple[tuple[Colour, float], ...] = (
    ((232, 232, 230), 0.22),
    ((30, 30, 34), 0.17),
    ((186, 188, 184), 0.15),
    ((118, 118, 116), 0.12),
    ((110, 52, 30), 0.08),
    ((38, 36, 190), 0.09),
    ((176, 104, 40), 0.05),
    ((62, 108, 52), 0.03),
    ((150, 180, 200), 0.04),
    ((40, 196, 228), 0.02),
    ((28, 116, 226), 0.03),
)
_TRAILER_COLOURS: tuple[tuple[Colour, float], ...] = (
    ((236, 238, 238), 0.45),
    ((186, 188, 190), 0.2),
    ((150, 70, 30), 0.12),
    ((40, 40, 170), 0.1),
    ((60, 120, 60), 0.08),
    ((40, 150, 210), 0.05),
)
_CAB_COLOURS: tuple[tuple[Colour, float], ...] = (
    ((236, 236, 236), 0.35),
    ((40, 40, 180), 0.2),
    ((150, 80, 30), 0.2),
    ((30, 30, 32), 0.15),
    ((40, 170, 220), 0.1),
)
_BUS_COLOURS: tuple[tuple[Colour, float], ...] = (
    ((20, 188, 244), 0.42),  # school-bus yellow
    ((238, 238, 236), 0.43),
    ((40, 40, 180), 0.07),
    ((160, 90, 30), 0.05),
    ((70, 140, 60), 0.03),
)
_MOTO_COLOURS: tuple[tuple[Colour, float], ...] = (
    ((28, 28, 30), 0.4),
    ((30, 30, 190), 0.2),
    ((170, 90, 30), 0.15),
    ((40, 160, 40), 0.1),
    ((200, 200, 200), 0.15),
)
_JACKETS: tuple[tuple[Colour, float], ...] = (
    ((30, 30, 30), 0.4),
    ((80, 60, 50), 0.2),
    ((30, 60, 160), 0.15),
    ((20, 160, 230), 0.1),
    ((160, 120, 60), 0.15),
)


@dataclass(frozen=True)
class Detail:
    """A rectangle on a face: (u, v) ∈ [0, 1]². On the front/rear u runs across and v up; on a
    side u runs from the front backwards and v up; on the top u runs across and v backwards."""

    face: str
    u0: float
    u1: float
    v0: float
    v1: float
    colour: Colour


@dataclass(frozen=True)
class Part:
    """A box of the vehicle, in the vehicle's frame (metres)."""

    across: tuple[float, float]
    up: tuple[float, float]
    along: tuple[float, float]
    colour: Colour
    details: tuple[Detail, ...] = ()


@dataclass(frozen=True)
class Body:
    """A vehicle's class, outer size and parts; fixed for its life."""

    class_id: int
    length: float
    width: float
    height: float
    parts: tuple[Part, ...]

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.class_id]


def _pick(rng: np.random.Generator, table: tuple[tuple[Colour, float], ...]) -> Colour:
    weights = np.array([w for _, w in table])
    colour = table[int(rng.choice(len(table), p=weights / weights.sum()))][0]
    jitter = rng.integers(-10, 11, size=3)
    return tuple(int(min(255, max(0, c + j))) for c, j in zip(colour, jitter, strict=True))  # type: ignore[return-value]


def _car(rng: np.random.Generator) -> Body:
    suv = rng.random() < 0.25
    length = float(rng.uniform(4.4, 4.9) if suv else rng.uniform(3.9, 4.7))
    width = float(rng.uniform(1.8, 1.95) if suv else rng.uniform(1.68, 1.85))
    height = float(rng.uniform(1.6, 1.8) if suv else rng.uniform(1.38, 1.55))
    colour = _pick(rng, _CAR_COLOURS)
    w2 = width / 2
    belt = height * 0.55
    hood = 0.26 if not suv else 0.2
    tail = 0.8 if not suv else 0.93
    body = Part(
        (-w2, w2),
        (0.0, belt),
        (0.0, length),
        colour,
        (
            Detail("front", 0.06, 0.26, 0.5, 0.78, HEADLIGHT),
            Detail("front", 0.74, 0.94, 0.5, 0.78, HEADLIGHT),
            Detail("front", 0.32, 0.68, 0.2, 0.5, (40, 40, 42)),
            Detail("rear", 0.05, 0.22, 0.55, 0.85, TAIL_LIGHT),
            Detail("rear", 0.78, 0.95, 0.55, 0.85, TAIL_LIGHT),
            Detail("rear", 0.38, 0.62, 0.25, 0.5, PLATE),
            Detail("side", 0.12, 0.27, 0.0, 0.55, TYRE),
            Detail("side", 0.72, 0.87, 0.0, 0.55, TYRE),
        ),
    )
    cabin = Part(
        (-w2 + 0.1, w2 - 0.1),
        (belt, height),
        (length * hood, length * tail),
        colour,
        (
            Detail("front", 0.04, 0.96, 0.0, 0.9, GLASS),
            Detail("rear", 0.06, 0.94, 0.05, 0.88, GLASS),
            Detail("side", 0.05, 0.47, 0.08, 0.9, GLASS),
            Detail("side", 0.53, 0.95 if not suv else 0.8, 0.08, 0.9, GLASS),
        ),
    )
    return Body(CAR, length, width, height, (body, cabin))


def _truck(rng: np.random.Generator) -> Body:
    length = float(rng.uniform(9.0, 14.5))
    width = 2.5
    height = float(rng.uniform(3.6, 4.0))
    cab_len, gap = 2.3, 0.35
    cab_colour = _pick(rng, _CAB_COLOURS)
    box_colour = _pick(rng, _TRAILER_COLOURS)
    w2 = width / 2
    cab = Part(
        (-w2, w2),
        (0.0, 3.0),
        (0.0, cab_len),
        cab_colour,
        (
            Detail("front", 0.06, 0.94, 0.55, 0.9, GLASS),
            Detail("front", 0.06, 0.22, 0.12, 0.25, HEADLIGHT),
            Detail("front", 0.78, 0.94, 0.12, 0.25, HEADLIGHT),
            Detail("front", 0.3, 0.7, 0.1, 0.4, (60, 60, 62)),
            Detail("side", 0.08, 0.55, 0.55, 0.86, GLASS),
            Detail("side", 0.15, 0.45, 0.0, 0.3, TYRE),
        ),
    )
    stripe = rng.random() < 0.4
    stripe_colour = _pick(rng, _CAB_COLOURS)
    chassis = Part(
        (-w2 + 0.15, w2 - 0.15),
        (0.0, 1.1),
        (cab_len, length),
        (46, 46, 48),
        (
            Detail("side", 0.7, 0.78, 0.0, 0.85, TYRE),
            Detail("side", 0.8, 0.88, 0.0, 0.85, TYRE),
            Detail("side", 0.05, 0.14, 0.0, 0.85, TYRE),
        ),
    )
    trailer_details: list[Detail] = [
        Detail("rear", 0.495, 0.505, 0.02, 0.98, (80, 80, 80)),
        Detail("rear", 0.04, 0.14, 0.02, 0.1, TAIL_LIGHT),
        Detail("rear", 0.86, 0.96, 0.02, 0.1, TAIL_LIGHT),
        Detail("top", 0.0, 1.0, 0.0, 0.02, (90, 90, 90)),
    ]
    if stripe:
        trailer_details.append(Detail("side", 0.0, 1.0, 0.3, 0.42, stripe_colour))
    trailer = Part((-w2, w2), (1.1, height), (cab_len + gap, length), box_colour, tuple(trailer_details))
    return Body(TRUCK, length, width, height, (cab, chassis, trailer))


def _bus(rng: np.random.Generator) -> Body:
    length = float(rng.uniform(10.5, 12.5))
    width = 2.55
    height = float(rng.uniform(3.0, 3.35))
    colour = _pick(rng, _BUS_COLOURS)
    details: list[Detail] = [
        Detail("front", 0.05, 0.95, 0.42, 0.88, GLASS),
        Detail("front", 0.15, 0.85, 0.9, 0.97, (30, 60, 70)),
        Detail("front", 0.06, 0.2, 0.12, 0.22, HEADLIGHT),
        Detail("front", 0.8, 0.94, 0.12, 0.22, HEADLIGHT),
        Detail("rear", 0.15, 0.85, 0.6, 0.85, GLASS),
        Detail("rear", 0.05, 0.16, 0.15, 0.3, TAIL_LIGHT),
        Detail("rear", 0.84, 0.95, 0.15, 0.3, TAIL_LIGHT),
        Detail("top", 0.05, 0.95, 0.02, 0.98, (205, 208, 208)),
        Detail("top", 0.25, 0.75, 0.45, 0.62, (150, 152, 150)),
        Detail("side", 0.12, 0.2, 0.0, 0.22, TYRE),
        Detail("side", 0.74, 0.82, 0.0, 0.22, TYRE),
    ]
    windows = max(5, int(length / 1.45))
    step = 0.9 / windows
    for i in range(windows):
        u0 = 0.06 + i * step
        details.append(Detail("side", u0, u0 + step * 0.82, 0.52, 0.86, GLASS))
    if colour[0] > 200 and colour[1] > 200:  # white buses carry a livery stripe
        details.append(Detail("side", 0.0, 1.0, 0.34, 0.44, _pick(rng, _CAB_COLOURS[1:])))
    w2 = width / 2
    return Body(
        BUS, length, width, height, (Part((-w2, w2), (0.0, height), (0.0, length), colour, tuple(details)),)
    )


def _motorcycle(rng: np.random.Generator) -> Body:
    length = float(rng.uniform(1.9, 2.25))
    bike_colour = _pick(rng, _MOTO_COLOURS)
    jacket = _pick(rng, _JACKETS)
    helmet = _pick(rng, _MOTO_COLOURS)
    bike = Part(
        (-0.3, 0.3),
        (0.0, 0.95),
        (0.0, length),
        bike_colour,
        (
            Detail("front", 0.25, 0.75, 0.65, 0.85, HEADLIGHT),
            Detail("rear", 0.3, 0.7, 0.6, 0.8, TAIL_LIGHT),
            Detail("side", 0.0, 0.3, 0.0, 0.6, TYRE),
            Detail("side", 0.7, 1.0, 0.0, 0.6, TYRE),
        ),
    )
    rider = Part((-0.26, 0.26), (0.95, 1.5), (length * 0.38, length * 0.66), jacket)
    head = Part(
        (-0.15, 0.15),
        (1.5, 1.78),
        (length * 0.32, length * 0.46),
        helmet,
        (Detail("front", 0.1, 0.9, 0.35, 0.7, GLASS),),
    )
    return Body(MOTORCYCLE, length, 0.7, 1.78, (bike, rider, head))


_MAKERS = (_car, _truck, _bus, _motorcycle)


def make_body(class_id: int, rng: np.random.Generator) -> Body:
    """A new vehicle body of ``class_id`` with its size and colours drawn from ``rng``."""
    return _MAKERS[class_id](rng)
