"""nvdsosd's drawing (the Painter of nvll_osd's primitives) and the arrow heads it shares with
nvdsanalytics's overlay."""

from __future__ import annotations

import numpy as np

from fake_device.deepstream.osd import Painter, arrow_head

W, H = 320, 240


def test_arrow_head_points_back_along_the_shaft() -> None:
    (x3, y3), (x4, y4) = arrow_head(0, 0, 0, 100)
    assert y3 == y4 and 80 < y3 < 90, "15 % of the length back from the tip"
    assert x3 == -x4 != 0, "symmetric about the shaft"


# ================================================================================ NvOSD primitives


def rgba_frame() -> np.ndarray:
    image = np.zeros((H, W, 4), np.uint8)
    image[..., 3] = 255
    return image


def test_painter_rect_border_and_blended_background() -> None:
    image = rgba_frame()
    image[..., 2] = 200  # a blue frame
    Painter(image).rect(
        50, 40, 100, 60, border_width=3, border=(1.0, 0.0, 0.0, 1.0), background=(0.0, 1.0, 0.0, 0.5)
    )
    assert tuple(image[40, 100]) == (255, 0, 0, 255), "border in RGBA order"
    assert tuple(image[70, 100]) == (0, 128, 100, 255), "half green over blue inside"
    assert tuple(image[10, 10]) == (0, 0, 200, 255), "outside untouched"


def test_painter_border_width_zero_draws_no_outline() -> None:
    image = rgba_frame()
    Painter(image).rect(50, 40, 100, 60, border_width=0, border=(1.0, 0.0, 0.0, 1.0))
    assert not image[..., :3].any()


def test_painter_bgr_order_for_the_old_runtime() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    Painter(image, order="BGR").line(10, 10, 100, 10, width=2, colour=(1.0, 0.5, 0.0, 1.0))
    assert tuple(image[10, 50]) == (0, 128, 255)


def test_painter_text_background_and_font_size() -> None:
    small, large = rgba_frame(), rgba_frame()
    box_small = Painter(small).text(
        "Frame 1", 10, 12, font_size=10, colour=(1, 1, 1, 1), background=(0, 0, 0, 1)
    )
    box_large = Painter(large).text("Frame 1", 10, 12, font_size=20, colour=(1, 1, 1, 1))
    assert box_small[:2] == (10, 12)
    assert box_large[2] > box_small[2] and box_large[3] > box_small[3]
    x, y, w, h = box_small
    glyphs = small[y : y + h, x : x + w, :3]
    assert (glyphs > 128).all(axis=2).any(), "white glyphs"


def test_painter_arrow_heads_follow_the_head_direction() -> None:
    end_only, both = rgba_frame(), rgba_frame()
    Painter(end_only).arrow(20, 100, 220, 100, width=1, head=1, colour=(0, 1, 0, 1))
    Painter(both).arrow(20, 100, 220, 100, width=1, head=2, colour=(0, 1, 0, 1))
    (hx, hy), _ = arrow_head(20, 100, 220, 100)
    assert end_only[hy, hx, 1] == 255 and both[hy, hx, 1] == 255
    (sx, sy), _ = arrow_head(220, 100, 20, 100)  # the head at the start
    assert not end_only[sy, sx, 1] and both[sy, sx, 1] == 255


def test_painter_circle_and_mask() -> None:
    image = rgba_frame()
    painter = Painter(image)
    painter.circle(100, 100, 20, width=2, colour=(1, 0, 0, 1), background=(0, 0, 1, 1))
    assert tuple(image[100, 100]) == (0, 0, 255, 255) and image[100, 120, 0] == 255
    mask = np.zeros((4, 4), np.float32)
    mask[:, 2:] = 0.9  # the right half of the box
    painter.mask(200, 20, 40, 40, mask, threshold=0.5, colour=(0, 1, 0, 1), alpha=1.0)
    assert image[40, 235, 1] == 255 and image[40, 205, 1] == 0
