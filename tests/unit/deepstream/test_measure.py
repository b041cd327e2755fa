"""Latency and PERF measurement: DeepStream's line formats, what is recorded, the options."""

from __future__ import annotations

import re
import time

import pytest

from fake_device.deepstream.measure import (
    LatencyRecorder,
    PerfMeter,
    env_flag,
    parse_component_latency,
    percentile,
)
from fake_device.deepstream.meta import BatchMeta, FrameMeta


def quiet() -> LatencyRecorder:
    return LatencyRecorder(printer=lambda _t: None)


# -- latency measurement ------------------------------------------------------------------------


def test_latency_lines_follow_deepstream_format() -> None:
    printed: list[str] = []
    recorder = LatencyRecorder.from_environment(
        {"NVDS_ENABLE_LATENCY_MEASUREMENT": "1", "NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT": "1"},
        printer=printed.append,
    )
    frame = FrameMeta(source_id=2, frame_num=41, ntp_timestamp=0, source_frame_width=1, source_frame_height=1)
    frame.latency += [
        ("src_decoder", 10.000, 10.004),
        ("stream-muxer", 10.004, 10.005),
        ("pgie", 10.005, 10.025),
    ]
    latencies = recorder.measure(BatchMeta(frames=[frame]), out_time=10.030)
    assert latencies == pytest.approx([30.0])
    text = "".join(printed)
    assert "************BATCH-NUM = 0**************" in text
    assert re.search(r"Source id = 2 Frame_num = 41 Frame latency = 30\.0+ \(ms\)", text)
    comp = re.search(
        r"Comp name = pgie in_system_timestamp = ([\d.]+) out_system_timestamp = ([\d.]+) "
        r"component latency= ([\d.]+)",
        text,
    )
    assert comp is not None
    t_in, t_out, value = map(float, comp.groups())
    assert value == pytest.approx(20.0, abs=1e-3) and t_out - t_in == pytest.approx(20.0, abs=1e-3)
    # printed on the system clock in ms, as DeepStream prints it, not in monotonic seconds
    assert t_in == pytest.approx((time.time() - time.monotonic() + 10.005) * 1000, abs=50)
    assert re.search(r"Comp name = stream-muxer source_id = 2 pad_index = 2 frame_num = 41 ", text)
    summary = recorder.summary()
    assert summary["frame_latency_ms"]["count"] == 1
    assert summary["elements_ms"]["pgie"]["p50"] == pytest.approx(20.0, abs=1e-3)


def test_latency_is_recorded_but_not_printed_without_the_variables() -> None:
    printed: list[str] = []
    recorder = LatencyRecorder.from_environment({}, printer=printed.append)
    frame = FrameMeta(source_id=0, frame_num=0, ntp_timestamp=0, source_frame_width=1, source_frame_height=1)
    frame.latency.append(("d", 1.0, 1.001))
    recorder.measure(BatchMeta(frames=[frame]), out_time=1.010)
    assert printed == []
    assert recorder.summary()["frame_latency_ms"]["p50"] == pytest.approx(10.0)


def test_component_latency_needs_the_frame_variable_too() -> None:
    recorder = LatencyRecorder.from_environment({"NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT": "1"})
    assert not recorder.print_components and not recorder.print_frames


def test_batched_element_marks_count_once_per_batch() -> None:
    recorder = quiet()
    frames = []
    for s in range(4):
        f = FrameMeta(source_id=s, frame_num=0, ntp_timestamp=0, source_frame_width=1, source_frame_height=1)
        f.latency += [(f"src{s}_decoder", 1.0 + s / 1000, 1.002), ("pgie", 1.01, 1.03)]
        frames.append(f)
    recorder.measure(BatchMeta(frames=frames), out_time=1.05)
    assert recorder.element_ms["pgie"] == pytest.approx([20.0])
    assert len(recorder.frame_ms) == 4


def _frame(num: int, marks: list[tuple[str, float, float]]) -> BatchMeta:
    frame = FrameMeta(
        source_id=0, frame_num=num, ntp_timestamp=0, source_frame_width=1, source_frame_height=1
    )
    frame.latency += marks
    return BatchMeta(frames=[frame])


def test_print_every_prints_every_nth_batch_and_still_measures_all() -> None:
    printed: list[str] = []
    recorder = LatencyRecorder.from_environment(
        {
            "NVDS_ENABLE_LATENCY_MEASUREMENT": "1",
            "NVDS_ENABLE_COMPONENT_LATENCY_MEASUREMENT": "1",
            "EDGE_HARNESS_LATENCY_PRINT_EVERY": "3",
        },
        printer=printed.append,
    )
    assert recorder.print_every == 3
    for n in range(7):
        recorder.measure(_frame(n, [("dec", 1.0, 1.001), ("pgie", 1.001, 1.011)]), out_time=1.02)
    text = "".join(printed)
    # batches 0, 3 and 6 are printed: their BATCH-NUM, frame and component lines, nothing else
    assert re.findall(r"BATCH-NUM = (\d+)", text) == ["0", "3", "6"]
    assert re.findall(r"Frame_num = (\d+)", text) == ["0", "3", "6"]
    assert text.count("Comp name = pgie") == 3
    assert len(recorder.element_ms["pgie"]) == 7 and recorder.batches == 7


