"""``edge-harness package``: assemble a component version's artifact folder and ZIP."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from harness.package import file_sha256, package


@click.command("package")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for <name>.zip and the unpacked folder (unpacked/<name>/).",
)
def package_command(spec: Path, out_dir: Path) -> None:
    """Build the artifact described by SPEC (an artifact.yaml) and zip it reproducibly."""
    folder, archive = package(spec, out_dir)
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    console = Console()
    console.print(f"{archive}  {archive.stat().st_size / 1e6:.1f} MB, {files} files")
    console.print(f"sha256 {file_sha256(archive)}")
