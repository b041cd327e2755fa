"""Shared helpers of the inference-element tests: a batch from images, and box IoU."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fake_device.deepstream.meta import BatchMeta, FrameMeta, ObjectMeta


def make_batch(images: Sequence[np.ndarray]) -> BatchMeta:
    """One source's frames, as the muxer would batch them (no scaling: images are muxer-sized)."""
    frames = [
        FrameMeta(
            source_id=0,
            frame_num=i,
            ntp_timestamp=0,
            source_frame_width=image.shape[1],
            source_frame_height=image.shape[0],
            image=image,
            batch_id=i,
        )
        for i, image in enumerate(images)
    ]
    return BatchMeta(frames=frames, max_frames_in_batch=max(1, len(frames)))


def iou(a: ObjectMeta, box: tuple[float, float, float, float]) -> float:
    """IoU of an object's box with an (x, y, w, h) box."""
    x, y, w, h = box
    ix = max(0.0, min(a.right, x + w) - max(a.left, x))
    iy = max(0.0, min(a.bottom, y + h) - max(a.top, y))
    inter = ix * iy
    return inter / (a.width * a.height + w * h - inter)
