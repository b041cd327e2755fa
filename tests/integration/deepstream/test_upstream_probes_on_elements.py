"""The seed app's and deepstream-test2's own probe functions, unmodified from the mirror, on the
buffers nvtracker, nvdsanalytics and nvdsosd produce in a real pipeline: the metadata is where and
of the type those apps look for it.

Pipeline: ``appsrc ! nvtracker ! nvdsanalytics ! nvdsosd ! appsink``, the seed's
``nvanalytics_src_pad_buffer_probe`` on nvdsanalytics' src pad and deepstream-test2's
``osd_sink_pad_buffer_probe`` on nvdsosd's sink pad, as the apps place them. The apps are imported
with the site directory first on the path, as a component process has it (``import pyds`` is the
emulation). Skipped when the repositories are not mirrored.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from batch_feed import Detection, batch_meta, nvmm_rgba

from fake_device.deepstream.gst.carrier import attach_batch_meta
from fake_device.deepstream.gst.environment import SITE_DIR
from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import Gst

MIRROR = Path("/work/.mirror")
SEED = "jastinjn/deepstream-greengrass-app"
SAMPLES = "NVIDIA-AI-IOT/deepstream_python_apps"
LIB = "/opt/nvidia/deepstream/deepstream/lib/libnvds_nvmultiobjecttracker.so"
W, H = 320, 240


def _materialise(repo: str, folders: tuple[str, ...], into: Path) -> Path:
    repo_dir = MIRROR / repo.replace("/", "+") / "repo"
    if not repo_dir.is_dir():
        pytest.skip(f"{repo} is not mirrored under {MIRROR}")
    git = ["git", "-C", str(repo_dir)]
    names = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", "HEAD"], check=True, capture_output=True, text=True
    )
    for name in names.stdout.splitlines():
        if name.endswith(".py") and name.startswith(folders):
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(
                subprocess.run([*git, "show", f"HEAD:{name}"], check=True, capture_output=True).stdout
            )
    return into


@pytest.fixture
def apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, ModuleType]]:
    """(the seed's deepstream_app, deepstream-test2's deepstream_test_2), imported as a device would."""
    before = set(sys.modules)
    seed_dir = _materialise(SEED, ("artifacts/source/",), tmp_path / "seed") / "artifacts" / "source"
    samples = _materialise(SAMPLES, ("apps/deepstream-test2/", "apps/common/"), tmp_path / "samples") / "apps"
    monkeypatch.syspath_prepend(str(samples))
    monkeypatch.syspath_prepend(str(samples / "deepstream-test2"))
    monkeypatch.syspath_prepend(str(seed_dir))
    monkeypatch.syspath_prepend(str(SITE_DIR))
    seed = importlib.import_module("deepstream_app")
    sys.modules.pop("common", None)  # the seed has its own common/; test2 imports NVIDIA's
    for name in [n for n in sys.modules if n.startswith("common.")]:
        del sys.modules[name]
    monkeypatch.syspath_prepend(str(samples))
    test2 = importlib.import_module("deepstream_test_2")
    yield seed, test2
    for name in set(sys.modules) - before:
        if name == "pyds" or name.split(".")[0] in ("common", "cuda") or name.startswith("deepstream"):
            del sys.modules[name]


@pytest.mark.filterwarnings("ignore:GstRtspServer was imported without specifying a version")
def test_seed_and_test2_probes_on_the_elements_output(
    apps: tuple[ModuleType, ModuleType], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed, test2 = apps
    seed.perf_data = seed.PERF_DATA(1)
    register_all()
    tracker_config = tmp_path / "tracker.yml"
    tracker_config.write_text("%YAML:1.0\nTargetManagement:\n  probationAge: 2\n  enablePastFrame: 1\n")
    analytics_config = tmp_path / "analytics.txt"
    analytics_config.write_text(
        f"[property]\nenable=1\nconfig-width={W}\nconfig-height={H}\nosd-mode=2\n\n"
        "[roi-filtering-stream-0]\nenable=1\nroi-TL1=0;0;160;0;160;240;0;240\n"
    )
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps={nvmm_rgba(W, H)} "
        f"! nvtracker ll-lib-file={LIB} ll-config-file={tracker_config} "
        f"! nvdsanalytics name=analytics config-file={analytics_config} "
        "! nvdsosd name=osd ! appsink name=sink emit-signals=true sync=false"
    )
    pipeline.get_by_name("analytics").get_static_pad("src").add_probe(
        Gst.PadProbeType.BUFFER, seed.nvanalytics_src_pad_buffer_probe, 0
    )
    pipeline.get_by_name("osd").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, test2.osd_sink_pad_buffer_probe, 0
    )
    pyds = seed.pyds
    out: list[Any] = []
    pipeline.get_by_name("sink").connect(
        "new-sample",
        lambda sink: (
            out.append(pyds.gst_buffer_get_nvds_batch_meta(hash(sink.emit("pull-sample").get_buffer())))
            or Gst.FlowReturn.OK
        ),
    )
    src = pipeline.get_by_name("src")
    try:
        pipeline.set_state(Gst.State.PLAYING)
        for n in range(4):
            # a car inside TL1 (left half) and one outside it, both moving right
            cars = [
                Detection((20.0 + 3 * n, 60.0, 40.0, 30.0)),
                Detection((220.0 + 3 * n, 150.0, 40.0, 30.0)),
            ]
            buffer = Gst.Buffer.new_wrapped(bytes(W * H * 4))
            buffer.pts, buffer.duration = n * Gst.SECOND // 30, Gst.SECOND // 30
            attach_batch_meta(buffer, batch_meta([(0, n * 30, cars)], W, H))  # frame 0, 30, 60, 90: events
            assert src.emit("push-buffer", buffer) == Gst.FlowReturn.OK
        src.emit("end-of-stream")
        message = pipeline.get_bus().timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
        )
        assert message is not None and message.type == Gst.MessageType.EOS, message and message.parse_error()
    finally:
        pipeline.set_state(Gst.State.NULL)

    printed = capsys.readouterr().out
    # test2's probe found the tracker's past-frame batch user meta and walked it
    assert "streamId= 0" in printed and "uniqueId= 0" in printed and "objLabel= car" in printed
    assert "frameNum: 0" in printed and "frameNum: 30" in printed
    assert "Frame Number=60 Number of Objects=1" in printed  # after the seed's probe removed one
    # the seed's probe kept the object in TL1 (tracked from the third frame) and made an event of it
    kept = [[(o.object_id, o.rect_params.left < 160) for o in m.frames[0].objects] for m in out]
    assert kept == [[], [], [(0, True)], [(0, True)]]
    events = []
    for meta in out:
        node = meta.frames[0].frame_user_meta_list
        while node is not None:
            user_meta = pyds.NvDsUserMeta.cast(node.data)
            if user_meta.base_meta.meta_type == pyds.NvDsMetaType.NVDS_EVENT_MSG_META:
                event = pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data)
                events.append((event.frameId, event.trackingId))
            node = node.next
    assert events == [(60, 0), (90, 0)]
