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

``package`` writes only ``--out/<name>.zip`` and ``--out/unpacked/<name>/``, and removes nothing
else: ``name`` is one plain file name (``..``, ``.``, a ``/`` or an empty name would put the
folder, and the replacing of it, outside ``unpacked/``). Both are built beside their place and
moved there at the end, so a build that fails half-way leaves the previous result as it was.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from harness.errors import DiagnosticReport, HarnessError, ValidationError
from harness.world_bounds import SECONDS_SCHEMA, SEED_SCHEMA, bound_hint
from harness.yamldoc import diagnostic, parse_mapping, plain, read_text, schema_errors

#: The ZIP epoch (DOS time cannot go before 1980); every entry gets it.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_RELATIVE_PATH = {"type": "string", "minLength": 1, "pattern": r"^(?!/)"}
#: One file name: not empty, no folder separator, not ``.`` or ``..``.
_NAME_PATTERN = r"^(?!\.{1,2}$)[A-Za-z0-9._-]+$"
_NAME_HINT = (
    "name is the ZIP's file name without .zip and the folder the device unpacks it into, "
    "e.g. 'package': letters, digits, '.', '_' and '-', not '.' or '..'"
)
# Linux limits one path component to 255 bytes; ``<name>.zip`` must fit.
_MAX_NAME = 251

