"""Upstream DeepStream apps' own probe functions, unmodified, on the emulated pyds; what a component
process imports as ``pyds`` and ``cuda``; frames of a buffer through ``get_nvds_buf_surface``.

The seed's app and NVIDIA's deepstream-test2/test4 are imported from the local mirror of their
repositories (the test skips, saying so, when it is absent) with the site directory first on the
path, as a component process has it: ``import pyds`` and ``from cuda import cudart`` get the
emulation. Their buffer probes then run on a real GstBuffer that carries a batch meta.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from pyds_inventory import MIRROR

from fake_device.deepstream import cmemory, pyds_api
from fake_device.deepstream.gst.carrier import attach_batch_meta, attach_surface_layout
from fake_device.deepstream.gst.environment import SITE_DIR, deepstream_environment
from fake_device.deepstream.gst.runtime import Gst
from fake_device.deepstream.gst.surface import FrameLayout
from fake_device.deepstream.meta import ObjectAnalytics, copy_batch_meta

pytestmark = pytest.mark.unit

SEED = "jastinjn/deepstream-greengrass-app"
SAMPLES = "NVIDIA-AI-IOT/deepstream_python_apps"


def _materialise(repo: str, folders: tuple[str, ...], into: Path) -> Path:
    repo_dir = MIRROR / repo.replace("/", "+") / "repo"
    if not repo_dir.is_dir():
        pytest.skip(f"{repo} is not mirrored under {MIRROR}")
    names = subprocess.run(
        ["git", "-C", str(repo_dir), "ls-tree", "-r", "--name-only", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in names:
        if name.endswith(".py") and name.startswith(folders):
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(
                subprocess.run(
                    ["git", "-C", str(repo_dir), "show", f"HEAD:{name}"], check=True, capture_output=True
                ).stdout
            )
    return into


@pytest.fixture
def app_import(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """import_app(folder, module): the app module, with the site dir and ``folder`` on the path."""
    before = set(sys.modules)

    def import_app(folder: Path, module: str) -> ModuleType:
        monkeypatch.syspath_prepend(str(folder.parent))  # NVIDIA's apps find common/ one level up
        monkeypatch.syspath_prepend(str(folder))
        monkeypatch.syspath_prepend(str(SITE_DIR))
        return importlib.import_module(module)

    yield import_app
    for name in set(sys.modules) - before:  # the apps' own modules, pyds and cuda of the site dir
        if name == "pyds" or name.split(".")[0] in ("common", "cuda") or name.startswith("deepstream"):
            del sys.modules[name]


class _Info:
    """The pad probe info a probe gets: only get_buffer() is used."""

    def __init__(self, buffer: Gst.Buffer) -> None:
        self._buffer = buffer

    def get_buffer(self) -> Gst.Buffer:
        return self._buffer


def _buffer_with(batch: Any) -> Gst.Buffer:
    buffer = Gst.Buffer.new_allocate(None, 16, None)
    attach_batch_meta(buffer, batch)
    return buffer


def _traffic_batch(pyds: ModuleType, frame_num: int) -> Any:
    """One frame with three tracked cars, the middle one outside ROI TL1 (as nvdsanalytics marks them)."""
    batch = pyds.nvds_create_batch_meta(1)
    frame = pyds.nvds_acquire_frame_meta_from_pool(batch)
    frame.frame_num = frame_num
    pyds.nvds_add_frame_meta_to_batch(batch, frame)
    for index, roi in enumerate((["TL1"], [], ["TL1"])):
        obj = pyds.nvds_acquire_obj_meta_from_pool(batch)
        obj.object_id = 100 + index
        obj.class_id = 2
        obj.confidence = 0.5
        obj.rect_params.left, obj.rect_params.top = 10.0 * index, 20.0
        obj.rect_params.width, obj.rect_params.height = 30.0, 40.0
        pyds.nvds_add_obj_meta_to_frame(frame, obj, None)
        if roi:
            obj.analytics = ObjectAnalytics(roi_status=roi)
    return batch


@pytest.mark.filterwarnings("ignore:GstRtspServer was imported without specifying a version")
def test_seed_probe_keeps_roi_objects_and_attaches_events_with_its_callbacks(
    tmp_path: Path, app_import: Any
) -> None:
    source = _materialise(SEED, ("artifacts/source/",), tmp_path) / "artifacts" / "source"
    app = app_import(source, "deepstream_app")
    pyds = app.pyds
    assert pyds.__file__ == str(SITE_DIR / "pyds.py")
    app.perf_data = app.PERF_DATA(1)

    quiet = _traffic_batch(pyds, frame_num=31)
    assert app.nvanalytics_src_pad_buffer_probe(None, _Info(_buffer_with(quiet)), 0) == Gst.PadProbeReturn.OK
    assert [o.object_id for o in quiet.frames[0].objects] == [100, 102]  # removed: not in TL1
    assert quiet.frames[0].frame_user_meta_list is None  # events only every 30th frame

    batch = _traffic_batch(pyds, frame_num=30)
    app.nvanalytics_src_pad_buffer_probe(None, _Info(_buffer_with(batch)), 0)
    frame = batch.frames[0]
    events = []
    node = frame.frame_user_meta_list
    while node is not None:
        user_meta = pyds.NvDsUserMeta.cast(node.data)
        assert user_meta.base_meta.meta_type == pyds.NvDsMetaType.NVDS_EVENT_MSG_META
        events.append(pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data))
        node = node.next
    assert [(e.trackingId, e.bbox.left, e.frameId) for e in events] == [(100, 0.0, 30), (102, 20.0, 30)]
    assert pyds.get_string(events[0].sensorStr) == "sensor-0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", pyds.get_string(events[0].ts))

    copied = copy_batch_meta(batch)  # the seed's meta_copy_func: memdup + its own string copies
    copies = [
        pyds.NvDsEventMsgMeta.cast(pyds.NvDsUserMeta.cast(m).user_meta_data)
        for m in copied.frames[0]._frame_user_meta
    ]
    assert [c.trackingId for c in copies] == [100, 102] and copies[0] is not events[0]
    assert pyds.get_string(copies[0].ts) == pyds.get_string(events[0].ts) and copies[0].ts != events[0].ts

    ts = events[0].ts
    pyds.nvds_destroy_batch_meta(batch)  # the seed's meta_free_func frees ts and sensorStr
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.get_string(ts)
    assert pyds.get_string(copies[0].ts) is not None
    pyds_api._SLOT.__init__()  # the callback slot is process-wide


def test_test4_probe_attaches_vehicle_and_person_events(tmp_path: Path, app_import: Any) -> None:
    apps = _materialise(SAMPLES, ("apps/deepstream-test4/", "apps/common/"), tmp_path) / "apps"
    app = app_import(apps / "deepstream-test4", "deepstream_test_4")
    pyds = app.pyds
    batch = pyds.nvds_create_batch_meta(1)
    frame = pyds.nvds_acquire_frame_meta_from_pool(batch)
    pyds.nvds_add_frame_meta_to_batch(batch, frame)
    for class_id in (app.PGIE_CLASS_ID_PERSON, app.PGIE_CLASS_ID_VEHICLE):
        obj = pyds.nvds_acquire_obj_meta_from_pool(batch)
        obj.class_id = class_id
        pyds.nvds_add_obj_meta_to_frame(frame, obj, None)

    app.osd_sink_pad_buffer_probe(None, _Info(_buffer_with(batch)), 0)

    labels = [pyds.get_string(o.text_params.display_text) for o in frame.objects]
    assert labels == ["Person", "Vehicle"]
    [user_meta] = [pyds.NvDsUserMeta.cast(m) for m in frame._frame_user_meta]  # the first object only
    event = pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data)
    assert event.objType == pyds.NvDsObjectType.NVDS_OBJECT_TYPE_PERSON
    person = pyds.NvDsPersonObject.cast(event.extMsg)
    assert (person.age, pyds.get_string(person.gender)) == (45, "male")

    copy = copy_batch_meta(batch)  # pyds's own callbacks, set by alloc_nvds_event_msg_meta(user_meta)
    copied_user_meta = pyds.NvDsUserMeta.cast(copy.frames[0].frame_user_meta_list.data)
    copied = pyds.NvDsEventMsgMeta.cast(copied_user_meta.user_meta_data)
    assert pyds.get_string(pyds.NvDsPersonObject.cast(copied.extMsg).apparel) == "formal"
    gender = person.gender
    pyds.nvds_destroy_batch_meta(batch)
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.get_string(gender)


def test_test2_reads_tracker_past_frames_and_common_sees_a_jetson(
    tmp_path: Path, app_import: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    apps = _materialise(SAMPLES, ("apps/deepstream-test2/", "apps/common/"), tmp_path) / "apps"
    app = app_import(apps / "deepstream-test2", "deepstream_test_2")
    pyds = app.pyds
    assert app.PlatformInfo().is_integrated_gpu() == 1  # cuda stand-in: an integrated GPU (a Jetson)

    batch = pyds.nvds_create_batch_meta(1)
    frame = pyds.nvds_acquire_frame_meta_from_pool(batch)
    frame.frame_num = 12
    pyds.nvds_add_frame_meta_to_batch(batch, frame)
    past = pyds.NvDsTargetMiscDataBatch()
    stream = pyds.NvDsTargetMiscDataStream(streamID=0)
    target = pyds.NvDsTargetMiscDataObject(uniqueId=7, classId=0)
    target.objLabel = "Car"
    record = pyds.NvDsTargetMiscDataFrame(frameNum=11, confidence=0.25, age=3)
    record.tBbox.left = 5.0
    target.append(record)
    stream.append(target)
    past.append(stream)
    user_meta = pyds.nvds_acquire_user_meta_from_pool(batch)
    user_meta.user_meta_data = past
    user_meta.base_meta.meta_type = pyds.NvDsMetaType.NVDS_TRACKER_PAST_FRAME_META
    pyds.nvds_add_user_meta_to_batch(batch, user_meta)

    app.osd_sink_pad_buffer_probe(None, _Info(_buffer_with(batch)), 0)

    out = capsys.readouterr().out
    assert "Frame Number=12 Number of Objects=0" in out
    for line in ("uniqueId= 7", "objLabel= Car", "frameNum: 11", "tBbox.left: 5.0", "age: 3"):
        assert line in out
    [display] = [pyds.NvDsDisplayMeta.cast(m) for m in frame._display_meta]
    assert display.num_labels == 1
    assert pyds.get_string(display.text_params[0].font_params.font_name) == "Serif"


def test_site_dir_gives_a_component_process_pyds_and_cuda(tmp_path: Path) -> None:
    """What a component process gets from its environment, in a fresh interpreter."""
    script = tmp_path / "app.py"
    script.write_text(
        "import pyds\n"
        "from cuda import cuda, cudart\n"
        "batch = pyds.nvds_create_batch_meta(1)\n"
        "frame = pyds.nvds_acquire_frame_meta_from_pool(batch)\n"
        "pyds.nvds_add_frame_meta_to_batch(batch, frame)\n"
        "print(pyds.NvDsFrameMeta.cast(batch.frame_meta_list.data) is frame, pyds.NVDS_EVENT_MSG_META)\n"
        "ok = cuda.cuInit(0)[0] == cuda.CUresult.CUDA_SUCCESS\n"
        "print(ok, cudart.cudaGetDeviceProperties(0)[1].integrated)\n"
        "try:\n"
        "    pyds.NvBufSurfaceCreate\n"
        "except AttributeError as error:\n"
        "    print(error)\n",
        encoding="utf-8",
    )
    env = deepstream_environment({"PATH": os.environ.get("PATH", "")})
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "True NvDsMetaType.NVDS_EVENT_MSG_META",
        "True 1",
        "pyds.NvBufSurfaceCreate is part of NVIDIA's pyds but not emulated here: the emulated NvBufSurface "
        "is system memory; read frames with get_nvds_buf_surface (see docs/deepstream/supported.md)",
    ]


def test_get_nvds_buf_surface_is_a_view_of_the_frame_in_the_buffer() -> None:
    layout = FrameLayout.of("RGBA", 4, 2)
    buffer = Gst.Buffer.new_allocate(None, 2 * layout.size, None)
    buffer.fill(0, bytes(range(2 * layout.size)))
    attach_surface_layout(buffer, layout)

    frame = pyds_api.get_nvds_buf_surface(hash(buffer), 1)
    assert frame.shape == (2, 4, 4) and frame.dtype == np.uint8
    assert frame[0, 0].tolist() == list(range(layout.size, layout.size + 4))
    frame[0, 0] = (1, 2, 3, 4)  # a redaction app draws into it: the buffer changes
    assert buffer.extract_dup(layout.size, 4) == bytes((1, 2, 3, 4))
    with pytest.raises(cmemory.MemoryFault, match="batch_id 2 is outside the batch of 2 frames"):
        pyds_api.get_nvds_buf_surface(hash(buffer), 2)

    nv12 = Gst.Buffer.new_allocate(None, FrameLayout.of("NV12", 4, 2).size, None)
    attach_surface_layout(nv12, FrameLayout.of("NV12", 4, 2))
    with pytest.raises(RuntimeError, match="only support RGBA/RGB color Format \\(this buffer is NV12\\)"):
        pyds_api.get_nvds_buf_surface(hash(nv12), 0)
    plain = Gst.Buffer.new_allocate(None, 16, None)
    with pytest.raises(RuntimeError, match="carries no NvBufSurface"):
        pyds_api.get_nvds_buf_surface(hash(plain), 0)
