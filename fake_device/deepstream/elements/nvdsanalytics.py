"""nvdsanalytics: ROI filtering, line crossing, direction and overcrowding on the batch meta.

The analysis is the emulated library's (:class:`~fake_device.deepstream.analytics.NvDsAnalytics`,
configured by the same key file as DeepStream's ``config-file``); the element does what
gstnvdsanalytics.cpp does around it:

* the config file is parsed when the property is set (its ``[property] enable`` sets the
  element's ``enable``, as DeepStream's parser does); a missing or broken file fails the element
  when it starts, with the file, line and a hint;
* the analysed size is the negotiated frame size (the muxer's output), to which the config's
  ``config-width`` × ``config-height`` coordinates are scaled;
* each object with a result gets an ``NvDsAnalyticsObjInfo`` user meta (type
  ``nvds_get_user_meta_type("NVIDIA.DSANALYTICSOBJ.USER_META")``), each frame an
  ``NvDsAnalyticsFrameMeta`` ("NVIDIA.DSANALYTICSFRAME.USER_META"), as the seed app's probe and
  deepstream-nvdsanalytics read them;
* with ``osd-mode`` 1 or 2 the ROIs, lines and arrows become display meta for nvdsosd, and in mode 2
  an object with a result gets its status appended to its text (its border colour inverted when it
  is in an ROI or crossed a line);
* ``enable=false`` passes buffers through untouched.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from fake_device.deepstream import cmemory
from fake_device.deepstream.analytics import (
    OVERLAY_FONT,
    OVERLAY_LINE_WIDTH,
    TEXT_BACKGROUND_RGBA,
    AnalyticsConfig,
    NvDsAnalytics,
    Overlay,
    analytics_overlay,
    load_analytics_config,
)
from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.gst.caps import nvmm_caps
from fake_device.deepstream.gst.element import (
    BOOL,
    GPU_ID,
    STRING,
    UINT,
    DeepStreamFilter,
    element_templates,
    gproperties,
    post_error,
)
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.meta import (
    MAX_ELEMENTS_IN_DISPLAY_META,
    NvDsBatchMeta,
    NvDsDisplayMeta,
    NvDsFrameMeta,
    NvDsObjectMeta,
    nvds_acquire_display_meta_from_pool,
    nvds_add_display_meta_to_frame,
)

#: gstnvdsanalytics.cpp DEFAULT_UNIQUE_ID
DEFAULT_UNIQUE_ID = 17
# a display meta is full when either list reaches this (CHECK_ATTACH_AQUIRE_DISPLAY_META)
_DISPLAY_META_FULL = MAX_ELEMENTS_IN_DISPLAY_META - 1
# attach_metadata_object: the text of an object that had none, 10 px above its box
_STATUS_ABOVE = 10


class NvDsAnalyticsElement(DeepStreamFilter):
    """The nvdsanalytics element (see the module docstring)."""

    __gtype_name__ = "GstNvDsAnalytics"
    __gstmetadata__ = (
        "DsAnalytics plugin",
        "DsAnalytics Plugin",
        "Process analytics algorithm on objects (edge-harness: emulated on CPU)",
        "edge-harness",
    )
    __gsttemplates__ = element_templates(nvmm_caps(("NV12", "RGBA")), nvmm_caps(("NV12", "RGBA")))
    FACTORY_NAME = "nvdsanalytics"
    RANK = Gst.Rank.PRIMARY
    PROPERTIES = (
        UINT(
            "unique-id",
            DEFAULT_UNIQUE_ID,
            "Unique ID for the element. Can be used to identify output of the element",
        ),
        BOOL("enable", True, "Enable DsAnalytics plugin, or set in passthrough mode"),
        STRING("config-file", None, "DsAnalytics Config File"),
        GPU_ID(),
    )
    __gproperties__ = gproperties(PROPERTIES)

    def __init__(self) -> None:
        super().__init__()
        self.config: AnalyticsConfig | None = None
        self.config_error: ConfigError | None = None
        self.analytics: NvDsAnalytics | None = None
        self._size: tuple[int, int] | None = None
        # config-file may be set from the application thread while a batch is processed
        self._config_lock = threading.Lock()

    # -- properties ------------------------------------------------------------------------------
    def property_changed(self, name: str, value: Any) -> None:
        if name == "config-file":
            self._parse(value)
        elif name == "unique-id" and self.analytics is not None:
            self.analytics.unique_id = value

    def _parse(self, path: str | None) -> None:
        """Parse at once, as DeepStream does in set_property; errors wait for start(). The new
        settings replace the old ones in one step: a batch in flight sees either, never neither."""
        config: AnalyticsConfig | None = None
        error: ConfigError | None = None
        if path:
            try:
                config = load_analytics_config(path)
            except ConfigError as err:
                error = err
        with self._config_lock:
            self.config, self.config_error, self.analytics = config, error, None
            if config is not None:
                self._values["enable"] = config.enable

    # -- start and caps --------------------------------------------------------------------------
    def do_start(self) -> bool:
        name = self.get_name()
        if self.config_error is not None:
            self._config_failed()
            return False
        if self.config is None:
            post_error(
                self,
                f"{name}: Configuration file not provided\n  hint: set config-file to the analytics "
                "key file (a [property] group with enable, config-width and config-height)",
                domain=Gst.LibraryError,
                code=Gst.LibraryError.SETTINGS,
            )
            return False
        return True

    def _config_failed(self) -> None:
        post_error(
            self,
            f"{self.get_name()}: config-file: {self.config_error}",
            'DeepStream says "Configuration file parsing failed"',
            domain=Gst.LibraryError,
            code=Gst.LibraryError.SETTINGS,
        )

    def caps_changed(self, caps: Gst.Caps) -> bool:
        structure = caps.get_structure(0)
        ok_w, width = structure.get_int("width")
        ok_h, height = structure.get_int("height")
        if not (ok_w and ok_h):
            self.refuse_caps(caps, "caps without width/height")
            return False
        if self._size != (width, height):
            self._size = (width, height)
            self.analytics = None  # contexts are per frame size: rebuilt on the next batch
        return True

    def _processor(self) -> NvDsAnalytics:
        if self.analytics is None:
            if self.config is None or self._size is None:
                raise RuntimeError("nvdsanalytics has no config or no negotiated frame size")
            # the element's enable decides (it took the config's value when the file was read)
            config = dataclasses.replace(self.config, enable=True)
            self.analytics = NvDsAnalytics(config, *self._size, unique_id=self.prop("unique-id"))
        return self.analytics

    # -- one batch -------------------------------------------------------------------------------
    def process_batch(self, buffer: Gst.Buffer, batch_meta: NvDsBatchMeta) -> Gst.FlowReturn | None:
        t_in = time.monotonic()
        with self._config_lock:
            if self.config_error is not None:  # config-file set again while running, and broken
                self._config_failed()
                return Gst.FlowReturn.ERROR
            if not self.prop("enable"):
                return None
            analytics = self._processor()
        analytics.process(batch_meta)
        config = analytics.config
        for frame in batch_meta.frames:
            if config.osd_mode == 2:
                for obj in frame.objects:
                    if obj.analytics is not None:
                        self._show_status(obj, config.display_font_size)
            overlay = analytics_overlay(analytics, frame.source_id, frame.analytics)
            if overlay.texts or overlay.lines:
                _attach_overlay(batch_meta, frame, overlay)
        t_out = time.monotonic()
        name = self.get_name()
        for frame in batch_meta.frames:
            frame.latency.append((name, t_in, t_out))
        return None

    @staticmethod
    def _show_status(obj: NvDsObjectMeta, font_size: int) -> None:
        """attach_metadata_object in osd-mode 2: the status joins the object's text."""
        status = obj.analytics.obj_status
        text = obj.text_params
        current = cmemory.string_at(text.display_text) if text.display_text else None
        if current is not None:
            text.display_text = f"{current} {status}"
        else:
            text.x_offset = max(0, int(obj.rect_params.left))
            text.y_offset = max(0, int(obj.rect_params.top) - _STATUS_ABOVE)
            text.display_text = status
            text.font_params.font_name = OVERLAY_FONT
            text.font_params.font_size = font_size
            text.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
            text.set_bg_clr = 1
            text.text_bg_clr.set(*TEXT_BACKGROUND_RGBA)
        if "ROI:" in status or "LC:" in status:
            colour = obj.rect_params.border_color
            colour.red, colour.green, colour.blue = 1.0 - colour.red, 1.0 - colour.green, 1.0 - colour.blue


