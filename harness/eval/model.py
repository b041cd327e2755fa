"""Loading a detector for evaluation: find the ONNX file, check its contract, run it.

A model can be named the way people have it at hand: the ``.onnx`` file itself, a Triton model
directory (``rtdetr/`` with ``config.pbtxt`` and version directories: the newest version is
used, as Triton's default version policy serves it) or a repository holding exactly one model
(``models_repo/B``). Labels come from ``labels.txt`` beside the file or in the model directory.

The contract is checked before a single frame is rendered, and a violation names the tensor and
the shape that was expected — a model exported with another input name, a fixed batch of 8 or
YOLO's ``[B, 84, 8400]`` output must fail with that, not with an ONNX Runtime stack trace.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.eval.contract import (
    INPUT_NAME,
    INPUT_SIZE,
    MAX_DETECTIONS,
    OUTPUT_NAME,
    ROW_FIELDS,
)
from harness.lint.model_repo import CONFIG_FILE, model_dirs, validate_model, version_dirs

LABELS_FILE = "labels.txt"
_EXPECTED_INPUT = f"'{INPUT_NAME}': tensor(float) [batch, 3, {INPUT_SIZE}, {INPUT_SIZE}]"
_EXPECTED_OUTPUT = f"'{OUTPUT_NAME}': tensor(float) [batch, {MAX_DETECTIONS}, {len(ROW_FIELDS)}]"


@dataclass(frozen=True)
class ModelFiles:
    """Where the model and its labels were found."""

    onnx: Path
    labels_file: Path | None
    labels: tuple[str, ...] | None


def resolve_model(path: Path) -> ModelFiles:
    """An ``.onnx`` file, a Triton model directory or a one-model repository → the files to use."""
    if not path.exists():
        raise HarnessError(
            f"model not found: {path}",
            hint="pass an .onnx file, a Triton model directory (config.pbtxt + version folders) "
            "or a model repository holding one model",
        )
    if path.is_file():
        if path.suffix.lower() != ".onnx":
            raise HarnessError(
                f"{path} is not an ONNX model (expected a .onnx file)",
                hint="TensorRT plans cannot be evaluated here; evaluate the ONNX file they were built from",
            )
        candidates = [path.parent / LABELS_FILE, path.parent.parent / LABELS_FILE]
        labels_file = next((c for c in candidates if c.is_file()), None)
        return ModelFiles(path, labels_file, _read_labels(labels_file) if labels_file else None)
    if not (path / CONFIG_FILE).is_file():
        models = model_dirs(path)
        if len(models) == 1:
            return resolve_model(models[0])
        if models:
            names = ", ".join(m.name for m in models)
            raise HarnessError(
                f"{path} is a model repository with {len(models)} models ({names})",
                hint=f"name one of them, e.g. {models[0]}",
            )
        nested = sorted(d for d in path.iterdir() if d.is_dir() and model_dirs(d))
        hint = "pass an .onnx file or a Triton model directory"
        if nested:
            names = ", ".join(d.name for d in nested)
            hint = f"it holds model repositories ({names}): name one, e.g. {nested[-1]}"
        raise HarnessError(f"{path} holds no {CONFIG_FILE} and no model directories", hint=hint)
    config, report = validate_model(path)
    if config is None or report.errors:
        raise HarnessError(f"the model directory {path} is not valid:\n{report.format()}")
    filename = config.default_model_filename or "model.onnx"
    versions = [(n, d) for n, d in version_dirs(path) if (d / filename).is_file()]
    if not versions:
        raise HarnessError(
            f"no version directory of {path} holds {filename}",
            hint="a Triton model directory has numbered version folders (1/, 2/, …) with the model file",
        )
    labels_file = path / LABELS_FILE
    labels_file = labels_file if labels_file.is_file() else None
    return ModelFiles(
        versions[-1][1] / filename, labels_file, _read_labels(labels_file) if labels_file else None
    )


def _read_labels(path: Path) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise HarnessError(f"cannot read the labels {path}: {err}") from err
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not labels:
        raise HarnessError(f"{path} lists no labels", hint="one class name per line, in class-id order")
    return labels


def _shape_text(shape: Sequence[object]) -> str:
    return (
        "["
        + ", ".join(str(d) if isinstance(d, int) else "batch" if d is None else str(d) for d in shape)
        + "]"
    )


class OnnxDetector:
    """An ONNX Runtime session over a model that honours the detector contract."""

    def __init__(self, onnx_file: Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = onnx_file
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime raises its own exception types for bad files
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HarnessError(
                f"ONNX Runtime cannot load {onnx_file}: {first}",
                hint="check the file with `edge-harness lint models` or onnx.checker",
            ) from err
        self.batch = self._check_contract()

    def _check_contract(self) -> int | None:
        """Raise unless the graph has exactly the contract's input and output; return a fixed batch."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        where = str(self.path)
        names = {i.name: i for i in inputs}
        if INPUT_NAME not in names:
            found = ", ".join(f"'{i.name}' {_shape_text(i.shape)}" for i in inputs) or "none"
            raise HarnessError(
                f"{where}: the model has no input '{INPUT_NAME}' (it has: {found})",
                hint=f"the detector contract expects {_EXPECTED_INPUT}",
            )
        if len(inputs) != 1:
            raise HarnessError(
                f"{where}: the model has {len(inputs)} inputs; the contract has one, {_EXPECTED_INPUT}"
            )
        tensor = names[INPUT_NAME]
        self._check_tensor(
            tensor.name, tensor.type, tensor.shape, (3, INPUT_SIZE, INPUT_SIZE), _EXPECTED_INPUT
        )
        out = {o.name: o for o in outputs}
        if OUTPUT_NAME not in out:
            found = ", ".join(f"'{o.name}' {_shape_text(o.shape)}" for o in outputs) or "none"
            raise HarnessError(
                f"{where}: the model has no output '{OUTPUT_NAME}' (it has: {found})",
                hint=f"the detector contract expects {_EXPECTED_OUTPUT}",
            )
        o = out[OUTPUT_NAME]
        self._check_tensor(o.name, o.type, o.shape, (MAX_DETECTIONS, len(ROW_FIELDS)), _EXPECTED_OUTPUT)
        batch = tensor.shape[0]
        return batch if isinstance(batch, int) and batch > 0 else None

    def _check_tensor(
        self, name: str, type_name: str, shape: Sequence[object], rest: tuple[int, ...], expected: str
    ) -> None:
        problem = None
        if type_name != "tensor(float)":
            problem = f"has type {type_name}"
        elif len(shape) != 1 + len(rest):
            problem = f"has rank {len(shape)}, shape {_shape_text(shape)}"
        else:
            for axis, (got, want) in enumerate(zip(shape[1:], rest, strict=True), start=1):
                if isinstance(got, int) and got != want:
                    problem = f"has shape {_shape_text(shape)} (dimension {axis} is {got}, not {want})"
                    break
        if problem:
            raise HarnessError(
                f"{self.path}: tensor '{name}' {problem}",
                hint=f"the detector contract expects {expected} (the RT-DETR layout DeepStream parses)",
            )

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """``[N, 3, 640, 640]`` float32 → ``[N, 300, 6]``; a fixed-batch model is fed padded batches."""
        n = batch.shape[0]
        if self.batch is None or self.batch == n:
            rows = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
        else:
            parts = []
            for start in range(0, n, self.batch):
                chunk = batch[start : start + self.batch]
                pad = self.batch - len(chunk)
                if pad:
                    chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
                parts.append(self.session.run([OUTPUT_NAME], {INPUT_NAME: chunk})[0][: self.batch - pad])
            rows = np.concatenate(parts)
        if rows.shape != (n, MAX_DETECTIONS, len(ROW_FIELDS)):
            raise HarnessError(
                f"{self.path}: output '{OUTPUT_NAME}' came back with shape {list(rows.shape)} "
                f"for a batch of {n}",
                hint=f"the detector contract expects {_EXPECTED_OUTPUT}",
            )
        return rows


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
