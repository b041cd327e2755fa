"""NvOSD structs (nvll_osd_struct.h): what an object or a display meta asks nvdsosd to draw.

Members, types and zero defaults follow DeepStream's header; the pyds quirks follow the bindings
(bindings/src/bindnvosd.cpp): ``NvOSD_TextParams.display_text`` and
``NvOSD_FontParams.font_name`` read as C addresses (``pyds.get_string`` gives the text),
``NvOSD_ColorParams.set(r, g, b, a)`` sets all four channels.
"""

from __future__ import annotations

import numpy as np

from fake_device.deepstream.cstruct import (
    CEnum,
    CString,
    Embedded,
    Enum,
    Float,
    Int,
    InternedString,
    Plain,
    Struct,
)


class NvOSD_Mode(CEnum):
    MODE_CPU = 0
    MODE_GPU = 1
    MODE_NONE = 2


class NvOSD_Arrow_Head_Direction(CEnum):
    START_HEAD = 0
    END_HEAD = 1
    BOTH_HEAD = 2


class NvBbox_Coords(Struct):
    """A box in pixels (``float`` members)."""

    left = Float()
    top = Float()
    width = Float()
    height = Float()


class NvOSD_ColorParams(Struct):
    """An RGBA colour, each channel a ``double`` in 0..1."""

    red = Float(double=True)
    green = Float(double=True)
    blue = Float(double=True)
    alpha = Float(double=True)

    def set(self, red: float, green: float, blue: float, alpha: float) -> None:
        """pyds's helper: set the four channels at once."""
        self.red = red
        self.green = green
        self.blue = blue
        self.alpha = alpha


class NvOSD_FontParams(Struct):
    font_name = InternedString()
    font_size = Int("unsigned int")
    font_color = Embedded(NvOSD_ColorParams)


class NvOSD_TextParams(Struct):
    display_text = CString(free_existing=True)
    x_offset = Int("unsigned int")
    y_offset = Int("unsigned int")
    font_params = Embedded(NvOSD_FontParams)
    set_bg_clr = Int("int", signed=True)
    text_bg_clr = Embedded(NvOSD_ColorParams)


class NvOSD_Color_info(Struct):
    id = Int("int", signed=True)
    color = Embedded(NvOSD_ColorParams)


class NvOSD_RectParams(Struct):
    """A box and how to draw it (pixels of the muxer's output)."""

    left = Float()
    top = Float()
    width = Float()
    height = Float()
    border_width = Int("unsigned int")
    border_color = Embedded(NvOSD_ColorParams)
    has_bg_color = Int("unsigned int")
    reserved = Int("unsigned int")
    bg_color = Embedded(NvOSD_ColorParams)
    has_color_info = Int("int", signed=True)
    color_id = Int("int", signed=True)


class NvOSD_MaskParams(Struct):
    """An instance mask: ``width`` × ``height`` floats, binarised at ``threshold``.

    ``data`` is the float array itself here (pyds gives a ``float *``); ``get_mask_array`` and
    ``alloc_mask_array`` behave as pyds's (a flat float32 array over the mask's memory).
    """

    data = Plain(None)
    size = Int("unsigned int")
    threshold = Float()
    width = Int("unsigned int")
    height = Int("unsigned int")

    def get_mask_array(self) -> np.ndarray:
        data = self.__dict__["data"]
        if data is None:
            return np.zeros(0, dtype=np.float32)
        return data[: self.size // 4]

    def alloc_mask_array(self) -> np.ndarray:
        self.size = self.width * self.height * 4
        self.__dict__["data"] = np.zeros(self.width * self.height, dtype=np.float32)
        return self.__dict__["data"]


class NvOSD_LineParams(Struct):
    x1 = Int("unsigned int")
    y1 = Int("unsigned int")
    x2 = Int("unsigned int")
    y2 = Int("unsigned int")
    line_width = Int("unsigned int")
    line_color = Embedded(NvOSD_ColorParams)


class NvOSD_ArrowParams(Struct):
    x1 = Int("unsigned int")
    y1 = Int("unsigned int")
    x2 = Int("unsigned int")
    y2 = Int("unsigned int")
    arrow_width = Int("unsigned int")
    arrow_head = Enum(NvOSD_Arrow_Head_Direction)
    arrow_color = Embedded(NvOSD_ColorParams)
    reserved = Int("unsigned int")


class NvOSD_CircleParams(Struct):
    xc = Int("unsigned int")
    yc = Int("unsigned int")
    radius = Int("unsigned int")
    circle_color = Embedded(NvOSD_ColorParams)
    has_bg_color = Int("unsigned int")
    bg_color = Embedded(NvOSD_ColorParams)
    reserved = Int("unsigned int")