def _attach_overlay(batch_meta: NvDsBatchMeta, frame: NvDsFrameMeta, overlay: Overlay) -> None:
    """The overlay as display metas of up to 15 labels and 15 lines each, added to the frame."""
    display: NvDsDisplayMeta | None = None

    def room() -> NvDsDisplayMeta:
        nonlocal display
        if (
            display is None
            or display.num_labels >= _DISPLAY_META_FULL
            or display.num_lines >= _DISPLAY_META_FULL
        ):
            if display is not None:
                nvds_add_display_meta_to_frame(frame, display)
            display = nvds_acquire_display_meta_from_pool(batch_meta)
        return display

    for item in overlay.texts:
        meta = room()
        params = meta.text_params[meta.num_labels]
        params.display_text = item.text
        params.x_offset, params.y_offset = max(0, item.x), max(0, item.y)
        params.font_params.font_name = OVERLAY_FONT
        params.font_params.font_size = item.font_size
        params.font_params.font_color.set(*item.colour)
        params.set_bg_clr = 1
        params.text_bg_clr.set(*TEXT_BACKGROUND_RGBA)
        meta.num_labels += 1
    for item in overlay.lines:
        meta = room()
        line = meta.line_params[meta.num_lines]
        line.x1, line.y1, line.x2, line.y2 = (max(0, v) for v in (item.x1, item.y1, item.x2, item.y2))
        line.line_width = OVERLAY_LINE_WIDTH
        line.line_color.set(*item.colour)
        meta.num_lines += 1
    if display is not None:
        nvds_add_display_meta_to_frame(frame, display)


ELEMENT = NvDsAnalyticsElement
