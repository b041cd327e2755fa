"""``edge-harness eval pipeline --run``: the traffic app run end to end on a held-out world and scored.

One short seed goes through the real chain — world rendering, the 1.0.1 artifact (detector B)
built and started as a subprocess, its own tritonserver, a tansu broker, a consumer thread — and
the command's table, JSON and exit code are checked against each other. The error cases are the
ones a user meets first: a training seed, a component version that does not exist, a mix of run
and scoring options. Nothing may be left running afterwards.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import HarnessError
from harness.eval.pipeline_run import COMPONENTS_DIR, run_pipeline_eval

SEED, SECONDS = 2003, 6  # held out: detector training used seeds 1000-1999


def _leftovers(marker: str) -> list[str]:
    """Processes whose command line mentions ``marker`` (a run folder unique to this test)."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def test_run_scores_one_seed_and_exit_code_follows_the_goals(tmp_path: Path) -> None:
    out, report = tmp_path / "run", tmp_path / "report" / "run.json"
    args = [
        "eval", "pipeline", "--run", "--component-version", "1.0.1", "--seeds", str(SEED),
        "--seconds", str(SECONDS), "--out", str(out), "--json", str(report),
        "--min-mota", "0.5", "--max-count-error", "0.5",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert report.is_file(), result.output
    document = json.loads(report.read_text())
    assert result.exit_code == (0 if document["passed"] else 1), result.output
    if not document["passed"]:
        assert "goal missed" in result.output

    assert document["seeds"] == [SEED] and document["component_version"] == "1.0.1"
    (run,) = document["runs"]
    app = run["app"]
    assert app["frames"] == SECONDS * 30
    # one minimal-schema message per frame that got events, all of them through Kafka
    assert app["messages"]["received"] == app["messages"]["expected"] >= 1
    assert app["events"] >= app["messages"]["expected"]
    # latency from the app's own lines, every frame: decoder input → the probe, and per element
    assert app["frame_latency_ms"]["count"] == SECONDS * 30
    assert list(app["elements_ms"])[:2] == ["nvv4l2decoder0", "nvstreammux-streammux"]
    assert {"primary-gie", "tracker", "analytics"} <= set(app["elements_ms"])
    assert app["frame_latency_ms"]["p50"] > app["elements_ms"]["primary-gie"]["p50"] > 0
    assert app["fps_source"] == "latency lines" and app["fps"] > 0
    # frame → Kafka for every message: its frame's latency line + probe → consumer
    assert app["frame_to_kafka_ms"]["count"] == app["messages"]["received"]
    assert app["frame_to_kafka_ms"]["p50"] > 0
    mota = run["score"]["tracking"]["mota"]
    assert 0.0 <= mota <= 1.0
    aggregate = document["aggregate"]
    assert math.isclose(aggregate["mota"], mota, abs_tol=1e-3), "one seed: the aggregate is that seed"
    assert 0.0 <= aggregate["idf1"] <= 1.0
    assert math.isclose(aggregate["idf1"], run["score"]["tracking"]["idf1"], abs_tol=1e-3)
    assert {goal["name"] for goal in document["goals"]} >= {"MOTA", "count error (tracks)"}
    assert document["passed"] == all(goal["met"] for goal in document["goals"])

    # the table names the seed and the aggregate; files are kept under --out
    assert str(SEED) in result.output and "MOTA" in result.output and "all" in result.output
    run_dir = out / "runs" / f"seed-{SEED}"
    for name in ("tracks.txt", "messages.jsonl", "stats.json", "app.log", "score.json"):
        assert (run_dir / name).is_file(), name
    first = json.loads((run_dir / "messages.jsonl").read_text().splitlines()[0])
    assert set(first) == {"received_ns", "payload"} and "@timestamp" in first["payload"]
    assert not _leftovers(str(out)), "the app is still running"
    # the tritonserver nvinferserver started names the app's pid in its shared-memory prefix
    assert not _leftovers(f"eh_triton_{app['pid']}_"), "the app's tritonserver is still running"


def test_goal_out_of_reach_exits_1_and_temporary_files_are_removed(tmp_path: Path) -> None:
    """MOTA can never exceed 1, so --min-mota 1.01 must fail the run; without --out nothing is kept."""
    report = tmp_path / "run.json"
    args = ["eval", "pipeline", "--run", "--component-version", "1.0.1", "--seeds", str(SEED)]
    result = CliRunner().invoke(main, [*args, "--seconds", "3", "--min-mota", "1.01", "--json", str(report)])
    assert result.exit_code == 1, result.output
    assert "goal missed: MOTA" in result.output
    document = json.loads(report.read_text())
    assert document["passed"] is False and document["files_kept"] is False
    assert not Path(document["runs"][0]["run_dir"]).exists(), "the temporary folder is removed"


def test_training_seed_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(
        main, ["eval", "pipeline", "--run", "--component-version", "1.0.1", "--seeds", "1500"]
    )
    assert result.exit_code == 1
    assert "reserved for training" in result.output and "--allow-training-seeds" in result.output


def test_unknown_component_version_names_the_folder() -> None:
    result = CliRunner().invoke(main, ["eval", "pipeline", "--run", "--component-version", "9.9.9"])
    assert result.exit_code == 1
    assert "component version '9.9.9' not found" in result.output
    assert str(COMPONENTS_DIR) in result.output.replace("\n", "")
    assert "1.0.1" in result.output, "the versions that exist are listed"
    with pytest.raises(HarnessError, match=r"9\.9\.9"):
        run_pipeline_eval(component_version="9.9.9", seeds=[SEED])


def test_run_and_scoring_options_do_not_mix(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["eval", "pipeline", "--run", "--truth", str(tmp_path)])
    assert result.exit_code == 2 and "--run makes its own run: --truth" in result.output
    result = runner.invoke(main, ["eval", "pipeline", "--run"])
    assert result.exit_code == 2 and "--component-version VERSION or --artifact SPEC" in result.output
    result = runner.invoke(main, ["eval", "pipeline", "--truth", str(tmp_path), "--seeds", "2003"])
    assert result.exit_code == 2 and "--seeds only with --run" in result.output
    result = runner.invoke(main, ["eval", "pipeline"])
    assert result.exit_code == 2 and "give --truth DIR" in result.output
    result = runner.invoke(
        main, ["eval", "pipeline", "--run", "--artifact", str(tmp_path / "nope.yaml"), "--seeds", "2003"]
    )
    assert result.exit_code == 1 and "nope.yaml does not exist" in result.output
