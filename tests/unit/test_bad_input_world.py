"""Worlds on bad input: a world preset, a scenario's world: and an artifact spec's world layer
that ask for more than the world's generator renders fail `edge-harness lint` (and their loaders)
at the line of the value, with the generator's own bound, not later when the video is rendered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import main
from harness.errors import HarnessError, ValidationError
from harness.package import load_artifact_spec
from harness.world import WorldParams
from harness.world.presets import PRESET_DIR, load_preset
from harness.world.world import World

pytestmark = pytest.mark.unit

HIGHWAY = (PRESET_DIR / "highway.yaml").read_text()
SCENARIO = """name: long-world
devices:
  - name: jetson
    thing_group: cams
steps:
  - kind: sleep
    seconds: 1
world:
  seed: {seed}
  seconds: {seconds}
"""
ARTIFACT = """name: package
layers:
  - world:
      seed: {seed}
      seconds: {seconds}
    target: clip.mp4
"""


def _lint(*args: str) -> Result:
    return CliRunner().invoke(main, ["lint", *args])


def _preset(tmp_path: Path, seconds: str) -> Path:
    text = HIGHWAY.replace("\n  seconds: ", f"\n  seconds: {seconds} #", 1)
    assert text != HIGHWAY
    path = tmp_path / "long.yaml"
    path.write_text(text)
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_the_generator_refuses_more_than_an_hour() -> None:
    """The bound the files are checked against is the one the generator enforces."""
    with pytest.raises(HarnessError, match=re.escape("seconds must be at most 3600, got 3600.5")):
        World(WorldParams(seconds=3600.5))
    with pytest.raises(HarnessError, match=re.escape("seed must be an integer from 0 to 2**63-1")):
        World(WorldParams(seed=2**63))


def test_a_preset_whose_default_is_too_long_fails_lint_at_its_line(tmp_path: Path) -> None:
    path = _preset(tmp_path, "4000")
    result = _lint(str(tmp_path))
    assert result.exit_code == 1, result.output
    line = _line_of(path, "seconds: 4000")
    assert f"{path}:{line}:3: error: at /defaults/seconds: 4000 is greater than the maximum of 3600" in (
        result.output
    )
    assert "hint: a world is at most 3600 seconds long: generate several shorter videos" in result.output
    assert "(world 1)" in result.output
    with pytest.raises(ValidationError, match="4000 is greater than the maximum of 3600"):
        load_preset(path)


def test_a_preset_at_the_bound_and_the_shipped_one_pass_lint(tmp_path: Path) -> None:
    _preset(tmp_path, "3600")
    result = _lint(str(tmp_path), str(PRESET_DIR))
    assert result.exit_code == 0, result.output
    assert "(world 2)" in result.output


@pytest.mark.parametrize(
    ("seed", "seconds", "needle", "message"),
    [
        (0, 4000, "seconds: 4000", "at /world/seconds: 4000 is greater than the maximum of 3600"),
        (2**64, 10, "seed: 1844", f"at /world/seed: {2**64} is greater than the maximum of {2**63 - 1}"),
    ],
)
def test_a_scenario_world_past_the_bounds_fails_lint_at_its_line(
    tmp_path: Path, seed: int, seconds: int, needle: str, message: str
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(seed=seed, seconds=seconds))
    result = _lint("scenario", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}:{_line_of(path, needle)}:3: error: {message}" in result.output, result.output


@pytest.mark.parametrize(
    ("seed", "seconds", "needle", "message"),
    [
        (0, 4000, "seconds: 4000", "at /layers/0/world/seconds: 4000 is greater than the maximum of 3600"),
        (2**64, 10, "seed: 1844", f"at /layers/0/world/seed: {2**64} is greater than the maximum of"),
    ],
)
def test_an_artifact_world_past_the_bounds_fails_lint_at_its_line(
    tmp_path: Path, seed: int, seconds: int, needle: str, message: str
) -> None:
    path = tmp_path / "artifact.yaml"
    path.write_text(ARTIFACT.format(seed=seed, seconds=seconds))
    with pytest.raises(ValidationError) as err:
        load_artifact_spec(path)
    assert f"{path}:{_line_of(path, needle)}:7: error: {message}" in str(err.value), str(err.value)
    result = _lint(str(path))
    assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize(("key", "odd"), [("width", 1281), ("height", 721)])
def test_a_preset_with_an_odd_frame_size_fails_lint_at_its_line(tmp_path: Path, key: str, odd: int) -> None:
    """H.264 (4:2:0) and the generator take only even frame sizes: the preset is refused at load."""
    text = HIGHWAY.replace(f"\n  {key}: ", f"\n  {key}: {odd} #", 1)
    assert text != HIGHWAY
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    result = _lint(str(tmp_path))
    assert result.exit_code == 1, result.output
    line = _line_of(path, f"{key}: {odd}")
    assert f"{path}:{line}:3: error: at /frame/{key}: {odd} is not a multiple of 2" in result.output
    assert "hint: a frame side is an even number of pixels" in result.output
    with pytest.raises(ValidationError, match=f"{odd} is not a multiple of 2"):
        load_preset(path)


def test_the_generator_refuses_an_odd_frame_size_with_the_same_bound() -> None:
    with pytest.raises(HarnessError, match="width must be an even number of pixels from 64 to 7680, got 65"):
        World(WorldParams(width=65))


def test_seed_lists_are_bounded_by_the_worlds_seed_bound() -> None:
    from harness.eval.run import parse_seeds
    from harness.world_bounds import MAX_SEED

    assert parse_seeds(f"{MAX_SEED - 1}-{MAX_SEED}") == [MAX_SEED - 1, MAX_SEED]
    with pytest.raises(HarnessError, match=re.escape(f"seed {MAX_SEED + 1} is too large")):
        parse_seeds(str(MAX_SEED + 1))
