"""An nvinferserver config checked against the Triton model repository it names, before run time.

nvinferserver reads the served model's config only when the pipeline starts: a ``tensor_name``
the model does not have, a ``max_batch_size`` above the model's, a model missing from the
repository all pass the config parser and fail on the device. For a config with
``model_repo { root }`` the repository is on disk, so lint reads the model's ``config.pbtxt``
(what tritonserver serves under ``strict_model_config``) and runs the element's own start-up
checks (:func:`~fake_device.deepstream.inferserver_config.check_against_model`) on it. A config
that talks to a running Triton over gRPC is checked at start only: its model is not on disk.
"""

from __future__ import annotations

from pathlib import Path

from fake_device.deepstream.inferserver_config import (
    InferServerConfig,
    check_against_model,
    load_inferserver_config,
)
from harness.errors import ValidationError
from harness.lint.model_config import load_model_config

#: Triton's input formats as nvinferserver's tensor orders (infer_trtis_context.cpp).
_FORMATS = {1: "NHWC", 2: "LINEAR"}  # ModelInput.FORMAT_NHWC, FORMAT_NCHW


def load_and_check_inferserver_config(path: str | Path) -> InferServerConfig:
    """:func:`load_inferserver_config`, then the start-up checks against the model repository."""
    config = load_inferserver_config(path)
    backend = config.backend
    if backend.repo_root is None:
        return config
    at = ("infer_config", "backend")
    model_dir = backend.repo_root / backend.model_name
    model_config_path = model_dir / "config.pbtxt"
    if not model_config_path.is_file():
        root = backend.repo_root
        present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise config.error(
            f"model {backend.model_name!r} is not in the model repository {backend.repo_root} "
            f"(no {model_config_path.relative_to(backend.repo_root)})",
            *at,
            expected="one of the repository's models: " + (", ".join(present) or "none"),
            hint="model_name is a folder of model_repo.root that holds config.pbtxt; "
            "relative roots start at this config's folder",
        )
    try:
        model = load_model_config(model_config_path)
    except ValidationError as err:
        first = err.report.errors[0] if err.report.errors else None
        raise config.error(
            f"the config of model {backend.model_name!r} does not parse"
            + (f": {first.message}" if first else ""),
            *at,
            hint=f"edge-harness lint models {backend.repo_root} lists every problem",
        ) from None
    if not model.input:
        return config  # Triton completes it from the model file; checked when the element starts
    batched = model.max_batch_size > 0
    inputs = {tensor.name: tuple(int(d) for d in tensor.dims) for tensor in model.input}
    max_batch = model.max_batch_size
    if not batched:
        leading = {dims[0] for dims in inputs.values() if dims}
        if leading and leading <= {-1, 1}:
            inputs = {name: dims[1:] for name, dims in inputs.items()}
            max_batch = 1 if leading == {1} else 0
    formats = {_FORMATS.get(tensor.format) for tensor in model.input}
    order = next(iter(formats)) if len(formats) == 1 else None
    check_against_model(config, inputs, model_tensor_order=order, model_max_batch_size=max_batch or None)
    outputs = [tensor.name for tensor in model.output]
    for name in backend.output_names:
        if outputs and name not in outputs:
            raise config.error(
                f"backend.outputs names {name!r}, which is not an output of model {backend.model_name!r}",
                *at,
                "outputs",
                expected="one of " + ", ".join(repr(n) for n in outputs),
                hint=f"the model's outputs are in {model_config_path}",
            )
    return config


__all__ = ["load_and_check_inferserver_config"]
