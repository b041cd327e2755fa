"""nvdsanalytics' user metadata (nvds_analytics_meta.h): per object and per frame results.

nvdsanalytics attaches one ``NvDsAnalyticsObjInfo`` to an object's ``obj_user_meta_list`` (user
meta type ``nvds_get_user_meta_type("NVIDIA.DSANALYTICSOBJ.USER_META")``) when the object is
inside an ROI, crossed a line, moves in a configured direction or is in an overcrowded ROI, and
one ``NvDsAnalyticsFrameMeta`` per frame ("NVIDIA.DSANALYTICSFRAME.USER_META"). The C++ members
are ``std::vector<std::string>`` and ``std::unordered_map`` — lists and dicts here.

The emulated elements were written with snake_case names (``roi_status``, ``obj_in_roi_cnt``);
those remain as aliases of pyds's names (``roiStatus``, ``objInROIcnt``), and the constructors
take either spelling.
"""

from __future__ import annotations

from typing import Any

from fake_device.deepstream.cstruct import Int, Plain, Struct

#: nvds_analytics_meta.h's user meta descriptors (pyds: nvds_get_user_meta_type(descriptor))
OBJ_USER_META = "NVIDIA.DSANALYTICSOBJ.USER_META"
FRAME_USER_META = "NVIDIA.DSANALYTICSFRAME.USER_META"


def _alias(name: str) -> property:
    def get(self: Any) -> Any:
        return self.__dict__[name]

    def set_(self: Any, value: Any) -> None:
        setattr(self, name, value)

    return property(get, set_, doc=f"the emulation's name for ``{name}``")


class NvDsAnalyticsObjInfo(Struct):
    """What nvdsanalytics found about one object: the ROIs it is in, the overcrowded ROIs, the
    lines it crossed this frame, its direction and the combined status text."""

    roiStatus = Plain(factory=list)
    ocStatus = Plain(factory=list)
    lcStatus = Plain(factory=list)
    dirStatus = Plain("")
    unique_id = Int("guint")
    objStatus = Plain("")

    roi_status = _alias("roiStatus")
    oc_status = _alias("ocStatus")
    lc_status = _alias("lcStatus")
    dir_status = _alias("dirStatus")
    obj_status = _alias("objStatus")


class NvDsAnalyticsFrameMeta(Struct):
    """Per-frame counts: objects in each ROI, line crossings (this frame and cumulative),
    overcrowding flags and the object count per class."""

    ocStatus = Plain(factory=dict)
    objInROIcnt = Plain(factory=dict)
    objLCCurrCnt = Plain(factory=dict)
    objLCCumCnt = Plain(factory=dict)
    unique_id = Int("guint")
    objCnt = Plain(factory=dict)

    oc_status = _alias("ocStatus")
    obj_in_roi_cnt = _alias("objInROIcnt")
    obj_lc_curr_cnt = _alias("objLCCurrCnt")
    obj_lc_cum_cnt = _alias("objLCCumCnt")
    obj_cnt = _alias("objCnt")


#: the names the emulated elements use
ObjectAnalytics = NvDsAnalyticsObjInfo
FrameAnalytics = NvDsAnalyticsFrameMeta
