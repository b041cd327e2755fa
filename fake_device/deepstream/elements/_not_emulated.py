"""DeepStream elements that exist on a Jetson but are not emulated here: named stand-ins that refuse.

Without a stand-in, ``Gst.ElementFactory.make("nvdspreprocess")`` returns None and the app fails
later with an unrelated message (or ``gst-launch-1.0`` says only ``no element``), which reads like a
broken installation. Each name below is registered as an element that can be created and linked
(ANY caps, so the app's pipeline builds as on a Jetson) but refuses to start: going from NULL to READY
posts a GStreamer ERROR naming the element and the page that lists what is emulated, and the state
change fails — never a silently wrong result.
"""

from __future__ import annotations

from typing import Any

from fake_device.deepstream.gst.element import SUPPORTED_DOC, post_error
from fake_device.deepstream.gst.runtime import Gst, GstBase

#: DeepStream factory names (DeepStream 6.x/7.x plugins on a Jetson) with no emulation, and what each is
NOT_EMULATED: dict[str, str] = {
    "nvdspreprocess": "custom preprocessing of ROIs into tensors",
    "nvdspostprocess": "custom postprocessing of tensors",
    "nvdsvideotemplate": "custom video algorithm template",
    "nvdsaudiotemplate": "custom audio algorithm template",
    "nvsegvisual": "segmentation mask visualisation",
    "nvdewarper": "fisheye dewarping",
    "nvof": "optical flow",
    "nvofvisual": "optical flow visualisation",
    "nvinferaudio": "audio inference",
    "nvdsasr": "speech recognition",
    "nvds_text_to_speech": "text to speech",
    "nvdsmetamux": "metadata muxing of parallel inference branches",
    "nvdsxfer": "batch transfer between GPUs",
    "nvjpegenc": "hardware JPEG encoding",
    "nvjpegdec": "hardware JPEG decoding",
    "nvimagedec": "hardware image decoding",
    "nvimageenc": "hardware image encoding",
    "nvv4l2vp8enc": "hardware VP8 encoding",
    "nvv4l2vp9enc": "hardware VP9 encoding",
    "nvv4l2av1enc": "hardware AV1 encoding",
    "nvcompositor": "hardware compositing",
    "nvarguscamerasrc": "CSI camera capture (libargus)",
    "nvv4l2camerasrc": "V4L2 camera capture into NVMM",
    "nvmultiurisrcbin": "a multi-URI source bin with a REST API",
    "nvds3dfilter": "3D filters",
    "nvdsudpsrc": "UDP source into NVMM",
    "nvdsudpsink": "UDP sink from NVMM",
}


class NotEmulatedElement(GstBase.BaseTransform):
    """A DeepStream element this device does not emulate: it builds, links, and refuses to start."""

    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()),
    )
    FACTORY_NAME = ""
    WHAT = ""
    RANK = Gst.Rank.NONE

    def do_change_state(self, transition: Gst.StateChange) -> Gst.StateChangeReturn:
        if transition == Gst.StateChange.NULL_TO_READY:
            post_error(
                self,
                f"{self.get_name()}: DeepStream's {self.FACTORY_NAME} ({self.WHAT}) is not emulated on "
                f"this device (see {SUPPORTED_DOC} for the elements that are)",
                domain=Gst.CoreError,
                code=Gst.CoreError.NOT_IMPLEMENTED,
            )
            return Gst.StateChangeReturn.FAILURE
        return GstBase.BaseTransform.do_change_state(self, transition)


def _stand_in(factory_name: str, what: str) -> type[Any]:
    """A subclass with its own GType and metadata, so each name is a distinct element factory."""
    return type(
        f"NotEmulated_{factory_name}",
        (NotEmulatedElement,),
        {
            "__gtype_name__": f"EdgeHarnessNotEmulated_{factory_name}",
            "__gstmetadata__": (
                f"{factory_name} (not emulated)",
                "Generic",
                f"DeepStream's {factory_name}: {what}; not emulated by edge-harness",
                "edge-harness",
            ),
            "FACTORY_NAME": factory_name,
            "WHAT": what,
        },
    )


def stand_ins() -> dict[str, type[Any]]:
    """Factory name → stand-in class, for the registry."""
    return {name: _stand_in(name, what) for name, what in NOT_EMULATED.items()}
