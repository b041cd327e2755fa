"""Tracked objects as MOT Challenge rows, for scoring the tracker offline.

One row per tracked object and frame: ``frame,id,left,top,width,height,confidence,class,-1,rois``
(frame numbers from 1, muxer pixels, ROI labels joined by ``;`` or ``-`` outside every ROI).
Each frame is flushed, so a run that dies still leaves its rows.
"""

UNTRACKED_OBJECT_ID = 0xFFFFFFFFFFFFFFFF


def _number(value, decimals):
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class TrackFile:
    def __init__(self, path):
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the app

    def write(self, frame_num, obj_meta, rois):
        """One row for ``obj_meta`` (pyds.NvDsObjectMeta) if the tracker gave it an id."""
        if obj_meta.object_id == UNTRACKED_OBJECT_ID:
            return
        rect = obj_meta.rect_params
        row = (
            str(frame_num + 1),
            str(obj_meta.object_id),
            _number(rect.left, 2),
            _number(rect.top, 2),
            _number(rect.width, 2),
            _number(rect.height, 2),
            _number(obj_meta.confidence, 4),
            str(obj_meta.class_id),
            "-1",
            ";".join(rois) or "-",
        )
        self._file.write(",".join(row) + "\n")

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()
