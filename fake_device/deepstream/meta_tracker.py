"""nvtracker's past-frame data (nvds_tracker_meta.h), the batch user meta of type
``NVDS_TRACKER_PAST_FRAME_META``.

A tracker reports, per stream, per target, the frames it tracked the target through without
reporting it (shadow tracking) once the target is reported again: batch → stream → object →
frame. deepstream-test2 walks it with pyds's ``list()`` iterators:
``for stream in pyds.NvDsTargetMiscDataBatch.list(batch): for obj in
pyds.NvDsTargetMiscDataStream.list(stream): for frame in pyds.NvDsTargetMiscDataObject.list(obj)``.
As in C, each iterator yields the first ``numFilled`` (``numObj`` for an object) entries.

``append`` (not in pyds) is how an element fills the lists: it adds an entry and keeps
``numFilled``/``numObj`` and ``numAllocated`` in step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fake_device.deepstream.cmemory import MemoryFault
from fake_device.deepstream.cstruct import CharArray, Embedded, Float, Int, Plain, Struct
from fake_device.deepstream.meta_osd import NvOSD_RectParams


def _entries(owner: Struct, count: int) -> Iterator[Any]:
    items = owner.__dict__["_items"]
    if count > len(items):
        raise MemoryFault(
            f"{type(owner).__name__}.list(): its count says {count} entries but it holds {len(items)} "
            "(reading on would run past the array)"
        )
    return iter(items[:count])


def _append(owner: Struct, entry: Struct, count: str) -> None:
    """Add ``entry`` to ``owner``'s array and keep its fill count (member ``count``) and
    ``numAllocated`` equal to the entries held, as an element filling the arrays leaves them."""
    items = owner.__dict__["_items"]
    items.append(entry)
    setattr(owner, count, len(items))
    owner.numAllocated = len(items)  # type: ignore[attr-defined]


class NvDsTargetMiscDataFrame(Struct):
    """One past frame of a target: frame number, box, confidence and age then."""

    frameNum = Int("uint32_t")
    tBbox = Embedded(NvOSD_RectParams)
    confidence = Float()
    age = Int("uint32_t")

    _not_emulated = {"trackerState": "not bound by pyds", "visibility": "not bound by pyds"}  # noqa: RUF012


class NvDsTargetMiscDataObject(Struct):
    """One target's past frames."""

    numObj = Int("uint32_t")
    numAllocated = Int("uint32_t")
    uniqueId = Int("uint64_t", 64)
    classId = Int("uint16_t", 16)
    objLabel = CharArray(128)
    _items = Plain(factory=list)

    def list(self) -> Iterator[NvDsTargetMiscDataFrame]:
        return _entries(self, self.numObj)

    def append(self, frame: NvDsTargetMiscDataFrame) -> None:
        _append(self, frame, "numObj")


class NvDsTargetMiscDataStream(Struct):
    """The targets of one stream that have past frames to report."""

    streamID = Int("uint32_t")
    surfaceStreamID = Int("uint64_t", 64)
    numAllocated = Int("uint32_t")
    numFilled = Int("uint32_t")
    _items = Plain(factory=list)

    def list(self) -> Iterator[NvDsTargetMiscDataObject]:
        return _entries(self, self.numFilled)

    def append(self, obj: NvDsTargetMiscDataObject) -> None:
        _append(self, obj, "numFilled")


class NvDsTargetMiscDataBatch(Struct):
    """The streams of a batch (the ``user_meta_data`` of the past-frame user meta)."""

    numAllocated = Int("uint32_t")
    numFilled = Int("uint32_t")
    _items = Plain(factory=list)

    _not_emulated = {"priv_data": "internal to nvtracker"}  # noqa: RUF012

    def list(self) -> Iterator[NvDsTargetMiscDataStream]:
        return _entries(self, self.numFilled)

    def append(self, stream: NvDsTargetMiscDataStream) -> None:
        _append(self, stream, "numFilled")
