"""Staging a user's Triton model repository for the tritonserver edge-harness runs.

The tritonserver in the nvidia-pytriton wheel has only the python backend. Staging copies the
user's repository into the service's work directory and rewrites what that server could not load:

* ONNX models (``platform: "onnxruntime_onnx"`` / ``backend: "onnxruntime"``) become python-backend
  models running the *same* ONNX file with ONNX Runtime on the CPU (``onnx_backend/model.py``).
  Everything a client can observe is kept: name, versions, version_policy, inputs/outputs (names,
  data types, dims, reshape, label files), max_batch_size, dynamic_batching, instance count. GPU
  instance groups become CPU ones and TensorRT accelerators are dropped, each with a warning, and
  the config carries ``edge_harness.*`` parameters so nobody mistakes the emulation for the real
  backend.
* python-backend models and ensembles are copied untouched.
* models for backends this server lacks (``tensorrt_plan``, TensorFlow, PyTorch, OpenVINO, …) are
  left out with a warning, as is an ensemble that needs one of them.

The source is validated first; a repository with errors raises :class:`ValidationError` before any
process starts. The source is never modified.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format

from harness.errors import ValidationError
from harness.lint.model_config import ModelConfig, load_model_config
from harness.lint.model_repo import (
    default_model_filename,
    is_onnx_model,
    validate_model_repository,
    version_dirs,
)
from harness.services.onnx_backend import MODEL_PY

log = logging.getLogger(__name__)

#: config parameter naming the backend that is emulated (value: the original platform/backend)
EMULATED_BACKEND_PARAM = "edge_harness.emulated_backend"
#: config parameter naming the ONNX file inside each version directory
ONNX_FILE_PARAM = "edge_harness.onnx_file"
#: thread-count keys read by Triton's onnxruntime backend, honoured by the emulation as well
THREAD_PARAMS = ("intra_op_thread_count", "inter_op_thread_count")

# Kinds of staged models.
EMULATED_ONNX = "onnx-emulated"
PYTHON = "python"
ENSEMBLE = "ensemble"


@dataclass(frozen=True)
class StagedModel:
    """One model as the server will load it."""

    name: str
    kind: str  # EMULATED_ONNX | PYTHON | ENSEMBLE
    source: Path
    staged: Path
    config: ModelConfig
    #: version → the ONNX file in the *source* repository (emulated ONNX models only)
    onnx_files: dict[int, Path] = field(default_factory=dict)


@dataclass
class StagedRepository:
    """The staged model repository and what staging did to each model."""

    source: Path
    root: Path
    models: dict[str, StagedModel] = field(default_factory=dict)
    #: model name → why it is not served
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)


def stage_model_repository(
    source: Path, dest: Path, *, intra_op_thread_count: int | None = None
) -> StagedRepository:
    """Validate ``source`` and stage it into ``dest`` (which must not exist or be empty).

    ``intra_op_thread_count`` sets ONNX Runtime's intra-op threads for emulated models whose config
    does not choose its own (default: the emulation's 1).
    """
    source = Path(source)
    report = validate_model_repository(source)
    if not report.ok:
        raise ValidationError(report, what=f"model repository {source} is not valid")
    for diagnostic in report.warnings:
        log.warning("%s", diagnostic.format())

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staged = StagedRepository(source=source, root=dest)
    ensembles: list[tuple[Path, ModelConfig]] = []
    for model_dir in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (model_dir / "config.pbtxt").is_file():
            # validate_model_repository has warned about it already
            staged.skipped[model_dir.name] = "no config.pbtxt"
            continue
        # Already validated with the repository; parse only (validate_model would load ONNX files again).
        config = load_model_config(model_dir / "config.pbtxt")
        if not config.name:
            config.name = model_dir.name  # Triton names a model after its directory
        if config.backend == "python":
            shutil.copytree(model_dir, dest / model_dir.name, symlinks=False)
            staged.models[config.name] = StagedModel(
                config.name, PYTHON, model_dir, dest / model_dir.name, config
            )
        elif is_onnx_model(config):
            staged.models[config.name] = _stage_onnx(model_dir, config, dest, staged, intra_op_thread_count)
        elif config.platform == "ensemble":
            ensembles.append((model_dir, config))
        else:
            what = config.platform or config.backend or "unknown backend"
            staged.skipped[config.name] = what
            staged.warn(
                f"model {config.name!r} ({what}) is not served: this tritonserver has only the python "
                "backend (ONNX models are emulated with ONNX Runtime); clients will see it as missing"
            )
    # Ensembles last: one whose step needs a model that is not served would fail to load. Passes
    # repeat so that an ensemble calling another ensemble is staged after it.
    pending = ensembles
    while pending:
        waiting = []
        for model_dir, config in pending:
            steps = {s.model_name for s in config.ensemble_scheduling.step}
            if steps <= staged.models.keys():
                shutil.copytree(model_dir, dest / model_dir.name, symlinks=False)
                staged.models[config.name] = StagedModel(
                    config.name, ENSEMBLE, model_dir, dest / model_dir.name, config
                )
            else:
                waiting.append((model_dir, config))
        if len(waiting) == len(pending):  # no progress: the rest need models that are not served
            for _, config in waiting:
                missing = sorted(
                    {s.model_name for s in config.ensemble_scheduling.step} - staged.models.keys()
                )
                staged.skipped[config.name] = f"needs {', '.join(missing)}"
                staged.warn(f"ensemble {config.name!r} is not served: its steps need {', '.join(missing)}")
            break
        pending = waiting
    return staged


def _stage_onnx(
    model_dir: Path,
    config: ModelConfig,
    dest: Path,
    staged: StagedRepository,
    intra_op_thread_count: int | None,
) -> StagedModel:
    """Copy one ONNX model and rewrite it to run under the python backend."""
    name = config.name
    onnx_name = default_model_filename(config)
    target = dest / model_dir.name
    # Everything but config.pbtxt is copied as is: version directories, labels, other files.
    shutil.copytree(model_dir, target, symlinks=False, ignore=shutil.ignore_patterns("config.pbtxt"))
    onnx_files: dict[int, Path] = {}
    for version, version_dir in version_dirs(model_dir):
        onnx_files[version] = version_dir / onnx_name
        # The python backend loads <model>/<version>/model.py (python_backend README, "Model
        # Repository Layout"); the ONNX file stays beside it under its original name.
        shutil.copyfile(MODEL_PY, target / str(version) / "model.py")

    new = ModelConfig()
    new.CopyFrom(config)
    emulated = config.platform or config.backend
    new.ClearField("platform")
    new.backend = "python"
    new.ClearField("default_model_filename")  # python backend default: model.py
    new.ClearField("cc_model_filenames")
    for group in new.instance_group:
        if group.kind in (group.KIND_GPU, group.KIND_AUTO):
            label = f"instance_group {group.name!r}" if group.name else "instance_group"
            staged.warn(
                f"model {name!r}: {label} {group.Kind.Name(group.kind)} runs as KIND_CPU "
                f"(count {group.count or 1}) — ONNX Runtime is emulated on the CPU here"
            )
            group.kind = group.KIND_CPU
            del group.gpus[:]
    accelerators = new.optimization.execution_accelerators
    named = [
        a.name for a in (*accelerators.gpu_execution_accelerator, *accelerators.cpu_execution_accelerator)
    ]
    if named:
        staged.warn(
            f"model {name!r}: execution accelerators {', '.join(named)} are dropped — the emulation "
            "runs plain ONNX Runtime on the CPU; accuracy and speed of e.g. TensorRT FP16 are not reproduced"
        )
        new.optimization.ClearField("execution_accelerators")
        if new.optimization.ByteSize() == 0:
            new.ClearField("optimization")
    new.parameters[EMULATED_BACKEND_PARAM].string_value = emulated
    new.parameters[ONNX_FILE_PARAM].string_value = onnx_name
    if intra_op_thread_count is not None and "intra_op_thread_count" not in config.parameters:
        new.parameters["intra_op_thread_count"].string_value = str(intra_op_thread_count)
    (target / "config.pbtxt").write_text(
        "# Staged by edge-harness: ONNX model emulated under the python backend with ONNX Runtime.\n"
        f"# Source: {model_dir / 'config.pbtxt'}\n" + text_format.MessageToString(new),
        encoding="utf-8",
    )
    log.info("triton: staged %s (%s) as a python-backend model running ONNX Runtime", name, emulated)
    return StagedModel(name, EMULATED_ONNX, model_dir, target, new, onnx_files)