ARTIFACT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "edge-harness component artifact",
    "type": "object",
    "additionalProperties": False,
    "required": ["layers"],
    "properties": {
        "name": {
            "type": "string",
            "pattern": _NAME_PATTERN,
            "maxLength": _MAX_NAME,
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
                            "seed": SEED_SCHEMA,
                            "seconds": SECONDS_SCHEMA,
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
    report = DiagnosticReport()
    for where, message in schema_errors(doc, ARTIFACT_SCHEMA):
        hint = _schema_hint(where, message)
        report.add(diagnostic(doc, file, where, _schema_message(where, message), hint=hint))
    if not report.ok:
        raise ValidationError(report, what=what)
    data = plain(doc)
    layers = []
    for index, layer in enumerate(data["layers"]):
        source = None
        if "source" in layer:
            source, problem = _resolve_source(spec_path.parent, layer["source"])
            if problem:
                report.add(
                    diagnostic(
                        doc,
                        file,
                        ["layers", index, "source"],
                        problem,
                        expected="a file or folder",
                        hint="paths are relative to the folder of the artifact spec",
                    )
                )
        target = layer.get("target", "")
        if ".." in Path(target).parts:
            report.add(
                diagnostic(
                    doc,
                    file,
                    ["layers", index, "target"],
                    "target must stay inside the artifact",
                    expected="a path inside the ZIP, without '..'",
                    hint="write the place inside the artifact, e.g. 'models' or 'configs/x.txt'",
                )
            )
        elif any(len(part.encode()) > 255 for part in PurePosixPath(target).parts):
            report.add(
                diagnostic(
                    doc,
                    file,
                    ["layers", index, "target"],
                    "a part of target is longer than 255 bytes",
                    expected="file names of at most 255 bytes",
                    hint="shorten the name: no file system of a device takes it",
                )
            )
        layers.append(Layer(source, target, layer.get("world")))
    if not report.ok:
        raise ValidationError(report, what=what)
    return ArtifactSpec(spec_path, data.get("name", "package"), tuple(layers), tuple(data.get("exclude", [])))


def _schema_message(where: list[str | int], message: str) -> str:
    """jsonschema's words, except where they would show a regular expression."""
    if "does not match" in message:
        value = message.split(" does not match ", 1)[0]
        if where == ["name"]:
            return f"name {value} is not a plain file name"
        return f"{value} is an absolute path"
    if where == ["name"] and "is too long" in message:
        return f"name is longer than {_MAX_NAME} characters"
    return message


def _schema_hint(where: list[str | int], message: str) -> str:
    """How to fix a schema finding, by where it is (the messages come from jsonschema)."""
    key = where[-1] if where else None
    if where == ["name"]:
        return _NAME_HINT
    if len(where) > 2 and where[2] == "world" and bound_hint(where):
        return bound_hint(where)
    if key in ("source", "target"):
        return "a path relative to the folder of the artifact spec, e.g. '../app' or 'models'"
    if "Additional properties" in message:
        if where and where[0] == "layers":
            return "a layer has source (and optionally target), or world and target"
        return "an artifact spec has name, layers and exclude"
    if "is not valid under any of the given schemas" in message:
        return "each layer has either source (a file or folder) or world with a target"
    if where and where[0] == "exclude":
        return "exclude is a list of file-name patterns such as '__pycache__' or '*.pyc'"
    return "the artifact spec format: docs/cli.md, edge-harness package"


def _resolve_source(base: Path, written: str) -> tuple[Path | None, str]:
    """(the source's real path, "" ) or (None, what is wrong with it)."""
    try:
        source = (base / written).resolve(strict=True)
    except FileNotFoundError:
        return None, f"{written} does not exist (resolved to {(base / written).absolute()})"
    except RuntimeError:  # pathlib's "Symlink loop" (Python 3.11)
        return None, f"{written} is a symbolic link that leads back to itself"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return None, f"{written} is a symbolic link that leads back to itself"
        if err.errno == errno.ENAMETOOLONG:
            return None, f"{written} has a part longer than 255 bytes"
        return None, f"{written} cannot be read: {err.strerror}"
    if not (source.is_file() or source.is_dir()):
        return None, f"{written} is not a regular file or folder (a FIFO, socket or device)"
    return source, ""


def _excluded(relative: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(part, p) for part in relative.parts for p in patterns)


def artifact_layout(spec: ArtifactSpec) -> dict[str, Path | None]:
    """Relative path in the artifact → the file that lands there (``None``: the world's clip).

    Layers apply in order, so a later layer's file replaces an earlier one at the same path.
    Only regular files are packaged; a symbolic link that leads nowhere, or in a loop, is an
    error (a device could not read it either).
    """
    layout: dict[str, Path | None] = {}
    for layer in spec.layers:
        destination = PurePosixPath(layer.target) if layer.target else PurePosixPath()
        if layer.world is not None:
            layout[str(destination)] = None
            continue
        assert layer.source is not None
        if layer.source.is_dir():
            for item in sorted(_files_under(layer.source, spec)):
                relative = item.relative_to(layer.source)
                if _excluded(relative, spec.exclude):
                    continue
                layout[str(destination / relative.as_posix())] = _real_file(item, spec)
        else:
            into_folder = not layer.target or layer.target.endswith("/")
            place = destination / layer.source.name if into_folder else destination
            layout[str(place)] = _real_file(layer.source, spec)
    return layout


def _files_under(folder: Path, spec: ArtifactSpec) -> list[Path]:
    """The files below ``folder``; links to folders are followed, a link back up is refused."""
    found: list[Path] = []
    pending: list[tuple[Path, frozenset[Path]]] = [(folder, frozenset({folder.resolve()}))]
    while pending:
        current, above = pending.pop()
        try:
            children = list(current.iterdir())
        except OSError as err:
            raise HarnessError(
                f"{spec.path}: cannot list {current}: {err.strerror}", hint="check the folder's permissions"
            ) from None
        for child in children:
            if _excluded(child.relative_to(folder), spec.exclude):
                continue
            if child.is_dir():
                real = _real_file(child, spec)
                if real in above:
                    raise HarnessError(
                        f"{spec.path}: {child} is a link to a folder that contains it (a loop)",
                        hint="remove the link, or exclude it with exclude:",
                    )
                pending.append((child, above | {real}))
            else:
                found.append(child)
    return found


def _real_file(item: Path, spec: ArtifactSpec) -> Path:
    try:
        real = item.resolve(strict=True)
    except (OSError, RuntimeError):
        raise HarnessError(
            f"{spec.path}: {item} is a broken symbolic link or one that leads back to itself",
            hint="fix or remove the link, or exclude it with exclude:",
        ) from None
    if not (real.is_file() or real.is_dir()):
        raise HarnessError(
            f"{spec.path}: {item} is not a regular file (a FIFO, socket or device)",
            hint="remove it from the source folder, or exclude it with exclude:",
        )
    return real


def _check_name(name: str) -> None:
    """The artifact's name is one file name; anything else would build (and replace) elsewhere."""
    if not re.fullmatch(_NAME_PATTERN, name) or len(name) > _MAX_NAME:
        raise HarnessError(f"artifact name {name!r} is not a plain file name", hint=_NAME_HINT)


def build_artifact(spec: ArtifactSpec | str | Path, out_dir: str | Path) -> Path:
    """Assemble the artifact folder ``out_dir/<name>/`` (replaced if it exists) and return it.

    The folder is built in a new folder beside it and renamed into place when complete: if
    anything fails, ``out_dir`` holds what it held before, plus nothing.
    """
    if not isinstance(spec, ArtifactSpec):
        spec = load_artifact_spec(spec)
    _check_name(spec.name)
    out = Path(out_dir)
    folder = out / spec.name
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise HarnessError(
            f"{folder} exists and is not a folder; it is left alone",
            hint=f"remove it, or choose another --out than {out}",
        )
    layout = artifact_layout(spec)
    worlds = {str(PurePosixPath(x.target)): x.world for x in spec.layers if x.world is not None}
    _make_dirs(out)
    building = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=out))
    try:
        for relative, source in layout.items():
            _copy_file(source if source is not None else _world_clip(worlds[relative]), building / relative)
        building.chmod(0o755)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{spec.name}.old.", dir=out))
            os.replace(folder, old / spec.name)
            os.replace(building, folder)
            shutil.rmtree(old)
        else:
            os.replace(building, folder)
    finally:
        if building.exists():
            shutil.rmtree(building)
    return folder


