"""Whether an encoded access unit is a reference picture, read from its bitstream headers.

nvv4l2decoder's ``skip-frames=decode_non_ref`` has the Jetson decoder leave out the pictures no
other picture predicts from. The emulation decides that before FFmpeg sees the access unit, from the
first picture header in it — enough, because every slice of one picture carries the same reference
marking:

* H.264 (byte-stream): a slice NAL unit's ``nal_ref_idc`` is 0 for a non-reference picture;
* H.265 (byte-stream): VCL NAL unit types TRAIL_N, TSA_N, STSA_N, RADL_N, RASL_N and the reserved
  RSV_VCL_N10/12/14 (the even types up to 14) are sub-layer non-reference pictures;
* MPEG-4 Part 2: a B-VOP (``vop_coding_type`` 2);
* MPEG-1/2: a B picture (``picture_coding_type`` 3).

Every other access unit — JPEG (intra only), VP8/VP9/AV1 (whose reference refresh flags sit deep in
the frame header), one whose header cannot be found — counts as a reference and is decoded, the
safe side: a dropped reference would break the pictures predicted from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

START_CODE = b"\x00\x00\x01"

H264_VCL_TYPES = range(1, 6)  # coded slice (non-IDR, partitions A–C, IDR)
H265_VCL_TYPES = range(0, 32)
H265_NON_REFERENCE_TYPES = frozenset(range(0, 15, 2))  # *_N and RSV_VCL_N10/12/14

MPEG4_VOP_START = 0xB6
MPEG4_B_VOP = 2
MPEG2_PICTURE_START = 0x00
MPEG2_B_PICTURE = 3


def _units(data: bytes) -> Iterator[int]:
    """Offsets of the bytes that follow each start code (00 00 01) in ``data``."""
    at = data.find(START_CODE)
    while at >= 0 and at + 3 < len(data):
        yield at + 3
        at = data.find(START_CODE, at + 3)


def h264_is_reference(data: bytes) -> bool:
    for at in _units(data):
        header = data[at]
        if header & 0x1F in H264_VCL_TYPES:
            return (header >> 5) & 0x3 != 0
    return True


def h265_is_reference(data: bytes) -> bool:
    for at in _units(data):
        unit_type = (data[at] >> 1) & 0x3F
        if unit_type in H265_VCL_TYPES:
            return unit_type not in H265_NON_REFERENCE_TYPES
    return True


def mpeg4_is_reference(data: bytes) -> bool:
    for at in _units(data):
        if data[at] == MPEG4_VOP_START and at + 1 < len(data):
            return data[at + 1] >> 6 != MPEG4_B_VOP
    return True


def mpeg2_is_reference(data: bytes) -> bool:
    for at in _units(data):
        if data[at] == MPEG2_PICTURE_START and at + 2 < len(data):
            # 10 bits temporal_reference, then 3 bits picture_coding_type
            return (data[at + 2] >> 3) & 0x7 != MPEG2_B_PICTURE
    return True


def reference_test(media: str, mpegversion: int = 0) -> Callable[[bytes], bool] | None:
    """The test for access units of caps ``media`` (and ``mpegversion``); None: all are references."""
    if media == "video/x-h264":
        return h264_is_reference
    if media == "video/x-h265":
        return h265_is_reference
    if media == "video/x-divx" or (media == "video/mpeg" and mpegversion == 4):
        return mpeg4_is_reference
    if media == "video/mpeg" and mpegversion in (1, 2):
        return mpeg2_is_reference
    return None