@pytest.mark.parametrize(("value", "every"), [("", 1), ("0", 1), ("-4", 1), ("x", 1), (" 30 ", 30)])
def test_print_every_falls_back_to_every_batch(value: str, every: int) -> None:
    recorder = LatencyRecorder.from_environment({"EDGE_HARNESS_LATENCY_PRINT_EVERY": value})
    assert recorder.print_every == every


def test_component_latency_lines_parse_back_in_pipeline_order() -> None:
    printed: list[str] = []
    recorder = LatencyRecorder(print_frames=True, print_components=True, printer=printed.append)
    for n in range(2):
        marks = [("stream-muxer", 1.0, 1.0005), ("primary-gie", 1.001, 1.021), ("tracker", 1.021, 1.023)]
        recorder.measure(_frame(n, marks), out_time=1.03)
    parsed = parse_component_latency("".join(printed).splitlines())
    assert list(parsed) == ["stream-muxer", "primary-gie", "tracker"]
    assert parsed["primary-gie"] == pytest.approx([20.0, 20.0], abs=1e-3)
    assert parsed["stream-muxer"] == pytest.approx([0.5, 0.5], abs=1e-3)  # its own line shape


def test_component_latency_parses_deepstream_spacing_and_nucleus_log_lines() -> None:
    lines = [
        # DeepStream's own output: runs of spaces from the backslash-continued format string
        "Comp name = nvinfer0    in_system_timestamp = 1700000000000.100000 "
        "out_system_timestamp = 1700000000012.600000    component latency= 12.500000",
        "Comp name = nvstreammux-stream-muxer source_id = 0 pad_index = 0 frame_num = 3 "
        "in_system_timestamp = 1.0 out_system_timestamp = 1.25 component_latency = 0.250000",
        # the same line as a Greengrass component log carries it (stdout of the app)
        "2026-11-25T03:43:40.434Z [INFO] (Copier) app: stdout. Comp name = nvinfer0 "
        "in_system_timestamp = 1.0 out_system_timestamp = 2.0 component latency= 1.000000. "
        "{scriptName=services.app.lifecycle.Run, serviceName=app, currentState=RUNNING}",
        "Source id = 0 Frame_num = 3 Frame latency = 40.000000 (ms)",
        "**PERF:  {'stream0': 29.97}",
    ]
    assert parse_component_latency(lines) == {
        "nvinfer0": [12.5, 1.0],
        "nvstreammux-stream-muxer": [0.25],
    }


@pytest.mark.parametrize(
    ("value", "on"), [("1", True), ("2", True), ("0", False), ("", False), ("yes", False)]
)
def test_env_flag_is_atoi_like(value: str, on: bool) -> None:
    assert env_flag({"X": value}, "X") is on


def test_percentile_interpolates_like_numpy() -> None:
    import numpy as np

    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


# -- PERF -------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_perf_lines_in_deepstream_app_style() -> None:
    clock, printed = FakeClock(), []
    meter = PerfMeter(2, interval=5.0, printer=printed.append, clock=clock)
    for _ in range(150):
        meter.tick(0)
        meter.tick(1)
        clock.now += 1 / 30
    clock.now += 0.01
    meter.poll()
    assert printed, "a line after 5 s"
    assert printed[0].startswith("\n**PERF:  FPS 0 (Avg)\tFPS 1 (Avg)\t\n**PERF:  ")
    values = re.findall(r"([\d.]+) \(([\d.]+)\)\t", printed[0])
    assert len(values) == 2
    assert float(values[0][0]) == pytest.approx(30.0, rel=0.02)


def test_perf_lines_in_python_style_and_disabled() -> None:
    clock, printed = FakeClock(), []
    meter = PerfMeter(1, interval=1.0, style="python", printer=printed.append, clock=clock)
    for _ in range(20):
        meter.tick(0)
        clock.now += 0.1
    match = re.fullmatch(r"\n\*\*PERF:  \{'stream0': ([\d.]+)\} \n\n", printed[0])
    assert match is not None, printed[0]
    assert float(match.group(1)) == pytest.approx(10.0, rel=0.15)
    silent = PerfMeter(1, interval=1.0, enabled=False, printer=printed.append, clock=clock)
    before = len(printed)
    for _ in range(20):
        silent.tick(0)
        clock.now += 0.1
    assert len(printed) == before and silent.summary()["sources"][0]["frames"] == 20


def test_perf_rejects_unknown_style() -> None:
    with pytest.raises(ValueError, match="perf style must be one of deepstream-app, python"):
        PerfMeter(1, style="gst")
