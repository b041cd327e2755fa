"""Tell which kind of input a file or folder is, from its content.

``edge-harness lint PATH…`` is pointed at whole project trees, where names say little: the seed's
nvinferserver config is protobuf text named ``*.yml``, nvinfer, nvdsanalytics, msgconv and
deepstream-app configs are all ``*.txt`` key files, recipes and scenarios are both YAML. So each
file is classified by what it holds (top-level keys, key-file groups, protobuf messages), and a
file that matches nothing is skipped rather than reported: lint must never fail on a README.

A config with a byte that is not UTF-8 (or a NUL) is still classified when its name says it is a
text config (``.txt``, ``.yml``, ...), so that its checker reports the byte; skipping it would pass
a file the device cannot read. FIFOs, sockets and devices are never opened (a FIFO blocks).
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.yamldoc import YamlLimitError, check_yaml

RECIPE = "recipe"
SCENARIO = "scenario"
ARTIFACT = "artifact"
WORLD = "world"
MODEL_REPOSITORY = "model-repository"
NVINFERSERVER = "nvinferserver"
NVINFER = "nvinfer"
NVDSANALYTICS = "nvdsanalytics"
MSGCONV = "msgconv"
MSGBROKER = "msgbroker"
TRACKER = "tracker"
DEEPSTREAM_APP = "deepstream-app"

#: Every kind :func:`classify` returns, in the order the summary lists them.
KINDS = (
    RECIPE,
    SCENARIO,
    ARTIFACT,
    WORLD,
    MODEL_REPOSITORY,
    NVINFERSERVER,
    NVINFER,
    NVDSANALYTICS,
    MSGCONV,
    MSGBROKER,
    TRACKER,
    DEEPSTREAM_APP,
)

#: Triton's per-model config; a folder whose subfolders hold one is a model repository.
MODEL_CONFIG = "config.pbtxt"

# Configs are small text files; anything bigger (a model, a video) is not read in full.
_MAX_BYTES = 1 << 20
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})
# Names of text configs: read even when a byte is not UTF-8, so that the checker reports it.
_TEXT_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".txt", ".cfg", ".conf", ".config", ".ini", ".pbtxt"})

_INFER_CONFIG = re.compile(r"^[ \t]*infer_config[ \t]*\{", re.MULTILINE)
_MODEL_NAME = re.compile(r"""^[ \t]*name[ \t]*:[ \t]*["']([^"']*)["']""", re.MULTILINE)
_GROUP = re.compile(r"\[([^\[\]]+)\]")
# A top-level YAML key (column 0), used when the file does not parse (a broken file is still
# recognised, so that its checker can say what is wrong with it).
_YAML_KEY = re.compile(r"""^(["']?)([A-Za-z_][\w.-]*)\1[ \t]*:(?:[ \t]|\r?$)""", re.MULTILINE)
_JSON_KEY = re.compile(r'"([A-Za-z_]\w*)"\s*:')
_MSGCONV_GROUP = re.compile(r"(sensor|place|analytics)\d+")
_ANALYTICS_PREFIXES = (
    "roi-filtering-stream-",
    "line-crossing-stream-",
    "overcrowding-stream-",
    "direction-detection-stream-",
)
_NVINFER_KEYS = frozenset({"onnx-file", "model-engine-file", "net-scale-factor"})
# Sections of a world preset (harness/world/presets.py); any three of them make one.
_WORLD_SECTIONS = frozenset(
    {"frame", "camera", "road", "scene", "props", "classes", "traffic", "analytics", "defaults"}
)
_TRACKER_SECTIONS = frozenset({"BaseConfig", "TargetManagement", "DataAssociator", "StateEstimator"})


def is_model_repository(path: Path) -> bool:
    """A folder with at least one model folder in it (see :func:`is_model_folder`)."""
    if not path.is_dir():
        return False
    try:
        return any(is_model_folder(child) for child in path.iterdir())
    except OSError:
        return False


def is_model_folder(path: Path) -> bool:
    """A Triton model folder: ``config.pbtxt`` plus a numeric version folder or a matching name.

    ``config.pbtxt`` alone is not enough: a component folder may hold one next to its recipe
    as a file the package puts into a repository later, and linting that folder as a model
    repository would report errors that are not there.
    """
    if not (path / MODEL_CONFIG).is_file():
        return False
    if any(child.is_dir() and child.name.isdigit() for child in path.iterdir()):
        return True
    text = _read_text(path / MODEL_CONFIG) or ""
    match = _MODEL_NAME.search(text)
    return match is not None and match.group(1) == path.name


def classify(path: str | Path) -> str | None:
    """The kind of input ``path`` is (one of :data:`KINDS`), or None when it is none of them.

    Folders are model repositories or nothing (their files are classified one by one). Files
    are read as text; binary, unreadable or very large files are None.
    """
    path = Path(path)
    if path.is_dir():
        return MODEL_REPOSITORY if is_model_repository(path) else None
    text = _read_text(path)
    if text is None:
        return None
    return classify_text(text)


def classify_text(text: str) -> str | None:
    """:func:`classify` on content already read (the name plays no part)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        kind = _structured_kind(_json_keys(stripped))
        if kind is not None:
            return kind
    if _INFER_CONFIG.search(text):
        return NVINFERSERVER
    kind = _structured_kind(_yaml_keys(text))
    if kind is not None:
        return kind
    return _key_file_kind(key_file_groups(text))


def unrecognised_reason(path: str | Path) -> str | None:
    """Why an unclassified file still deserves a warning, or None when skipping it is right.

    A ``.pbtxt`` outside a model repository is a Triton model config (or protobuf text) that
    nothing here checks; a key file with a ``[property]`` group is a DeepStream plugin config
    that matched no known plugin (say an nvinfer config without onnx-file). Both usually mean
    the file is not checked where the user expects it to be.
    """
    path = Path(path)
    if path.is_dir() or classify(path) is not None:
        return None
    if path.suffix.lower() == ".pbtxt":
        return "a .pbtxt file outside a Triton model repository"
    text = _read_text(path)
    if text is not None and "property" in key_file_groups(text):
        return "a key file with [property] that matches no known DeepStream plugin config"
    return None


def walk(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every input under ``paths``, in a stable order, each once.

    Folders are walked (hidden folders and ``__pycache__`` skipped); a model repository is
    yielded as the folder, not its files, because it is checked as a whole. Paths named
    explicitly are always yielded, even hidden ones or ones that do not exist (the caller
    reports those).
    """
    seen: set[Path] = set()
    for given in paths:
        yield from _walk(Path(given), seen, top=True)


def _identity(path: Path) -> Path:
    """Where ``path`` leads, for visiting each file once; a link loop or a broken link is its own
    identity (two broken links to one missing file are two findings, not one)."""
    if path.is_symlink() and not path.exists():
        return path.absolute()
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: pathlib's "Symlink loop" (Python 3.11)
        return path.absolute()


def _walk(path: Path, seen: set[Path], *, top: bool) -> Iterator[Path]:
    key = _identity(path)
    if key in seen:
        return
    seen.add(key)
    if not path.is_dir() or is_model_repository(path):
        yield path
        return
    if not top and (path.name.startswith(".") or path.name in _SKIPPED_DIRS):
        return
    try:
        children = sorted(path.iterdir(), key=lambda child: child.name)
    except OSError:
        yield path
        return
    for child in children:
        if child.is_dir():
            yield from _walk(child, seen, top=False)
        elif not child.name.startswith("."):
            key = _identity(child)
            if key not in seen:
                seen.add(key)
                yield child


def key_file_groups(text: str) -> dict[str, set[str]]:
    """Group name → keys of a GLib key file (``[group]`` lines, ``key=value`` lines).

    Lenient on purpose: classification must work on broken files too; the real loaders report
    what is wrong.
    """
    groups: dict[str, set[str]] = {}
    current: set[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        match = _GROUP.fullmatch(line)
        if match:
            current = groups.setdefault(match.group(1).strip(), set())
        elif current is not None and "=" in line:
            current.add(line.split("=", 1)[0].strip())
    return groups


def _key_file_kind(groups: dict[str, set[str]]) -> str | None:
    if not groups:
        return None
    names = set(groups)
    if "application" in names or {"source0", "sink0"} <= names:
        return DEEPSTREAM_APP
    if "property" in names:
        if any(name.startswith(_ANALYTICS_PREFIXES) for name in names):
            return NVDSANALYTICS
        if groups["property"] & _NVINFER_KEYS:
            return NVINFER
    if any(_MSGCONV_GROUP.fullmatch(name) for name in names):
        return MSGCONV
    if "message-broker" in names:
        return MSGBROKER
    return None


def _structured_kind(keys: set[str] | None) -> str | None:
    """Recipe, scenario, artifact spec, world preset or tracker config from a mapping's top-level keys."""
    if not keys:
        return None
    # the recipe loader matches keys ignoring case, so classification does too
    lower = {key.lower() for key in keys}
    if "recipeformatversion" in lower or {"componentname", "manifests"} <= lower:
        return RECIPE
    if {"steps", "devices"} <= keys:
        return SCENARIO
    if "layers" in keys:
        return ARTIFACT
    if len(keys & _WORLD_SECTIONS) >= 3:
        return WORLD
    if keys & _TRACKER_SECTIONS:
        return TRACKER
    return None


def _json_keys(text: str) -> set[str]:
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return set(_JSON_KEY.findall(text))
    return {str(key) for key in data} if isinstance(data, dict) else set()


def _yaml_keys(text: str) -> set[str] | None:
    """Top-level keys of a YAML mapping; None when the text is clearly not a YAML mapping."""
    body = text
    if body.startswith("%YAML:"):
        # OpenCV-style header of NvMultiObjectTracker configs; YAML 1.2 parsers reject it
        body = body.split("\n", 1)[1] if "\n" in body else ""
    try:
        check_yaml(body)
        data: Any = YAML(typ="safe", pure=True).load(body)
    except (YAMLError, YamlLimitError, ValueError, TypeError, OverflowError, RecursionError):
        # text that is not YAML, broken YAML, or YAML past the bounds: its checker says which
        return _top_keys(body)
    if isinstance(data, dict):
        return {str(key) for key in data}
    return None


def _top_keys(text: str) -> set[str]:
    return {match[1] for match in _YAML_KEY.findall(text)}


def _read_text(path: Path) -> str | None:
    """The text to classify: None for binary, special or unreadable files.

    A file that is not clean UTF-8 text is read with its bad bytes replaced only when its name
    is a text config's, so that a Latin-1 byte in ``config.txt`` reaches the checker (which
    reports it) while a model or a video stays skipped.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None  # a FIFO would block the open; a socket or device is no config
        with path.open("rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(data) > _MAX_BYTES:
        return None
    if b"\0" not in data:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if path.suffix.lower() not in _TEXT_SUFFIXES:
        return None
    return data.decode("utf-8", "replace").replace("\0", "\ufffd")
