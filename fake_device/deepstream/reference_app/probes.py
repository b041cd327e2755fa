"""deepstream-app's buffer probes, on the metadata model instead of pyds.

deepstream-app (and deepstream-test5-app, which is deepstream-app with a probe of its own) look at
the batch meta at fixed points of the pipeline: after the primary GIE (``gie-kitti-output-dir``),
after the last common element — tracker or nvdsanalytics — (``kitti-track-output-dir`` and
test5's event metas), and in front of the OSD (``process_meta``: colours and labels). Each class
here is one of those probe functions as a plain callable on a :class:`~fake_device.deepstream.meta.
BatchMeta`; :mod:`.pipeline` puts them on the pads where deepstream-app puts them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    BatchMeta,
    FrameMeta,
    NvDsClassifierMeta,
    NvDsLabelInfo,
    ObjectMeta,
)
from fake_device.deepstream.meta_osd import NvOSD_ColorParams
from fake_device.deepstream.msgconv import EventMsg, ObjectType, Rect
from fake_device.deepstream.reference_app.config import AppConfig, Color

_ZEROS = "0.0 0.0 0.0 0.0 0.0 0.0 0.0"  # height, width, length, x, y, z, rotation_y


def _f(value: float) -> str:
    """printf's ``%f`` of a C float."""
    return f"{float(np.float32(value)):f}"


class KittiWriter:
    """deepstream-app's KITTI dumps: one file per frame, ``%02u_%03u_%06lu.txt``.

    The three numbers are the app instance (0: one config), the stream's pad index (the
    ``source_id``) and the frame number. ``track=True`` is ``kitti-track-output-dir``
    (write_kitti_track_output, after the tracker: label, tracking id, box, tracker confidence);
    ``track=False`` is ``gie-kitti-output-dir`` (write_kitti_output, after the primary GIE: no id,
    detector confidence). Each file is rewritten for its frame, as deepstream-app's ``fopen(..., "w")``.
    """

    def __init__(self, directory: Path, *, track: bool, instance: int = 0) -> None:
        self.directory = directory
        self.track = track
        self.instance = instance
        self.files = 0

    def path(self, frame: FrameMeta) -> Path:
        return self.directory / f"{self.instance:02d}_{frame.source_id:03d}_{frame.frame_num:06d}.txt"

    def line(self, obj: ObjectMeta) -> str:
        box = f"{_f(obj.left)} {_f(obj.top)} {_f(obj.left + obj.width)} {_f(obj.top + obj.height)}"
        if self.track:
            ident = obj.object_id & 0xFFFFFFFFFFFFFFFF
            return f"{obj.obj_label} {ident} 0.0 0 0.0 {box} {_ZEROS} {_f(obj.tracker_confidence)}\n"
        return f"{obj.obj_label} 0.0 0 0.0 {box} {_ZEROS} {_f(obj.confidence)}\n"

    def __call__(self, batch: BatchMeta) -> None:
        for frame in batch.frames:
            self.path(frame).write_text("".join(self.line(o) for o in frame.objects), encoding="utf-8")
            self.files += 1


class ObjectEventProbe:
    """deepstream-test5-app's probe after analytics: one event per object of every frame.

    As generate_event_msg_meta fills it: ``objType`` UNKNOWN with the label as ``objectId``
    (the minimal schema prints it as the object's type), sensor/place/module id = the source's
    camera id (N of ``[sourceN]``), ``frameId``, ``trackingId``, the *tracker* confidence, and the
    box scaled from muxer to source resolution. ``@timestamp`` is the frame's capture time.
    """

    def __init__(self, camera_ids: Mapping[int, int], muxer_width: int, muxer_height: int) -> None:
        self.camera_ids = dict(camera_ids)
        self.muxer_width = muxer_width
        self.muxer_height = muxer_height
        self.events = 0

    def __call__(self, batch: BatchMeta) -> None:
        for frame in batch.frames:
            camera = self.camera_ids.get(frame.source_id, frame.source_id)
            sx = frame.source_frame_width / self.muxer_width if frame.source_frame_width else 1.0
            sy = frame.source_frame_height / self.muxer_height if frame.source_frame_height else 1.0
            for obj in frame.objects:
                event = EventMsg.from_object(
                    obj,
                    frame,
                    objType=ObjectType.UNKNOWN,
                    objectId=obj.obj_label,
                    sensorId=camera,
                    placeId=camera,
                    moduleId=camera,
                    confidence=float(np.float32(obj.tracker_confidence)),
                    bbox=Rect(
                        top=obj.top * sy, left=obj.left * sx, width=obj.width * sx, height=obj.height * sy
                    ),
                )
                frame.user_meta.append(event)
                self.events += 1


