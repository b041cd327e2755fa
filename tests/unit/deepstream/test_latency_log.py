"""Reading DeepStream's latency lines back from a log: frames, components, batches, throughput."""

from __future__ import annotations

import pytest

from fake_device.deepstream.measure import LatencyRecorder, parse_frame_latency, parse_latency_log
from fake_device.deepstream.meta import BatchMeta, FrameMeta


def _batch(frames: list[tuple[int, int, list[tuple[str, float, float]]]]) -> BatchMeta:
    metas = []
    for source, num, marks in frames:
        meta = FrameMeta(
            source_id=source, frame_num=num, ntp_timestamp=0, source_frame_width=1, source_frame_height=1
        )
        meta.latency += marks
        metas.append(meta)
    return BatchMeta(frames=metas)


def _printed(batches: list[tuple[BatchMeta, float]], every: int = 1) -> list[str]:
    printed: list[str] = []
    recorder = LatencyRecorder(
        print_frames=True, print_components=True, printer=printed.append, print_every=every
    )
    for batch, out_time in batches:
        recorder.measure(batch, out_time=out_time)
    return "".join(printed).splitlines()


def test_recorder_lines_parse_back_with_their_batches() -> None:
    first = [("dec", 1.000, 1.004), ("nvstreammux-mux", 1.004, 1.005), ("pgie", 1.01, 1.03)]
    second = [("dec", 1.033, 1.036), ("nvstreammux-mux", 1.036, 1.037), ("pgie", 1.04, 1.06)]
    lines = _printed([(_batch([(0, 0, first)]), 1.04), (_batch([(0, 1, second)]), 1.07)])
    log = parse_latency_log(["**PERF:  {'stream0': 30.0}", *lines, "End-of-stream"])
    assert [(f.source_id, f.frame_num, f.batch) for f in log.frames] == [(0, 0, 0), (0, 1, 1)]
    assert log.frame_ms() == pytest.approx([40.0, 37.0], abs=1e-3)
    assert list(log.elements_ms()) == ["dec", "nvstreammux-mux", "pgie"]
    assert log.elements_ms()["pgie"] == pytest.approx([20.0, 20.0], abs=1e-3)
    # the muxer's own line shape parses with its timestamps too
    mux = [c for c in log.components if c.name == "nvstreammux-mux"]
    assert [c.batch for c in mux] == [0, 1] and mux[0].out_ms - mux[0].in_ms == pytest.approx(1.0, abs=1e-3)
    assert log.frame_latency(0, 1) == pytest.approx(37.0, abs=1e-3)
    assert log.frame_latency(1, 0) is None
    assert parse_frame_latency(lines) == log.frames
    summary = log.summary()
    assert summary["batches"] == 2 and summary["frame_latency_ms"]["count"] == 2
    assert summary["elements_ms"]["dec"]["count"] == 2


def test_throughput_counts_frames_after_the_first_batch_between_arrivals() -> None:
    # three batches of two frames; the last element hands each batch on 50 ms after the previous
    batches = []
    for n in range(3):
        t = 2.0 + 0.05 * n
        marks = [("pgie", t - 0.02, t - 0.01), ("analytics", t - 0.01, t)]
        batches.append((_batch([(0, n, marks), (1, n, marks)]), t + 0.001))
    log = parse_latency_log(_printed(batches))
    frames, seconds = log.throughput()
    assert frames == 4  # the two batches after the first
    assert seconds == pytest.approx(0.1, abs=1e-6)


def test_throughput_is_unknown_when_batches_were_not_all_printed() -> None:
    batches = [(_batch([(0, n, [("pgie", 1.0 + n, 1.01 + n)])]), 1.02 + n) for n in range(5)]
    assert parse_latency_log(_printed(batches, every=2)).throughput() is None
    assert parse_latency_log(_printed(batches[:1])).throughput() is None
    assert parse_latency_log([]).throughput() is None


def test_deepstream_spacing_and_log_prefixes() -> None:
    lines = [
        "2026-11-25T03:43:40.434Z [INFO] (Copier) app: stdout. ************BATCH-NUM = 7**************.",
        "2026-11-25T03:43:40.434Z [INFO] (Copier) app: stdout. Comp name = nvv4l2decoder0 "
        "in_system_timestamp = 1700000000000.100000 out_system_timestamp = 1700000000004.100000    "
        "component latency= 4.000000. {scriptName=services.app.lifecycle.Run}",
        "Source id = 3 Frame_num = 120 Frame latency = 61.250000 (ms) ",
    ]
    log = parse_latency_log(lines)
    (frame,) = log.frames
    assert (frame.source_id, frame.frame_num, frame.latency_ms, frame.batch) == (3, 120, 61.25, 7)
    (comp,) = log.components
    assert (comp.name, comp.latency_ms, comp.batch) == ("nvv4l2decoder0", 4.0, 7)
    assert comp.in_ms == pytest.approx(1700000000000.1)
