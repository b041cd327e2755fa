"""What the engine holds of edge-harness's images: listing them, and removing stale ones.

Images are found by their ``edge-harness.image`` label, never by name, so ``prune`` cannot touch
an image edge-harness did not build.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.images.engine import inspect_image
from harness.images.spec import DEPENDENCIES_IMAGE, IMAGE_NAMES, LABEL_IMAGE, ImagePlan, override

if TYPE_CHECKING:
    import docker


@dataclass(frozen=True)
class ImageRow:
    """One image as ``images list`` shows it."""

    name: str
    ref: str
    present: bool
    size: int | None = None  # bytes
    created: str = ""  # "YYYY-MM-DD HH:MM" (UTC, as the engine reports it)
    overridden: bool = False


def current_refs(plan: ImagePlan) -> set[str]:
    """Every tag the current sources and settings call for (the dependencies image's included)."""
    refs = {plan.ref(name) for name in IMAGE_NAMES}
    refs.add(plan.ref(DEPENDENCIES_IMAGE))
    return refs


def list_images(client: docker.DockerClient, plan: ImagePlan) -> list[ImageRow]:
    rows = []
    for name in IMAGE_NAMES:
        ref = plan.ref(name)
        info = inspect_image(client, ref)
        if info is None:
            rows.append(ImageRow(name, ref, False, overridden=override(name) is not None))
            continue
        rows.append(
            ImageRow(
                name,
                ref,
                True,
                size=int(info.get("Size", 0)),
                created=str(info.get("Created", ""))[:16].replace("T", " "),
                overridden=override(name) is not None,
            )
        )
    return rows


@dataclass(frozen=True)
class PruneResult:
    removed: list[str]  # tags, or short ids of untagged images
    kept: list[tuple[str, str]]  # (tag or id, why) for what the engine refused to remove


def prune_images(
    client: docker.DockerClient,
    plan: ImagePlan,
    *,
    dry_run: bool = False,
    labels: Mapping[str, str] | None = None,
) -> PruneResult:
    """Remove every tag of an edge-harness-labelled image that is not a current tag.

    An image whose tags are all stale goes with its last tag; a stale tag on an image that also
    carries a current one is only untagged. Untagged labelled images (left by a forced rebuild) go
    too. The engine refuses to remove an image a container still uses (even a stopped one): that
    is reported as kept, not forced, so no container loses its image. ``labels`` narrows the
    selection to images that also carry these labels.
    """
    from docker.errors import APIError, NotFound

    keep = current_refs(plan)
    selector = [LABEL_IMAGE, *(f"{key}={value}" for key, value in (labels or {}).items())]
    removed: list[str] = []
    kept: list[tuple[str, str]] = []
    for image in client.images.list(filters={"label": selector}):
        # (what to remove, how to show it): an untagged image is removed by its full id
        targets = [(tag, tag) for tag in image.tags if tag not in keep]
        if not image.tags:
            targets = [(image.id, f"untagged {image.short_id.removeprefix('sha256:')}")]
        for target, shown in targets:
            if dry_run:
                removed.append(shown)
                continue
            try:
                client.images.remove(target)
            except NotFound:
                continue
            except APIError as err:
                kept.append((shown, str(getattr(err, "explanation", "") or err)))
                continue
            removed.append(shown)
    return PruneResult(removed, kept)


def prune_cache(plan: ImagePlan, *, dry_run: bool = False) -> list[Path]:
    """Remove cache files no current image needs: build logs of other tags, root filesystems of
    other base inputs, wheelhouses of other dependency lists. Returns what was (or would be) removed.
    """
    from harness.images.cache import logs_dir, rootfs_dir, wheelhouses_dir
    from harness.images.rootfs import tarball_path
    from harness.images.wheelhouse import dependencies_key

    current_tags = {ref.rsplit(":", 1)[-1] for ref in current_refs(plan)}
    stale: list[Path] = []
    stale += [
        log for log in sorted(logs_dir().glob("*.log")) if log.stem.rsplit("-", 1)[-1] not in current_tags
    ]
    tarball = tarball_path(plan.spec("base"))
    stale += [t for t in sorted(rootfs_dir().glob("*.tar")) if t != tarball]
    house = f"deps-{dependencies_key(plan.project_root)[:16]}"
    stale += [h for h in sorted(wheelhouses_dir().glob("deps-*")) if h.is_dir() and h.name != house]
    if not dry_run:
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return stale


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "kB") else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
