"""nvvideoconvert's commonest case, 4:2:0 → packed RGB(A) of the same size, in one step: the same pixels."""

from __future__ import annotations

import numpy as np
import pytest

from fake_device.deepstream.gst import scaling
from fake_device.deepstream.gst.scaling import Transform, transform_frame
from fake_device.deepstream.gst.surface import FrameLayout, FrameView


def _frame(fmt: str, width: int, height: int, fill: np.ndarray | None = None) -> FrameView:
    layout = FrameLayout.of(fmt, width, height)
    memory = fill if fill is not None else np.zeros(layout.size, np.uint8)
    return FrameView(memory, 0, layout, 0)


def _random_yuv(fmt: str, width: int, height: int) -> FrameView:
    layout = FrameLayout.of(fmt, width, height)
    rng = np.random.default_rng(7)
    return _frame(fmt, width, height, rng.integers(0, 256, layout.size, dtype=np.uint8))


@pytest.mark.parametrize("src_fmt", ["NV12", "I420"])
@pytest.mark.parametrize("dst_fmt", ["RGBA", "BGRA", "RGBx", "BGRx", "RGB", "BGR"])
def test_one_step_conversion_gives_the_pixels_of_the_bgr_route(
    src_fmt: str, dst_fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _random_yuv(src_fmt, 64, 48)
    fast = _frame(dst_fmt, 64, 48)
    calls: list[bool] = []
    original = scaling._convert_whole

    def spy(a: FrameView, b: FrameView) -> bool:
        calls.append(original(a, b))
        return calls[-1]

    monkeypatch.setattr(scaling, "_convert_whole", spy)
    transform_frame(src, fast)
    assert calls == [True], "the one-step route was taken"
    slow = _frame(dst_fmt, 64, 48)
    monkeypatch.setattr(scaling, "_convert_whole", lambda a, b: False)
    transform_frame(src, slow)
    np.testing.assert_array_equal(fast.planes[0], slow.planes[0])


def test_other_cases_keep_the_general_route() -> None:
    src = _random_yuv("NV12", 64, 48)
    # a different size, a crop, a flip: scaled on the BGR image as before
    assert not scaling._convert_whole(src, _frame("RGBA", 32, 24))
    for transform in (Transform(flip=2), Transform(src_crop=scaling.Rect(0, 0, 32, 24))):
        out = _frame("RGBA", 64, 48)
        transform_frame(src, out, transform)
        assert out.planes[0][..., 3].min() == 255  # written, opaque
    # a gray destination has no one-step code
    assert not scaling._convert_whole(src, _frame("GRAY8", 64, 48))
    # odd sizes are padded by GStreamer's layout: planes are not back to back
    assert scaling._yuv420_block(_random_yuv("NV12", 63, 47)) is None
