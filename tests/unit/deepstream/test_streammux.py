"""nvstreammux's scaling: the config's checks, stretching, and letterboxing to the right and bottom."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fake_device.deepstream.streammux import StreamMuxConfig, scale_frame

WIDTH, HEIGHT = 320, 180


def picture() -> np.ndarray:
    """A 320×180 frame with no black pixel: a gradient in every channel."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([(x % 200) + 40, (y % 200) + 40, ((x + y) % 200) + 40], axis=2).astype(np.uint8)


def test_config_defaults() -> None:
    config = StreamMuxConfig()
    assert (config.width, config.height, config.batch_size) == (1280, 720, 1)
    assert config.batched_push_timeout_us == 40000
    assert config.attach_sys_ts and not config.live_source and not config.enable_padding


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0}, "width and height must be positive, not 0x720"),
        ({"height": -2}, "width and height must be positive, not 1280x-2"),
        ({"batch_size": 0}, "batch_size must be between 1 and 64, not 0"),
        ({"batch_size": 65}, "batch_size must be between 1 and 64, not 65"),
        ({"batched_push_timeout_us": -5}, "must be -1 (wait for a full batch)"),
        ({"width": 12.5}, "width must be an integer"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        StreamMuxConfig(**kwargs)
    assert message in str(info.value)


def test_same_size_frames_pass_unchanged() -> None:
    image = picture()
    assert scale_frame(image, StreamMuxConfig(width=WIDTH, height=HEIGHT)) is image


def test_stretch_scales_to_the_muxer_size() -> None:
    image = picture()
    config = StreamMuxConfig(width=200, height=200, interpolation=cv2.INTER_NEAREST)
    out = scale_frame(image, config)
    assert out.shape == (200, 200, 3)
    assert np.array_equal(out, cv2.resize(image, (200, 200), interpolation=cv2.INTER_NEAREST))
    assert out[190:].all()  # the whole picture: no black band at the bottom


def test_padding_keeps_aspect_and_pads_right_and_bottom() -> None:
    image = picture()
    # 320×180 into 400×400: scale 1.25 → 400×225 at the top, 175 black rows below
    config = StreamMuxConfig(width=400, height=400, enable_padding=True, interpolation=cv2.INTER_NEAREST)
    out = scale_frame(image, config)
    assert out.shape == (400, 400, 3)
    assert not out[225:].any()
    assert np.array_equal(out[:225], cv2.resize(image, (400, 225), interpolation=cv2.INTER_NEAREST))

    # 320×180 into 200×400 (taller): width-bound, 200×112 at the top; right side has no padding
    tall = scale_frame(image, StreamMuxConfig(width=200, height=400, enable_padding=True))
    assert tall.shape == (400, 200, 3)
    assert not tall[113:].any()
    assert tall[:112, 190:].all()


def test_padding_pads_the_right_of_a_wider_target_and_fills_chroma_with_grey() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    out = scale_frame(image, StreamMuxConfig(width=300, height=150, enable_padding=True))
    assert out.shape == (150, 300, 3)
    assert (out[:, :150] == 200).all()
    assert not out[:, 150:].any()
    chroma = scale_frame(
        np.full((50, 50), 90, np.uint8), StreamMuxConfig(width=150, height=75, enable_padding=True), fill=128
    )
    assert (chroma[:, 75:] == 128).all() and (chroma[:, :75] == 90).all()
