"""Which world vehicles a detector is expected to find, and which seeds it may be scored on.

The world's truth box is a vehicle's whole silhouette, even where the bridge, the tree, the sign
or another vehicle hides it; ``visibility`` is the fraction actually seen. A vehicle that is
mostly hidden cannot fairly be demanded of a detector, nor should finding it count against one.
So truth with ``visibility`` below :data:`IGNORE_BELOW_VISIBILITY` becomes a COCO *crowd*
(ignore) region: a detection on it is neither a true nor a false positive, and missing it costs
nothing. The training script uses the same threshold to choose its positives.

Seeds: the detector shipped in ``models_repo`` trains on world seeds from
:data:`TRAINING_SEEDS`; evaluation uses seeds from :data:`HELD_OUT_FROM` on, which training
never renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.world import TruthObject

IGNORE_BELOW_VISIBILITY = 0.3
TRAINING_SEEDS = range(1000, 2000)
HELD_OUT_FROM = 9000


@dataclass(frozen=True)
class FrameTruth:
    """The truth of one frame in the form the metric takes."""

    boxes: np.ndarray  # [N, 4] x1, y1, x2, y2 in frame pixels
    class_ids: np.ndarray  # [N] int, the world's class ids
    ignore: np.ndarray  # [N] bool: scored as a crowd region, not as a vehicle to find

    def __len__(self) -> int:
        return len(self.class_ids)

    @classmethod
    def empty(cls) -> FrameTruth:
        return cls(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0, bool))


def frame_truth(
    objects: Sequence[TruthObject], *, ignore_below: float = IGNORE_BELOW_VISIBILITY
) -> FrameTruth:
    """A world frame's truth objects → boxes, classes and ignore flags."""
    if not objects:
        return FrameTruth.empty()
    boxes = np.array([[o.x, o.y, o.x + o.w, o.y + o.h] for o in objects], dtype=np.float64)
    class_ids = np.array([o.class_id for o in objects], dtype=np.int64)
    ignore = np.array([o.visibility < ignore_below for o in objects], dtype=bool)
    return FrameTruth(boxes, class_ids, ignore)
