"""Acceptance: an app that relies on what the emulation does not have fails loudly and says what.

apps/deepstream_not_emulated.py asks, one at a time, for an nvvideoconvert rotation by 90 degrees,
``pyds.NvBufSurfaceCreate`` and ``pyds.get_nvds_buf_surface_gpu``; each run must exit non-zero with
a message naming the element and property or the pyds name, and docs/deepstream/supported.md.
The same app asking for none of them plays to the end, so the failures are the missing features'.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from acceptance import APPS, imported_top_level, pattern_clip, run_app

from fake_device.deepstream.gst.environment import deepstream_environment

pytestmark = pytest.mark.integration

SUPPORTED = "(see docs/deepstream/supported.md)"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pattern_clip(tmp_path_factory.mktemp("not-emulated") / "smpte.mp4", "smpte", 15, 320, 240)


def _run(clip: Path, use: str) -> tuple[int, str]:
    result = run_app(
        [str(APPS / "deepstream_not_emulated.py"), f"file://{clip}", "--use", use], cwd=clip.parent
    )
    return result.returncode, result.output


def test_the_app_works_without_them(clip: Path) -> None:
    code, out = _run(clip, "nothing")
    assert code == 0, out
    assert "frames read=15" in out


def test_a_property_value_not_emulated_is_an_element_error(clip: Path) -> None:
    code, out = _run(clip, "rotate")
    assert code == 1
    assert (
        "ERROR from convertor: convertor: not emulated on this device: flip-method=3: rotations by 90 "
        f"degrees and diagonal flips are not emulated (none, rotate-180, horizontal-flip and vertical-flip "
        f"are) {SUPPORTED}"
    ) in out
    assert "frames read=0" in out


def test_a_pyds_call_not_emulated_names_itself(clip: Path) -> None:
    code, out = _run(clip, "surface-create")
    assert code == 1
    assert (
        "AttributeError: pyds.NvBufSurfaceCreateParams is part of NVIDIA's pyds but not emulated here: "
        f"the emulated NvBufSurface is system memory; read frames with get_nvds_buf_surface {SUPPORTED}"
    ) in out


def test_a_pyds_call_in_a_probe_names_itself(clip: Path) -> None:
    code, out = _run(clip, "surface-gpu")
    assert code == 1
    assert "probe: pyds.get_nvds_buf_surface_gpu is part of NVIDIA's pyds but not emulated here: " in out
    assert out.count(SUPPORTED) == 1 and "frames read=0" in out


def test_an_element_not_emulated_builds_and_refuses_to_start_naming_the_docs(clip: Path) -> None:
    """nvdspreprocess exists on a Jetson; here a stand-in takes its name, links, and refuses to start."""
    result = subprocess.run(
        ["gst-launch-1.0", "uridecodebin", f"uri=file://{clip}", "!", "m.sink_0", "nvstreammux", "name=m",
         "batch-size=1", "width=320", "height=240", "!", "nvdspreprocess", "!", "fakesink"],
        env=deepstream_environment(dict(os.environ)), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 255, out  # the real tool's status when a state change is refused
    assert "DeepStream's nvdspreprocess (custom preprocessing of ROIs into tensors) is not emulated" in out
    assert "see docs/deepstream/supported.md" in out


def test_the_app_imports_nothing_of_edge_harness() -> None:
    imported = imported_top_level(APPS / "deepstream_not_emulated.py")
    assert {"gi", "pyds"} <= imported and not imported & {"harness", "fake_device"}
