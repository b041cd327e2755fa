"""``edge-harness world``: generate synthetic traffic video with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from harness.cli import HarnessGroup
from harness.world import CLASS_NAMES, CODECS, World, WorldParams, prepare_output, write_world


@click.group(cls=HarnessGroup)
def world() -> None:
    """Synthetic traffic camera: MP4 video plus MOT-style ground truth and analytics truth."""


@world.command("make")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and options, same bytes.")
@click.option("--seconds", type=float, help="Length of the video (default: the preset's).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for video.mp4, gt.txt, truth.json and seqinfo.ini (created if missing).",
)
@click.option(
    "--preset", default="highway", show_default=True, help="Preset name, or a path to a preset .yaml."
)
@click.option("--fps", type=float, help="Frames per second (default: the preset's).")
@click.option("--width", type=int, help="Frame width in pixels (default: the preset's).")
@click.option("--height", type=int, help="Frame height in pixels (default: the preset's).")
@click.option(
    "--codec", type=click.Choice(CODECS), default="mp4v", show_default=True, help="h264 needs ffmpeg."
)
@click.option("--no-noise", is_flag=True, help="No sensor noise.")
@click.option("--shake", is_flag=True, help="Camera shake (ground truth follows it).")
def make(
    seed: int,
    seconds: float | None,
    out_dir: Path,
    preset: str,
    fps: float | None,
    width: int | None,
    height: int | None,
    codec: str,
    no_noise: bool,
    shake: bool,
) -> None:
    """Render a traffic video and its ground truth into --out."""
    params = WorldParams(
        seed=seed,
        seconds=seconds,
        preset=preset,
        fps=fps,
        width=width,
        height=height,
        noise=not no_noise,
        shake=shake,
    )
    the_world = World(params)
    prepare_output(out_dir, codec)
    err = Console(stderr=True)
    with Progress(
        TextColumn("[bold]rendering[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        bar = progress.add_task("render", total=the_world.frame_count)
        result = write_world(the_world, out_dir, codec=codec, on_frame=lambda _frame: progress.advance(bar))

    truth = result.truth
    out = Console()
    out.print(
        f"[bold]{result.frame_count}[/] frames of {the_world.width}x{the_world.height} "
        f"at {the_world.fps:g} fps ({the_world.seconds:g} s), preset {the_world.preset.name}, "
        f"seed {seed}, codec {codec}; {result.render_ms_per_frame:.1f} ms/frame",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(title=None, show_edge=False)
    table.add_column("class")
    table.add_column("vehicles", justify="right")
    table.add_column(f"ROI {truth['roi']['label']} entries", justify="right")
    table.add_column(f"inbound crossings ({truth['line']['label']})", justify="right")
    for name in CLASS_NAMES:
        table.add_row(
            name,
            str(truth["vehicles_per_class"][name]),
            str(truth["roi"]["per_class"][name]),
            str(truth["line"]["per_class"][name]),
        )
    table.add_row(
        "total",
        str(len(truth["vehicles"])),
        str(len(truth["roi"]["entered_ids"])),
        str(len(truth["line"]["inbound_ids"])),
        style="bold",
    )
    out.print(table)
    for key in ("video", "gt", "truth"):
        out.print(f"{key}: {result.paths[key]}", highlight=False, soft_wrap=True)
    out.print(f"frames sha256: {result.frames_sha256}", highlight=False)