#: deepstream-app's default border colour of a GIE's boxes (parse_gie: red)
DEFAULT_BORDER = Color(1.0, 0.0, 0.0, 1.0)
_BLACK = Color(0.0, 0.0, 0.0, 0.0)  # what an unset NvOSD_ColorParams in the C config holds
_LOW_32 = 0xFFFFFFFF


def _set_color(target: NvOSD_ColorParams, color: Color) -> None:
    target.red, target.green, target.blue, target.alpha = color.red, color.green, color.blue, color.alpha


@dataclass
class ObjectDisplay:
    """deepstream-app's ``process_meta`` (gie_processing_done_buf_prob, in front of the OSD).

    For objects of the primary GIE (``unique_component_id`` = ``gie-unique-id``, 0 when unset):
    border colour from ``bbox-border-colorN`` (else the group's ``bbox-border-color``, else red),
    ``[osd] border-width``, background from ``bbox-bg-colorN``. For every object: the text is
    rebuilt as deepstream-app builds it — label, the lower 32 bits of the tracking id (with
    ``display-tracking-id``), then each classifier's labels — at (left, top − 30) in the
    ``[osd]`` font, size and colours; with ``show_text`` off (tiled with several sources and no
    ``-t``) the text is cleared. Unset colours are zeros, as in the C config.
    """

    gie_unique_id: int = 0
    border_colors: dict[int, Color] = field(default_factory=dict)  # -1: the group's default
    bg_colors: dict[int, Color] = field(default_factory=dict)
    border_width: int = 1
    show_text: bool = True
    display_tracking_id: bool = True
    text_color: Color | None = None
    text_bg_color: Color | None = None
    text_size: int = 15
    font: str | None = None

    @classmethod
    def from_config(cls, config: AppConfig, *, show_text: bool) -> ObjectDisplay:
        gie = config.primary_gie
        return cls(
            gie_unique_id=gie.gie_unique_id or 0,
            border_colors=dict(gie.bbox_border_colors),
            bg_colors=dict(gie.bbox_bg_colors),
            border_width=config.osd.border_width,
            show_text=show_text,
            display_tracking_id=config.tracker.display_tracking_id,
            text_color=config.osd.text_color,
            text_bg_color=config.osd.text_bg_color,
            text_size=config.osd.text_size,
            font=config.osd.font,
        )

    def __call__(self, batch: BatchMeta) -> None:
        bg = self.text_bg_color
        has_bg = bg is not None and any(v > 0 for v in (bg.red, bg.green, bg.blue, bg.alpha))
        for frame in batch.frames:
            for obj in frame.objects:
                if self.gie_unique_id == obj.unique_component_id:
                    self._colour(obj)
                if not self.show_text:
                    obj.text_params.display_text = ""  # deepstream-app frees it (NULL): nothing drawn
                    continue
                text = obj.text_params
                text.x_offset = max(0, int(obj.left))
                text.y_offset = max(0, int(obj.top - 30))
                _set_color(text.font_params.font_color, self.text_color or _BLACK)
                text.font_params.font_size = self.text_size
                if self.font is not None:
                    text.font_params.font_name = self.font
                if has_bg and bg is not None:
                    text.set_bg_clr = 1
                    _set_color(text.text_bg_clr, bg)
                text.display_text = self.label(obj)

    def _colour(self, obj: ObjectMeta) -> None:
        rect = obj.rect_params
        border = self.border_colors.get(obj.class_id, self.border_colors.get(-1, DEFAULT_BORDER))
        _set_color(rect.border_color, border)
        rect.border_width = self.border_width
        background = self.bg_colors.get(obj.class_id)
        rect.has_bg_color = 1 if background is not None else 0
        if background is not None:
            _set_color(rect.bg_color, background)

    def label(self, obj: ObjectMeta) -> str:
        """``label[ id][ classifier labels…]``, as process_meta writes display_text."""
        text = obj.obj_label or ""
        if obj.object_id != UNTRACKED_OBJECT_ID and self.display_tracking_id:
            text += f" {obj.object_id & _LOW_32}"
        classifiers = []
        node = obj.classifier_meta_list
        while node is not None:
            classifiers.append(NvDsClassifierMeta.cast(node.data))
            node = node.next
        for classifier in sorted(classifiers, key=lambda c: c.unique_component_id):
            entry = classifier.label_info_list
            while entry is not None:
                info = NvDsLabelInfo.cast(entry.data)
                label = info.pResult_label if info.pResult_label is not None else info.result_label
                if label:
                    text += f" {label}"
                entry = entry.next
        return text
