"""NVMM caps: ``video/x-raw(memory:NVMM), format=…`` on ordinary system memory.

Apps put ``video/x-raw(memory:NVMM), format=RGBA`` in capsfilters and check
``caps.get_features(0).contains("memory:NVMM")`` on uridecodebin's new pads ("Decodebin did not pick
nvidia decoder plugin" otherwise). A caps feature is only a label for negotiation, so the emulated
elements keep it on their caps while the memory stays system memory: elements that read pixels
(x264enc, jpegenc, appsink with raw caps) refuse NVMM caps as on a Jetson, where nvvideoconvert is
the bridge; videoconvert accepts any caps features when it has nothing to convert (passthrough), here
as there.
"""

from __future__ import annotations

from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.gst.surface import SUPPORTED_FORMATS

NVMM_FEATURE = "memory:NVMM"

# what nvvideoconvert / nvstreammux accept on Jetson and dGPU that the emulation can hold
NVMM_FORMATS = ("NV12", "RGBA", "I420", "BGRx", "RGBx", "BGRA", "RGB", "BGR", "GRAY8")
assert set(NVMM_FORMATS) <= set(SUPPORTED_FORMATS)


def _format_list(formats: tuple[str, ...]) -> str:
    return formats[0] if len(formats) == 1 else "{ " + ", ".join(formats) + " }"


def raw_video(formats: tuple[str, ...] = NVMM_FORMATS, *, nvmm: bool = True) -> str:
    """A caps string of raw video in ``formats`` of any size and rate, NVMM or system memory."""
    features = f"({NVMM_FEATURE})" if nvmm else ""
    return (
        f"video/x-raw{features}, format=(string){_format_list(formats)}, "
        "width=(int)[ 1, 2147483647 ], height=(int)[ 1, 2147483647 ], "
        "framerate=(fraction)[ 0/1, 2147483647/1 ]"
    )


def nvmm_caps(formats: tuple[str, ...] = NVMM_FORMATS) -> Gst.Caps:
    """Template caps of an NVMM pad."""
    return Gst.Caps.from_string(raw_video(formats))


def nvmm_or_system_caps(formats: tuple[str, ...] = NVMM_FORMATS) -> Gst.Caps:
    """NVMM first (preferred in negotiation), then system memory: the caps of a converter's pads."""
    return Gst.Caps.from_string(f"{raw_video(formats)}; {raw_video(formats, nvmm=False)}")


def is_nvmm(caps: Gst.Caps | None, index: int = 0) -> bool:
    """Whether structure ``index`` of ``caps`` carries the NVMM feature."""
    if caps is None or caps.get_size() <= index:
        return False
    features = caps.get_features(index)
    return features is not None and features.contains(NVMM_FEATURE)


def with_memory(caps: Gst.Caps, *, nvmm: bool) -> Gst.Caps:
    """``caps`` with every structure's features set to NVMM (``nvmm``) or to system memory."""
    out = Gst.Caps.new_empty()
    for i in range(caps.get_size()):
        features = Gst.CapsFeatures.from_string(NVMM_FEATURE) if nvmm else Gst.CapsFeatures.new_empty()
        out.append_structure_full(caps.get_structure(i).copy(), features)
    return out


def fixed_video_caps(
    format: str, width: int, height: int, framerate: tuple[int, int] | None = None, *, nvmm: bool = True
) -> Gst.Caps:
    """Fixed caps of one frame size (what an element sets on its src pad)."""
    features = f"({NVMM_FEATURE})" if nvmm else ""
    text = f"video/x-raw{features}, format=(string){format}, width=(int){width}, height=(int){height}"
    if framerate is not None:
        text += f", framerate=(fraction){framerate[0]}/{framerate[1]}"
    return Gst.Caps.from_string(text)


def framerate_of(caps: Gst.Caps | None) -> tuple[int, int] | None:
    """The framerate field of ``caps``' first structure, if fixed."""
    if caps is None or caps.get_size() == 0:
        return None
    ok, num, den = caps.get_structure(0).get_fraction("framerate")
    return (num, den) if ok else None
