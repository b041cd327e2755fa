"""What a synthetic world may be asked for: the bounds the world's generator enforces.

A world is named in several files: a world preset (its frame and default length), a scenario's
``world:`` and an artifact spec's world layer (seed and length of the clip). Each is checked
against these bounds when it is loaded or linted, so that a too-long clip or a seed out of range
is an error at its line, not an exception when the video is rendered minutes into a run. The
generator (:mod:`harness.world.world`) checks its parameters against the same numbers.

Kept below the file formats and free of imports, so that their schemas can use it without
importing the generator (OpenCV, numpy).
"""

from __future__ import annotations

from typing import Any

#: Longest clip rendered in one go (frames are rendered and hashed in memory).
MAX_SECONDS = 3600
#: Seeds feed numpy's PCG64 through a signed 64-bit value.
MAX_SEED = 2**63 - 1
#: Frame sizes H.264 levels and the renderer handle, and the highest frame rate. Both sides are
#: even: H.264 (and the generator's encoders) subsample chroma 2x2 (4:2:0), so an odd side is refused
#: by the encoder, minutes into a run, unless it is refused here first.
MIN_SIDE_PX = 64
MAX_WIDTH_PX = 7680
MAX_HEIGHT_PX = 4320
MAX_FPS = 240

SECONDS_HINT = "generate several shorter videos"

#: JSON Schema fragments of the same bounds.
SECONDS_SCHEMA: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SECONDS}
SEED_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_SEED}
WIDTH_SCHEMA: dict[str, Any] = {
    "type": "integer",
    "minimum": MIN_SIDE_PX,
    "maximum": MAX_WIDTH_PX,
    "multipleOf": 2,
}
HEIGHT_SCHEMA: dict[str, Any] = {
    "type": "integer",
    "minimum": MIN_SIDE_PX,
    "maximum": MAX_HEIGHT_PX,
    "multipleOf": 2,
}
FPS_SCHEMA: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_FPS}


def bound_hint(path: list[str | int]) -> str:
    """The hint for a schema finding at ``path`` of a world's bounds ("" when it is not one)."""
    key = path[-1] if path else None
    if key == "seconds":
        return f"a world is at most {MAX_SECONDS} seconds long: {SECONDS_HINT}"
    if key == "seed":
        return f"a seed is an integer from 0 to 2**63-1 ({MAX_SEED})"
    if key in ("width", "height"):
        top = MAX_WIDTH_PX if key == "width" else MAX_HEIGHT_PX
        return (
            f"a frame side is an even number of pixels from {MIN_SIDE_PX} to {top} "
            "(H.264 encodes colour in 2x2 blocks), e.g. 1280x720"
        )
    return ""
