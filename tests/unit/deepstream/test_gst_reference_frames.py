"""Reference or not, from hand-made access units of each codec's headers."""

from __future__ import annotations

import pytest

from fake_device.deepstream.gst.reference_frames import reference_test

pytestmark = pytest.mark.unit

SC = b"\x00\x00\x00\x01"


def _h264(*headers: int) -> bytes:
    return b"".join(SC + bytes([h]) + b"\x88\x84" for h in headers)


def _h265(*types: int) -> bytes:
    return b"".join(SC + bytes([t << 1, 0x01]) + b"\xaf" for t in types)


@pytest.mark.parametrize(
    ("data", "reference"),
    [
        (_h264(0x67, 0x68, 0x65), True),  # SPS, PPS, IDR slice (nal_ref_idc 3)
        (_h264(0x41), True),  # P slice, nal_ref_idc 2
        (_h264(0x06, 0x01), False),  # SEI, then a slice with nal_ref_idc 0
        (_h264(0x67, 0x68), True),  # no slice: decoded
    ],
)
def test_h264_nal_ref_idc_of_the_first_slice(data: bytes, reference: bool) -> None:
    assert reference_test("video/x-h264")(data) is reference


@pytest.mark.parametrize(
    ("data", "reference"),
    [
        (_h265(32, 33, 34, 19), True),  # VPS, SPS, PPS, IDR_W_RADL
        (_h265(1), True),  # TRAIL_R
        (_h265(39, 0), False),  # prefix SEI, TRAIL_N
        (_h265(8), False),  # RASL_N
        (_h265(9), True),  # RASL_R
    ],
)
def test_h265_sub_layer_non_reference_types(data: bytes, reference: bool) -> None:
    assert reference_test("video/x-h265")(data) is reference


@pytest.mark.parametrize(("coding_type", "reference"), [(0, True), (1, True), (2, False), (3, True)])
def test_mpeg4_b_vops(coding_type: int, reference: bool) -> None:
    vop = b"\x00\x00\x01\xb0\x01\x00\x00\x01\xb6" + bytes([coding_type << 6 | 0x10]) + b"\x00"
    assert reference_test("video/mpeg", 4)(vop) is reference
    assert reference_test("video/x-divx")(vop) is reference


@pytest.mark.parametrize(("coding_type", "reference"), [(1, True), (2, True), (3, False)])
def test_mpeg2_b_pictures(coding_type: int, reference: bool) -> None:
    # sequence header, then a picture header: temporal_reference 5 (10 bits), picture_coding_type
    picture = b"\x00\x00\x01\xb3\x0a\x00\x78" + b"\x00\x00\x01\x00" + bytes([0x01, 0x40 | coding_type << 3])
    assert reference_test("video/mpeg", 2)(picture) is reference


@pytest.mark.parametrize("media", ["image/jpeg", "video/x-vp8", "video/x-vp9", "video/x-av1"])
def test_other_codecs_decode_every_frame(media: str) -> None:
    assert reference_test(media) is None
