"""What one app run measured, from the files it left: stats, latency lines and received messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_device.deepstream.measure import parse_latency_log
from harness.eval.pipeline_run import AppRun, expected_messages, input_uri

PROBE_MS = 1_800_000_000_000  # a probe time, ms since the epoch (2027-01-15T08:00:00Z)


def _log(frames: int, step_ms: float = 40.0) -> list[str]:
    """Latency lines as the app prints them: one batch per frame, the last element hands it on."""
    lines = []
    for n in range(frames):
        out = PROBE_MS + n * step_ms
        lines += [
            f"************BATCH-NUM = {n}**************",
            f"Comp name = nvv4l2decoder0 in_system_timestamp = {out - 50:f} "
            f"out_system_timestamp = {out - 45:f} component latency= 5.000000",
            f"Comp name = analytics in_system_timestamp = {out - 1:f} out_system_timestamp = {out:f} "
            "component latency= 1.000000",
            f"Source id = 0 Frame_num = {n} Frame latency = {50.0 + n:f} (ms) ",
        ]
    return lines


def _message(frame: int, probe_ms: int, received_ms: float) -> str:
    stamp = f"2027-01-15T08:00:{(probe_ms - PROBE_MS) / 1000:06.3f}Z"
    payload = {"version": "4.0", "id": str(frame), "@timestamp": stamp, "sensorId": "sensor-0", "objects": []}
    return json.dumps({"received_ns": int(received_ms * 1e6), "payload": payload})


def _run(tmp_path: Path, stats: dict, lines: list[str], messages: list[str]) -> AppRun:
    (tmp_path / "messages.jsonl").write_text("".join(m + "\n" for m in messages))
    return AppRun(
        command=["python3", "deepstream_app.py"],
        returncode=0,
        wall_seconds=9.0,
        log_path=tmp_path / "app.log",
        stats_path=tmp_path / "stats.json",
        messages_path=tmp_path / "messages.jsonl",
        messages_received=len(messages),
        stats=stats,
        latency=parse_latency_log(lines),
        pid=4242,
    )


def test_fps_comes_from_the_probe_times_and_messages_from_event_frames(tmp_path: Path) -> None:
    stats = {"frames": 11, "seconds": 3.0, "fps": 3.67, "frames_per_source": {"0": 11}, "events": 5}
    stats["event_frames"] = 2
    run = _run(tmp_path, stats, _log(11), [])
    # 10 frames after the first batch in 10 × 40 ms; the app's own 3 s include its shut-down
    assert run.fps == pytest.approx(25.0)
    doc = run.to_dict()
    assert doc["fps"] == 25.0 and doc["fps_source"] == "latency lines" and doc["stats_fps"] == 3.67
    assert doc["messages"] == {"expected": 2, "received": 0}
    assert doc["frame_latency_ms"]["count"] == 11 and doc["frame_latency_ms"]["p50"] == pytest.approx(55.0)
    assert list(doc["elements_ms"]) == ["nvv4l2decoder0", "analytics"]
    assert doc["elements_ms"]["nvv4l2decoder0"]["p50"] == pytest.approx(5.0)
    assert doc["pid"] == 4242


def test_without_latency_lines_the_app_figure_is_used(tmp_path: Path) -> None:
    run = _run(tmp_path, {"frames": 30, "fps": 12.5, "event_frames": 0}, ["**PERF:  {'stream0': 12.5}"], [])
    assert run.fps == 12.5 and run.fps_source == "stats"
    assert run.to_dict()["frame_latency_ms"] == {"count": 0}


def test_frame_to_kafka_adds_the_frames_latency_to_probe_to_consumer(tmp_path: Path) -> None:
    messages = [
        _message(frame=0, probe_ms=PROBE_MS, received_ms=PROBE_MS + 12.0),  # 50 + 12
        _message(frame=3, probe_ms=PROBE_MS + 120, received_ms=PROBE_MS + 120 + 8.0),  # 53 + 8
        _message(frame=99, probe_ms=PROBE_MS + 200, received_ms=PROBE_MS + 210.0),  # no latency line
    ]
    stats = {"frames": 4, "frames_per_source": {"0": 4}, "event_frames": 3}
    run = _run(tmp_path, stats, _log(4), messages)
    assert run.frame_to_kafka_ms() == pytest.approx([62.0, 61.0], abs=0.01)
    assert run.to_dict()["frame_to_kafka_ms"]["count"] == 2


def test_frame_to_kafka_is_undefined_with_several_streams(tmp_path: Path) -> None:
    stats = {"frames": 8, "frames_per_source": {"0": 4, "1": 4}, "event_frames": 1}
    run = _run(tmp_path, stats, _log(4), [_message(0, PROBE_MS, PROBE_MS + 5.0)])
    assert run.frame_to_kafka_ms() is None
    assert run.to_dict()["frame_to_kafka_ms"] is None


def test_expected_messages_are_the_frames_with_events_or_an_old_apps_deliveries() -> None:
    assert expected_messages({"event_frames": 4, "events": 9}) == 4
    assert expected_messages({"messages": {"sent": 3, "delivered": 2}}) == 2  # the Python-runtime app
    assert expected_messages({}) == 0


def test_inputs_are_file_uris_unless_they_are_uris_already(tmp_path: Path) -> None:
    assert input_uri(tmp_path / "a b.mp4") == (tmp_path / "a b.mp4").as_uri()
    assert input_uri("rtsp://127.0.0.1:8554/camera") == "rtsp://127.0.0.1:8554/camera"
    assert input_uri(str(tmp_path / "c.mp4")) == (tmp_path / "c.mp4").as_uri()
