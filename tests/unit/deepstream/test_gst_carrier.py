"""The batch meta rides on the buffer: found from the buffer and from its C address, shared by copies."""

from __future__ import annotations

import gc
import sys

from fake_device.deepstream.gst.carrier import (
    attach_batch_meta,
    attach_surface_layout,
    batch_meta_at,
    batch_meta_of,
    surface_layout_at,
)
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.gst.surface import FrameLayout
from fake_device.deepstream.meta import BatchMeta, FrameMeta


def _batch(frame_num: int) -> BatchMeta:
    frame = FrameMeta(
        source_id=0,
        frame_num=frame_num,
        ntp_timestamp=0,
        source_frame_width=64,
        source_frame_height=48,
        buf_pts=0,
        batch_id=0,
    )
    return BatchMeta(frames=[frame], max_frames_in_batch=1)


def test_meta_is_found_from_the_buffer_and_from_its_address() -> None:
    buffer = Gst.Buffer.new_allocate(None, 16, None)
    meta = _batch(7)
    attach_batch_meta(buffer, meta)
    assert batch_meta_of(buffer) is meta
    assert batch_meta_at(hash(buffer)) is meta


def test_a_buffer_without_meta_gives_none() -> None:
    buffer = Gst.Buffer.new_allocate(None, 16, None)
    assert batch_meta_of(buffer) is None
    assert batch_meta_at(hash(buffer)) is None
    assert batch_meta_at(0) is None


def test_attaching_again_replaces_the_meta() -> None:
    buffer = Gst.Buffer.new_allocate(None, 16, None)
    attach_batch_meta(buffer, _batch(1))
    second = _batch(2)
    attach_batch_meta(buffer, second)
    assert batch_meta_of(buffer) is second


def test_copies_share_the_meta_and_each_buffer_owns_a_reference() -> None:
    buffer = Gst.Buffer.new_allocate(None, 16, None)
    meta = _batch(3)
    before = sys.getrefcount(meta)
    attach_batch_meta(buffer, meta)
    assert sys.getrefcount(meta) == before + 1
    deep = buffer.copy_deep()
    assert hash(deep) != hash(buffer)  # another GstBuffer: a table keyed by address would miss it
    assert batch_meta_of(deep) is meta
    assert sys.getrefcount(meta) == before + 2
    del buffer, deep
    gc.collect()
    assert sys.getrefcount(meta) == before  # freed with the buffers: no leak


def test_the_surface_layout_travels_next_to_the_meta() -> None:
    buffer = Gst.Buffer.new_allocate(None, 64 * 48 * 4, None)
    layout = FrameLayout.of("RGBA", 64, 48)
    attach_batch_meta(buffer, _batch(0))
    attach_surface_layout(buffer, layout)
    assert surface_layout_at(hash(buffer)) == layout
    assert batch_meta_of(buffer).frames[0].frame_num == 0
