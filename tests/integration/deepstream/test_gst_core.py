"""The core under real GStreamer: the carrier through real elements, the site hook, gst-launch-1.0."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fake_device.deepstream.gst.carrier import attach_batch_meta, batch_meta_at, batch_meta_of
from fake_device.deepstream.gst.environment import deepstream_environment
from fake_device.deepstream.gst.runtime import Gst

FRAMES = 12


def _run_to_eos(pipeline: Gst.Pipeline, timeout_s: float = 60) -> None:
    pipeline.set_state(Gst.State.PLAYING)
    message = pipeline.get_bus().timed_pop_filtered(
        int(timeout_s * Gst.SECOND), Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    assert message is not None, "no EOS"
    if message.type == Gst.MessageType.ERROR:
        raise AssertionError(message.parse_error())


def test_batch_meta_survives_queue_tee_videoconvert_and_x264enc() -> None:
    pipeline = Gst.parse_launch(
        "appsrc name=src format=time caps=video/x-raw,format=I420,width=64,height=48,framerate=30/1 "
        "! queue ! tee name=t "
        "t. ! queue ! videoconvert ! video/x-raw,format=RGBA ! identity name=converted ! fakesink "
        "t. ! queue ! x264enc key-int-max=5 ! identity name=encoded ! fakesink "
        "t. ! queue ! identity name=copied drop-allocation=true ! fakesink"
    )
    seen: dict[str, list[int]] = {"converted": [], "encoded": [], "copied": []}

    def probe(pad: Gst.Pad, info: Gst.PadProbeInfo, name: str) -> Gst.PadProbeReturn:
        meta = batch_meta_at(hash(info.get_buffer()))  # what pyds receives: the address alone
        seen[name].append(meta.frames[0].frame_num if meta is not None else -1)
        return Gst.PadProbeReturn.OK

    for name in seen:
        pipeline.get_by_name(name).get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe, name)
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    from fake_device.deepstream.meta import BatchMeta, FrameMeta

    for n in range(FRAMES):
        buffer = Gst.Buffer.new_allocate(None, 64 * 48 * 3 // 2, None)
        buffer.pts = n * Gst.SECOND // 30
        buffer.duration = Gst.SECOND // 30
        frame = FrameMeta(
            source_id=0, frame_num=n, ntp_timestamp=0, source_frame_width=64, source_frame_height=48
        )
        attach_batch_meta(buffer, BatchMeta(frames=[frame], max_frames_in_batch=1))
        assert batch_meta_of(buffer).frames[0].frame_num == n
        assert src.emit("push-buffer", buffer) == Gst.FlowReturn.OK
    src.emit("end-of-stream")
    _run_to_eos(pipeline)
    assert seen["converted"] == list(range(FRAMES))
    assert seen["copied"] == list(range(FRAMES))
    assert sorted(seen["encoded"]) == list(range(FRAMES))  # x264 may reorder output frames


def _app_environment() -> dict[str, str]:
    env = deepstream_environment(os.environ)
    env.pop("PYTHONSAFEPATH", None)
    return env


def test_an_app_that_never_names_edge_harness_gets_the_elements(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        textwrap.dedent(
            """
            import sys
            import gi
            gi.require_version("Gst", "1.0")
            from gi.repository import Gst
            Gst.init(None)
            caps = Gst.ElementFactory.make("capsfilter")  # a C BaseTransform before any nv* element
            sink = Gst.ElementFactory.make("nveglglessink", "sink")
            if sink is None:
                sys.exit("no nveglglessink")
            pipeline = Gst.parse_launch("videotestsrc num-buffers=3 ! nveglglessink name=out sync=false")
            pipeline.set_state(Gst.State.PLAYING)
            msg = pipeline.get_bus().timed_pop_filtered(
                30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            pipeline.set_state(Gst.State.NULL)
            print("edge_harness" in sys.modules, msg.type == Gst.MessageType.EOS)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(app)], env=_app_environment(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_the_harness_interpreter_is_not_hooked() -> None:
    assert not any(type(f).__name__ == "_GstImportHook" for f in sys.meta_path)


def _gst_launch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["gst-launch-1.0", *args], env=_app_environment(), capture_output=True, text=True, timeout=120
    )


def test_gst_launch_runs_a_line_with_nv_elements() -> None:
    result = _gst_launch("-e", "videotestsrc", "num-buffers=5", "!", "nv3dsink", "window-x=20", "sync=false")
    assert result.returncode == 0, result.stderr
    assert 'Got EOS from element "pipeline0".' in result.stdout
    assert "Execution ended after 0:00:" in result.stdout


def test_gst_launch_reports_an_unknown_element_as_the_real_tool() -> None:
    result = _gst_launch("videotestsrc", "!", "nvnosuchelement", "!", "fakesink")
    assert result.returncode == 1
    assert result.stderr.strip() == 'WARNING: erroneous pipeline: no element "nvnosuchelement"'


def test_a_setting_that_is_not_emulated_fails_the_pipeline_with_a_pointer_to_the_docs() -> None:
    result = _gst_launch("videotestsrc", "num-buffers=1", "!", "nveglglessink", "gpu-id=1")
    assert result.returncode == 255
    assert "not emulated on this device: gpu-id=1" in result.stderr
    assert "docs/deepstream/supported.md" in result.stderr
