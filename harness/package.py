"""Component artifacts: assemble a version's folder from layers, and zip it like a developer does.

A Greengrass component version ships a ZIP that the device unpacks into
``{artifacts:decompressedPath}/<zip name without .zip>/``. The traffic app's versions share
their code and most configs and differ in the model repository and a few files, so each
version describes its folder as layers (``artifact.yaml``) instead of keeping copies::

    # scenarios/traffic/components/nvds-awsgg-deployment/1.0.1/artifact.yaml
    name: package                       # package.zip → …/decompressedPath/package/
    layers:                             # in order; a later file replaces an earlier one
      - source: ../../../app            # a folder's contents, or one file (relative to this file)
      - source: ../../../../../models_repo/B
        target: models                  # a folder inside the artifact
      - world: {seed: 0, seconds: 10}   # the synthetic world's sample clip
        target: awsgg-example.mp4
      - source: msgconv_config.txt      # this version's own files
    exclude: ["__pycache__", "*.pyc"]

The ZIP is deterministic (sorted entries, fixed timestamps, Unix modes kept), so the same
inputs give the same bytes and the same SHA-256 in the recipe — rebuilding a version must not
change its digest, or a device would see a checksum mismatch.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import DiagnosticReport, HarnessError, ValidationError
from harness.yamldoc import diagnostic, parse_mapping, plain, read_text, validate

#: The ZIP epoch (DOS time cannot go before 1980); every entry gets it.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_RELATIVE_PATH = {"type": "string", "minLength": 1, "pattern": r"^(?!/)"}

ARTIFACT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "edge-harness component artifact",
    "type": "object",
    "additionalProperties": False,
    "required": ["layers"],
    "properties": {
        "name": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9._-]+$",
            "description": "ZIP name without .zip (the folder the device unpacks into)",
        },
        "layers": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "source": {**_RELATIVE_PATH, "description": "file or folder, relative to the spec"},
                    "target": {**_RELATIVE_PATH, "description": "where inside the artifact"},
                    "world": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "seed": {"type": "integer", "minimum": 0},
                            "seconds": {"type": "number", "exclusiveMinimum": 0},
                            "codec": {"enum": ["mp4v", "h264"]},
                        },
                    },
                },
                "oneOf": [{"required": ["source"]}, {"required": ["world", "target"]}],
            },
        },
        "exclude": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}


@dataclass(frozen=True)
class Layer:
    source: Path | None
    target: str
    world: dict[str, Any] | None


@dataclass(frozen=True)
class ArtifactSpec:
    path: Path
    name: str
    layers: tuple[Layer, ...]
    exclude: tuple[str, ...]


def load_artifact_spec(path: str | Path) -> ArtifactSpec:
    """Read and check ``artifact.yaml``: schema, then that every source exists."""
    spec_path = Path(path)
    file = str(spec_path)
    what = f"{file} is not a valid artifact spec"
    doc = parse_mapping(read_text(spec_path, "artifact spec"), file, what, expected="keys name, layers")
    validate(doc, ARTIFACT_SCHEMA, file, what)
    data = plain(doc)
    report = DiagnosticReport()
    layers = []
    for index, layer in enumerate(data["layers"]):
        source = None
        if "source" in layer:
            source = (spec_path.parent / layer["source"]).resolve()
            if not source.exists():
                report.add(
                    diagnostic(
                        doc,
                        file,
                        ["layers", index, "source"],
                        f"{layer['source']} does not exist (resolved to {source})",
                        hint="paths are relative to the folder of the artifact spec",
                    )
                )
        target = layer.get("target", "")
        if ".." in Path(target).parts:
            report.add(
                diagnostic(doc, file, ["layers", index, "target"], "target must stay inside the artifact")
            )
        layers.append(Layer(source, target, layer.get("world")))
    if not report.ok:
        raise ValidationError(report, what=what)
    return ArtifactSpec(spec_path, data.get("name", "package"), tuple(layers), tuple(data.get("exclude", [])))


def _excluded(relative: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(part, p) for part in relative.parts for p in patterns)


def artifact_layout(spec: ArtifactSpec) -> dict[str, Path | None]:
    """Relative path in the artifact → the file that lands there (``None``: the world's clip).

    Layers apply in order, so a later layer's file replaces an earlier one at the same path.
    """
    layout: dict[str, Path | None] = {}
    for layer in spec.layers:
        destination = PurePosixPath(layer.target) if layer.target else PurePosixPath()
        if layer.world is not None:
            layout[str(destination)] = None
            continue
        assert layer.source is not None
        if layer.source.is_dir():
            for item in sorted(layer.source.rglob("*")):
                relative = item.relative_to(layer.source)
                if item.is_dir() or _excluded(relative, spec.exclude):
                    continue
                layout[str(destination / relative.as_posix())] = item.resolve()
        else:
            into_folder = not layer.target or layer.target.endswith("/")
            place = destination / layer.source.name if into_folder else destination
            layout[str(place)] = layer.source.resolve()
    return layout


def build_artifact(spec: ArtifactSpec | str | Path, out_dir: str | Path) -> Path:
    """Assemble the artifact folder ``out_dir/<name>/`` (replaced if it exists) and return it."""
    if not isinstance(spec, ArtifactSpec):
        spec = load_artifact_spec(spec)
    folder = Path(out_dir) / spec.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    worlds = {str(PurePosixPath(x.target)): x.world for x in spec.layers if x.world is not None}
    for relative, source in artifact_layout(spec).items():
        _copy_file(source if source is not None else _world_clip(worlds[relative]), folder / relative)
    return folder


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        raise HarnessError(f"cannot place file {source} at {target}: a folder of that name is already there")
    shutil.copy2(source, target)


def _world_clip(params: dict[str, Any]) -> Path:
    from harness.world import WorldParams, sample_video

    return sample_video(
        params=WorldParams(seed=int(params.get("seed", 0)), seconds=float(params.get("seconds", 10))),
        codec=params.get("codec", "mp4v"),
    )


def zip_folder(folder: str | Path, zip_path: str | Path) -> Path:
    """ZIP ``folder``'s contents (no top-level folder inside), reproducibly; returns the ZIP path."""
    source = Path(folder)
    target = Path(zip_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for item in sorted(source.rglob("*")):
            if item.is_dir():
                continue
            info = zipfile.ZipInfo(item.relative_to(source).as_posix(), date_time=_ZIP_TIME)
            mode = stat.S_IMODE(item.stat().st_mode)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, item.read_bytes())
    return target


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package(spec_path: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """Build the folder and its ZIP (``out_dir/<name>.zip``); returns (folder, zip)."""
    spec = load_artifact_spec(spec_path)
    folder = build_artifact(spec, Path(out_dir) / "unpacked")
    archive = zip_folder(folder, Path(out_dir) / f"{spec.name}.zip")
    return folder, archive


__all__ = [
    "ARTIFACT_SCHEMA",
    "ArtifactSpec",
    "artifact_layout",
    "build_artifact",
    "file_sha256",
    "load_artifact_spec",
    "package",
    "zip_folder",
]
