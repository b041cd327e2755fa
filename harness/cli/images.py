"""``edge-harness images``: build, list and prune the docker backend's images (docs/containers.md)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from harness.cli import HarnessGroup
from harness.images import IMAGE_NAMES, ImageEvent, ensure_images
from harness.images.cache import images_cache
from harness.images.spec import DEFAULT_MIRROR, MIRROR_VARIABLE, ImagePlan, default_mirror

console = Console(stderr=True)
#: how much of the newest build-log line the progress display shows
LOG_LINE_WIDTH = 72


mirror_option = click.option(
    "--mirror",
    metavar="URL",
    help="Debian mirror of the base image (part of every tag) "
    f"[default: ${MIRROR_VARIABLE} or {DEFAULT_MIRROR}].",
)


@click.group(cls=HarnessGroup)
def images() -> None:
    """Docker images of the docker backend, built offline (no registry needed)."""


class BuildDisplay:
    """One line per image: a spinner and the newest build-log line while it builds, then the outcome.

    On a terminal it is a live rich display; otherwise (CI logs) one plain line per state change.
    """

    def __init__(self, out: Console) -> None:
        self.console = out
        self.live = out.is_terminal
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("[bold]{task.fields[image]:<8}[/]"),
            TextColumn("{task.description}"),
            console=out,
        )
        self.rows: dict[str, TaskID] = {}
        self.building: dict[str, str] = {}

    def __enter__(self) -> Self:
        if self.live:
            self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for name, ref in self.building.items():
            self._show(name, f"[red]failed[/] {ref}", done=True)
        if self.live:
            self.progress.stop()

    def event(self, event: ImageEvent) -> None:
        if event.kind == "log":
            if self.live and event.name in self.building:
                line = event.line.strip()
                if len(line) > LOG_LINE_WIDTH:
                    line = line[: LOG_LINE_WIDTH - 1] + "…"
                self._show(event.name, f"building {event.ref} [dim]{_escape(line)}[/]")
            return
        if event.kind == "building":
            self.building[event.name] = event.ref
            self._show(event.name, f"building {event.ref}")
        elif event.kind == "built":
            self.building.pop(event.name, None)
            self._show(event.name, f"built {event.ref} in {event.seconds:.0f} s", done=True)
        else:
            self._show(event.name, f"{event.kind} {event.ref}", done=True)

    def _show(self, name: str, text: str, *, done: bool = False) -> None:
        if not self.live:
            if "[dim]" not in text:
                self.console.print(f"{name:<8} {text}", highlight=False)
            return
        if name not in self.rows:
            self.rows[name] = self.progress.add_task(text, image=name, total=1)
        self.progress.update(self.rows[name], description=text, completed=1 if done else 0)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@images.command("build")
@click.argument("names", nargs=-1, type=click.Choice(IMAGE_NAMES))
@click.option(
    "--force",
    is_flag=True,
    help="Rebuild the named images even if present (the base with a fresh debootstrap).",
)
@mirror_option
def build(names: tuple[str, ...], force: bool, mirror: str | None) -> None:
    """Build the images NAMES (default: all) that are missing, and the images they are built on.

    Images: base, runtime, triton, kafka, aws, device. Logs go to the cache
    ($EDGE_HARNESS_CACHE/images/logs, default ~/.cache/edge-harness/images/logs).
    """
    selected = list(names) or list(IMAGE_NAMES)
    with BuildDisplay(console) as display:
        ensure_images(selected, force=force, mirror=mirror, events=display.event)
    if mirror and mirror.rstrip("/") != default_mirror():
        console.print(
            f"note: the mirror is part of every tag; set {MIRROR_VARIABLE}={mirror} so that the docker "
            "backend looks for these images (it would build its own from the default mirror)",
            highlight=False,
        )


@images.command("list")
@mirror_option
def list_command(mirror: str | None) -> None:
    """Show each image's current tag, whether the engine has it, its size and creation time."""
    from harness.images.engine import connect
    from harness.images.inventory import human_size, list_images

    rows = list_images(connect(), ImagePlan(mirror=mirror))
    table = Table(title=f"edge-harness images (cache: {images_cache()})", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("ref", no_wrap=True, min_width=len("edge-harness/runtime:") + 12)
    for column in ("present", "size", "created"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        ref = row.ref + (" [dim](override)[/]" if row.overridden else "")
        present = "[green]yes[/]" if row.present else "[yellow]no[/]"
        table.add_row(row.name, ref, present, human_size(row.size), row.created or "-")
    out = Console()
    if not out.is_terminal:  # a pipe or a CI log: rich would assume 80 columns and wrap the refs
        out = Console(width=120)
    out.print(table)


@images.command("prune")
@mirror_option
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
def prune(mirror: str | None, dry_run: bool) -> None:
    """Remove edge-harness images whose tag is not a current one (older sources, other mirrors).

    Images in use by a container, even a stopped one, are kept.
    """
    from harness.images.engine import connect
    from harness.images.inventory import prune_cache, prune_images

    plan = ImagePlan(mirror=mirror)
    result = prune_images(connect(), plan, dry_run=dry_run)
    files = prune_cache(plan, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for ref in result.removed:
        console.print(f"{verb} {ref}", highlight=False)
    for ref, why in result.kept:
        console.print(f"[yellow]kept[/] {ref}: {why}", highlight=False)
    if files:
        console.print(f"{verb} {len(files)} stale file(s) from {images_cache()}", highlight=False)
    if not result.removed and not result.kept and not files:
        console.print("nothing to remove: every edge-harness image is current", highlight=False)