def _make_dirs(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise HarnessError(f"{folder} exists and is not a folder", hint="choose another --out") from None
    except OSError as err:
        raise HarnessError(
            f"cannot create {folder}: {err.strerror}", hint="check --out and its permissions"
        ) from None


def _copy_file(source: Path, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise HarnessError(
            f"cannot place file {source} at {target}: a file is where a folder of its path should be",
            hint="two layers put a file and a folder at the same path: rename one or change its target",
        ) from None
    if target.is_dir():
        raise HarnessError(
            f"cannot place file {source} at {target}: a folder of that name is already there",
            hint="two layers put a file and a folder at the same path: rename one or change its target",
        )
    try:
        shutil.copy2(source, target)
    except OSError as err:
        raise HarnessError(
            f"cannot copy {source} into the artifact: {err.strerror}", hint="check that the file is readable"
        ) from None


def _world_clip(params: dict[str, Any]) -> Path:
    from harness.world import WorldParams, sample_video

    return sample_video(
        params=WorldParams(seed=int(params.get("seed", 0)), seconds=float(params.get("seconds", 10))),
        codec=params.get("codec", "mp4v"),
    )


def zip_folder(folder: str | Path, zip_path: str | Path) -> Path:
    """ZIP ``folder``'s contents (no top-level folder inside), reproducibly; returns the ZIP path.

    The ZIP is written to a temporary file beside ``zip_path`` and renamed over it when complete.
    """
    source = Path(folder)
    target = Path(zip_path)
    _make_dirs(target.parent)
    if target.is_dir():
        raise HarnessError(
            f"{target} is a folder; it is left alone", hint="remove it or choose another --out"
        )
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for item in sorted(source.rglob("*")):
                if item.is_dir():
                    continue
                info = zipfile.ZipInfo(item.relative_to(source).as_posix(), date_time=_ZIP_TIME)
                mode = stat.S_IMODE(item.stat().st_mode)
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, item.read_bytes())
        Path(partial).chmod(0o644)
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package(spec_path: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """Build the folder and its ZIP (``out_dir/<name>.zip``); returns (folder, zip).

    Writes nothing but ``out_dir/unpacked/<name>/`` and ``out_dir/<name>.zip``.
    """
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
