"""Frames into the network's size and colours: planes scaled first, then converted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fake_device.deepstream.bbox_parsers import NetworkInfo, scale_geometry
from fake_device.deepstream.network_input import scaled_pixels

pytestmark = pytest.mark.unit

W, H = 320, 180


@pytest.fixture(scope="module")
def bgr() -> np.ndarray:
    """A smooth colour picture (gradients and a coloured block), so that scaling errors stay small."""
    y, x = np.mgrid[0:H, 0:W]
    image = np.stack([x * 255 // W, y * 255 // H, (x + y) * 255 // (W + H)], axis=2).astype(np.uint8)
    image[40:100, 60:160] = (30, 200, 90)
    return image


def nv12(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    h, w = bgr.shape[:2]
    u = i420[h : h + h // 4].reshape(h // 2, w // 2)
    v = i420[h + h // 4 :].reshape(h // 2, w // 2)
    return i420[:h], np.stack([u, v], axis=2)


def i420(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, uv = nv12(bgr)
    return y, np.ascontiguousarray(uv[..., 0]), np.ascontiguousarray(uv[..., 1])


def test_unscaled_nv12_is_the_full_frame_conversion(bgr: np.ndarray) -> None:
    y, uv = nv12(bgr)
    geometry = scale_geometry(
        W, H, NetworkInfo(W, H, 3), maintain_aspect_ratio=False, symmetric_padding=False
    )
    got = scaled_pixels("NV12", (y, uv), geometry, "RGB", cv2.INTER_LINEAR)
    want = cv2.cvtColorTwoPlane(y, np.ascontiguousarray(uv), cv2.COLOR_YUV2RGB_NV12)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("colour", ["RGB", "BGR"])
@pytest.mark.parametrize("format", ["NV12", "I420", "RGBA", "BGRx", "BGR"])
def test_scaling_first_is_close_to_converting_first(bgr: np.ndarray, format: str, colour: str) -> None:
    """Planes scaled then converted ≈ the frame converted then scaled (a few levels at edges)."""
    planes: tuple[np.ndarray, ...]
    if format == "NV12":
        planes = nv12(bgr)
        reference = cv2.cvtColorTwoPlane(planes[0], np.ascontiguousarray(planes[1]), cv2.COLOR_YUV2BGR_NV12)
    elif format == "I420":
        planes = i420(bgr)
        reference = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)
    elif format == "RGBA":
        planes = (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA),)
        reference = bgr
    elif format == "BGRx":
        planes = (cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),)
        reference = bgr
    else:
        planes = (bgr,)
        reference = bgr
    net = NetworkInfo(128, 128, 3)
    geometry = scale_geometry(W, H, net, maintain_aspect_ratio=True, symmetric_padding=False)
    got = scaled_pixels(format, planes, geometry, colour, cv2.INTER_LINEAR)
    want = cv2.resize(reference, (geometry.dst_width, geometry.dst_height), interpolation=cv2.INTER_LINEAR)
    if colour == "RGB":
        want = want[..., ::-1]
    assert got.shape == (72, 128, 3)
    diff = np.abs(got.astype(int) - want.astype(int))
    if format in ("NV12", "I420"):
        assert diff.mean() < 1.5 and np.percentile(diff, 99) <= 12  # chroma sampled at half resolution
    else:
        assert diff.max() == 0  # a per-pixel conversion commutes with scaling


def test_gray_networks_take_the_luma_plane(bgr: np.ndarray) -> None:
    y, uv = nv12(bgr)
    net = NetworkInfo(160, 90, 1)
    geometry = scale_geometry(W, H, net, maintain_aspect_ratio=False, symmetric_padding=False)
    got = scaled_pixels("NV12", (y, uv), geometry, "GRAY", cv2.INTER_AREA)
    np.testing.assert_array_equal(got[..., 0], cv2.resize(y, (160, 90), interpolation=cv2.INTER_AREA))
    rgba = scaled_pixels("RGBA", (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA),), geometry, "GRAY", cv2.INTER_AREA)
    assert rgba.shape == (90, 160, 1)


def test_an_objects_crop_with_an_odd_scaled_size(bgr: np.ndarray) -> None:
    """nvinfer does not round the scaled size to even: a 4:2:0 frame still converts."""
    y, uv = nv12(bgr)
    net = NetworkInfo(64, 64, 3)
    geometry = scale_geometry(
        100,
        62,
        net,
        maintain_aspect_ratio=True,
        symmetric_padding=False,
        left=60,
        top=40,
        even_destination=False,
    )
    assert (geometry.dst_width, geometry.dst_height) == (64, 39)
    got = scaled_pixels("NV12", (y, uv), geometry, "BGR", cv2.INTER_NEAREST)
    assert got.shape == (39, 64, 3)
    # the crop starts inside the green block (30, 200, 90): its top-left pixels are that colour
    assert np.abs(got[:10, :20].astype(int) - (30, 200, 90)).max() <= 6


def test_a_rectangle_outside_the_frame_is_refused(bgr: np.ndarray) -> None:
    geometry = scale_geometry(
        100,
        100,
        NetworkInfo(64, 64, 3),
        maintain_aspect_ratio=False,
        symmetric_padding=False,
        left=300,
        top=0,
    )
    with pytest.raises(ValueError, match="not inside the 320x180 frame"):
        scaled_pixels("BGR", (bgr,), geometry, "RGB", cv2.INTER_LINEAR)
    with pytest.raises(ValueError, match="cannot feed a network"):
        scaled_pixels("YUY2", (bgr,), geometry, "RGB", cv2.INTER_LINEAR)
