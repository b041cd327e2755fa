"""Acceptance: a runtime_source_add_delete style app (apps/deepstream_rt_src_add_del.py).

The pipeline starts with a world clip; while it plays the app adds a second world clip (a new
nvstreammux request pad) and removes it after 25 of its frames, long before its end, then adds a
20-frame videotestsrc clip and removes that one at its stream-eos. The first source plays to its
end and the pipeline reaches EOS.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from acceptance import APPS, imported_top_level, pattern_clip, run_app, world_clip

pytestmark = pytest.mark.integration

REMOVE_AFTER = 25


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("rt-src-app")
    world = world_clip(base / "world", seed=2006)
    ball = pattern_clip(base / "ball.mp4", "ball", 20, width=640, height=360)
    result = run_app(
        [str(APPS / "deepstream_rt_src_add_del.py"), f"file://{world}", "--add", f"file://{world}@10",
         "--add", f"file://{ball}@40", "--remove-after", str(REMOVE_AFTER)],
        cwd=base, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.tail()
    batches = [
        [(int(s), int(f)) for s, f in re.findall(r"s(\d+):f(\d+)", line)]
        for line in re.findall(r"^Batch (.*)$", result.output, re.MULTILINE)
    ]
    return {"output": result.output, "batches": batches}


def _frames(batches: list[list[tuple[int, int]]], source: int) -> list[int]:
    return [f for batch in batches for s, f in batch if s == source]


def test_the_first_source_plays_to_its_end_and_the_pipeline_reaches_eos(run: dict[str, Any]) -> None:
    assert _frames(run["batches"], 0) == list(range(90))
    out = run["output"]
    assert out.index("End-of-stream") > out.index("Got EOS from stream 0")


def test_a_source_added_while_playing_joins_the_batches_and_leaves_when_removed(run: dict[str, Any]) -> None:
    batches, out = run["batches"], run["output"]
    frames = _frames(batches, 1)
    # removed mid-stream: its first frames, in order, and not the other 60-odd
    assert frames == list(range(len(frames))) and REMOVE_AFTER <= len(frames) <= REMOVE_AFTER + 3
    first = next(i for i, batch in enumerate(batches) if any(s == 1 for s, _ in batch))
    assert min(f for s, f in batches[first] if s == 0) >= 10, "added once source 0 had 10 frames"
    assert any(len(batch) == 2 for batch in batches[first : first + len(frames)]), "batched with source 0"
    assert "Got EOS from stream 1" not in out
    assert f"Released source 1 after {REMOVE_AFTER} frames" in out


def test_a_source_that_ends_is_removed_at_its_stream_eos(run: dict[str, Any]) -> None:
    out = run["output"]
    assert _frames(run["batches"], 2) == list(range(20))
    assert out.index("Got EOS from stream 2") < out.index("Released source 2 after 20 frames")
    assert out.index("Released source 2") < out.index("Got EOS from stream 0")


def test_every_added_pad_was_released(run: dict[str, Any]) -> None:
    pads = re.search(r"^Muxer sink pads at the end: (.*)$", run["output"], re.MULTILINE)
    assert pads is not None and json.loads(pads.group(1)) == ["sink_0"]


def test_the_app_imports_nothing_of_edge_harness() -> None:
    imported = imported_top_level(APPS / "deepstream_rt_src_add_del.py")
    assert {"gi", "pyds"} <= imported and not imported & {"harness", "fake_device"}
