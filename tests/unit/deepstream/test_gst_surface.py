"""Emulated NvBufSurface: the layout of batched frames, numpy views, conversions, scaling."""

from __future__ import annotations

import numpy as np
import pytest

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.gst.scaling import Rect, Transform, transform_frame
from fake_device.deepstream.gst.surface import FrameLayout, SurfaceError, map_surface, new_batch_buffer

BLUE, RED = (200, 40, 20), (20, 40, 220)


def _picture(width: int, height: int) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2] = BLUE
    image[:, width // 2 :] = RED
    return image


def test_layout_is_gstreamers_for_the_caps_with_or_without_nvmm() -> None:
    nvmm = FrameLayout.from_caps(
        Gst.Caps.from_string("video/x-raw(memory:NVMM),format=NV12,width=642,height=360")
    )
    system = FrameLayout.from_caps(Gst.Caps.from_string("video/x-raw,format=NV12,width=642,height=360"))
    assert nvmm == system
    assert nvmm.strides == (644, 644)  # rows padded to 4 bytes, as videoconvert expects
    assert nvmm.offsets == (0, 644 * 360)
    assert nvmm.size == 644 * 360 * 3 // 2


def test_a_batch_is_frames_one_after_another_and_views_do_not_copy() -> None:
    layout = FrameLayout.of("RGBA", 8, 4)
    buffer = new_batch_buffer(layout, 3)
    with map_surface(buffer, layout, write=True) as surface:
        assert surface.num_filled == 3
        for frame in surface.frames[:2]:
            frame.image[...] = 0
        surface.frames[2].image[...] = 7
    _ok, info = buffer.map(Gst.MapFlags.READ)
    data = bytes(info.data)
    buffer.unmap(info)
    assert data[: 2 * layout.size] == bytes(2 * layout.size)
    assert data[2 * layout.size :] == bytes([7]) * layout.size


@pytest.mark.parametrize("fmt", ["NV12", "I420", "RGBA", "BGRx", "RGB", "BGR"])
@pytest.mark.parametrize("size", [(64, 48), (65, 47)])
def test_bgr_round_trips_through_every_format(fmt: str, size: tuple[int, int]) -> None:
    layout = FrameLayout.of(fmt, *size)
    image = _picture(*size)
    buffer = new_batch_buffer(layout, 1)
    with map_surface(buffer, layout, write=True) as surface:
        surface.frames[0].write_bgr(image)
    with map_surface(buffer, layout) as surface:
        back = surface.frames[0].to_bgr()
    error = np.abs(back.astype(int) - image.astype(int))
    assert error.mean() < 3  # chroma subsampling blurs the one column where the colours meet
    assert np.abs(back[:, :4].astype(int) - BLUE).max() <= 4


def test_a_buffer_that_is_not_a_whole_batch_is_refused() -> None:
    layout = FrameLayout.of("RGBA", 8, 4)
    buffer = Gst.Buffer.new_allocate(None, layout.size + 1, None)
    with pytest.raises(SurfaceError, match="is not a batch of RGBA 8x4 frames"), map_surface(buffer, layout):
        pass


def test_an_unsupported_format_names_the_supported_ones() -> None:
    with pytest.raises(SurfaceError, match=r"video format 'YUY2' is not emulated .*NV12"):
        FrameLayout.of("YUY2", 8, 8)


def _frame(fmt: str, width: int, height: int, image: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    layout = FrameLayout.of(fmt, width, height)
    buffer = new_batch_buffer(layout, 1)
    if image is not None:
        with map_surface(buffer, layout, write=True) as surface:
            surface.frames[0].write_bgr(image)
    return buffer, layout


def _convert(
    src_fmt: str, dst_fmt: str, transform: Transform, src_size=(64, 48), dst_size=(64, 48)
) -> np.ndarray:  # type: ignore[no-untyped-def]
    src_buffer, src_layout = _frame(src_fmt, *src_size, _picture(*src_size))
    dst_buffer, dst_layout = _frame(dst_fmt, *dst_size)
    with map_surface(src_buffer, src_layout) as src, map_surface(dst_buffer, dst_layout, write=True) as dst:
        transform_frame(src.frames[0], dst.frames[0], transform)
        return dst.frames[0].to_bgr()


@pytest.mark.parametrize(("src", "dst"), [("NV12", "NV12"), ("NV12", "RGBA"), ("RGBA", "I420")])
def test_scaling_stretches_to_the_destination(src: str, dst: str) -> None:
    out = _convert(src, dst, Transform(), dst_size=(128, 32))
    assert out.shape == (32, 128, 3)
    assert np.abs(out[16, 10].astype(int) - BLUE).max() <= 6
    assert np.abs(out[16, 120].astype(int) - RED).max() <= 6


@pytest.mark.parametrize("fmt", ["NV12", "RGBA"])
def test_padding_keeps_the_aspect_ratio_with_black_bands(fmt: str) -> None:
    out = _convert(fmt, fmt, Transform(enable_padding=True), src_size=(64, 48), dst_size=(128, 48))
    assert np.abs(out[24, 10].astype(int) - BLUE).max() <= 6  # 64x48 fits as is, left-aligned
    assert out[24, 100].max() <= 2  # black band on the right, not green (chroma 128)


def test_src_crop_and_flip() -> None:
    crop = _convert("RGBA", "RGBA", Transform(src_crop=Rect(0, 0, 32, 48)))
    assert np.abs(crop[24, 60].astype(int) - BLUE).max() <= 2  # only the blue half was taken
    flipped = _convert("NV12", "NV12", Transform(flip=4))
    assert np.abs(flipped[24, 4].astype(int) - RED).max() <= 6


def test_dest_crop_draws_into_a_region_and_blanks_the_rest() -> None:
    out = _convert("RGBA", "RGBA", Transform(dest_crop=Rect(32, 0, 32, 24)))
    assert out[40, 10].max() == 0
    assert np.abs(out[10, 36].astype(int) - BLUE).max() <= 2


def test_crop_rectangles_parse_as_nvvideoconvert_takes_them() -> None:
    assert Rect.parse("0:0:0:0") is None
    assert Rect.parse("10:20:300:200") == Rect(10, 20, 300, 200)
    with pytest.raises(ValueError, match="left:top:width:height"):
        Rect.parse("10x20")
