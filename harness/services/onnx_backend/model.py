"""A python-backend model that serves an ONNX file with ONNX Runtime (CPU), like Triton's ORT backend.

The tritonserver shipped in the nvidia-pytriton wheel has only the python backend, so edge-harness
stages every ``onnxruntime_onnx`` model as a python-backend model that runs *the same ONNX file*.
This file is copied unchanged into each version directory of such a model (the python backend
loads ``<model>/<version>/model.py``, see the python_backend README "Model Repository Layout").

It is self-contained on purpose: it runs inside ``triton_python_backend_stub``, whose embedded
interpreter sees the harness's site-packages (numpy, onnxruntime) but must not need the harness
itself.

Config parameters it reads (string values):

* ``edge_harness.onnx_file`` -- the ONNX file name inside the version directory; a directory of
  that name means ``<dir>/model.onnx`` (Triton's onnxruntime backend accepts both layouts).
* ``intra_op_thread_count`` / ``inter_op_thread_count`` -- the same keys Triton's onnxruntime
  backend reads; default 1 each, so that several model instances do not oversubscribe the cores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

# ONNX Runtime reports tensor types as "tensor(<onnx type>)".
_ORT_TO_NUMPY: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


def _log_info(message: str) -> None:
    logger = getattr(pb_utils, "Logger", None)
    if logger is not None:
        logger.log_info(message)
    else:  # older stubs: stdout goes to the server log as well
        print(message, flush=True)


def _parameters(model_config: dict[str, Any]) -> dict[str, str]:
    return {key: value.get("string_value", "") for key, value in model_config.get("parameters", {}).items()}


def _to_ort(array: np.ndarray, ort_dtype: Any) -> np.ndarray:
    """Convert a tensor Triton delivered (config dtype) to the dtype the ONNX graph declares."""
    if ort_dtype is np.object_:
        # Triton BYTES arrive as Python bytes; ONNX Runtime string tensors hold str.
        return np.array(
            [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.ravel()], dtype=np.object_
        ).reshape(array.shape)
    if ort_dtype is not None and array.dtype != ort_dtype:
        return array.astype(ort_dtype)
    return array


def _to_triton(array: np.ndarray, config_dtype: Any) -> np.ndarray:
    """Convert an ONNX Runtime output to the dtype the model config declares."""
    array = np.asarray(array)
    if config_dtype is np.object_ or array.dtype == np.object_:
        return np.array(
            [v.encode("utf-8") if isinstance(v, str) else v for v in array.ravel()], dtype=np.object_
        ).reshape(array.shape)
    if array.dtype != config_dtype:
        return array.astype(config_dtype)
    return array


class TritonPythonModel:
    """One ONNX Runtime session per model instance; requests of a dynamic batch run as one batch."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        params = _parameters(config)
        self.model_name = args["model_name"]
        version = args["model_version"]
        onnx_file = params.get("edge_harness.onnx_file") or "model.onnx"
        path = os.path.join(args["model_repository"], version, onnx_file)
        if os.path.isdir(path):
            path = os.path.join(path, "model.onnx")
        if not os.path.isfile(path):
            raise pb_utils.TritonModelException(
                f"edge-harness: ONNX file {path} of model '{self.model_name}' version {version} "
                "does not exist"
            )
        try:
            import onnxruntime as ort
        except ImportError as err:  # the stub's interpreter does not see the harness's site-packages
            import sys

            raise pb_utils.TritonModelException(
                f"edge-harness: cannot import onnxruntime in the python backend stub ({err}); "
                f"stub interpreter prefix {sys.prefix}"
            ) from err

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("intra_op_thread_count") or 1)
        options.inter_op_num_threads = int(params.get("inter_op_thread_count") or 1)
        options.log_severity_level = 3  # errors only: warnings would flood the server log
        self.session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])

        self.max_batch_size = int(config.get("max_batch_size", 0))
        ort_inputs = {i.name: _ORT_TO_NUMPY.get(i.type) for i in self.session.get_inputs()}
        self.input_names = [i["name"] for i in config.get("input", [])]
        self.ort_input_dtypes = {name: ort_inputs.get(name) for name in self.input_names}
        self.outputs = [
            (o["name"], pb_utils.triton_string_to_numpy(o["data_type"])) for o in config.get("output", [])
        ]
        _log_info(
            f"edge-harness: emulating onnxruntime backend for {self.model_name} v{version} with "
            f"ONNX Runtime {ort.__version__} (CPU), file {os.path.basename(path)}, "
            f"intra_op_num_threads {options.intra_op_num_threads}"
        )

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        feeds: list[dict[str, np.ndarray] | None] = []
        for index, request in enumerate(requests):
            try:
                feeds.append(self._feed(request))
            except Exception as err:  # a bad request fails alone; the stub keeps running
                feeds.append(None)
                responses[index] = self._error(err)
        if self.max_batch_size > 0:
            # Triton's dynamic batcher hands over several requests at once. Running them as one
            # ONNX Runtime batch is what makes batching pay off (and what the onnxruntime backend
            # does). Requests are grouped by the shapes of their non-batch dimensions: only those
            # can be concatenated along the batch axis (axis 0, per Triton's batching rules).
            groups: dict[tuple[Any, ...], list[int]] = {}
            for index, feed in enumerate(feeds):
                if feed is not None:
                    key = tuple((name, arr.shape[1:], arr.dtype.str) for name, arr in sorted(feed.items()))
                    groups.setdefault(key, []).append(index)
            for indices in groups.values():
                self._run_batch(indices, feeds, responses)
        else:
            for index, feed in enumerate(feeds):
                if feed is not None:
                    self._run_batch([index], feeds, responses)
        return responses

    def finalize(self) -> None:
        self.session = None

    # -- internals --------------------------------------------------------------------------
    def _feed(self, request: Any) -> dict[str, np.ndarray]:
        feed = {}
        for name in self.input_names:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:  # optional input left out by the client
                continue
            feed[name] = _to_ort(tensor.as_numpy(), self.ort_input_dtypes.get(name))
        return feed

    def _run_batch(self, indices: list[int], feeds: list[Any], responses: list[Any]) -> None:
        try:
            if len(indices) == 1:
                batch = feeds[indices[0]]
                sizes = [None]
            else:
                sizes = [len(next(iter(feeds[i].values()))) for i in indices]
                batch = {
                    name: np.concatenate([feeds[i][name] for i in indices]) for name in feeds[indices[0]]
                }
            results = self.session.run([name for name, _ in self.outputs], batch)
            per_request = self._split(results, sizes)
            for index, outputs in zip(indices, per_request, strict=True):
                tensors = [
                    pb_utils.Tensor(name, _to_triton(value, dtype))
                    for (name, dtype), value in zip(self.outputs, outputs, strict=True)
                ]
                responses[index] = pb_utils.InferenceResponse(output_tensors=tensors)
        except Exception as err:
            for index in indices:
                responses[index] = self._error(err)

    def _split(self, results: list[np.ndarray], sizes: list[int | None]) -> list[list[np.ndarray]]:
        if sizes == [None]:
            return [results]
        total = sum(sizes)  # type: ignore[arg-type]
        bounds = np.cumsum(sizes)[:-1]
        split = []
        for (name, _), value in zip(self.outputs, results, strict=True):
            if value.ndim == 0 or value.shape[0] != total:
                raise ValueError(
                    f"output {name} has shape {list(value.shape)}; its first dimension must be the "
                    f"batch size {total} for a model with max_batch_size > 0"
                )
            split.append(np.split(value, bounds))
        return [list(parts) for parts in zip(*split, strict=True)]

    def _error(self, err: Exception) -> Any:
        return pb_utils.InferenceResponse(
            output_tensors=[], error=pb_utils.TritonError(f"{self.model_name}: {type(err).__name__}: {err}")
        )
