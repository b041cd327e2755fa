"""nvinferserver on the CPU: frames in, detector objects out, through a real Triton.

:class:`NvInferServer` does what gst-nvinferserver does for a primary detector: scale each
frame of a batch into the network input (plain resize or letterbox), convert the colour format,
normalise, send batches of up to ``max_batch_size`` frames to the model, parse the outputs with
the configured bounding-box parser, threshold and cluster, map the boxes back to muxer pixels
and attach one :class:`~.meta.ObjectMeta` per object. The steps follow
src/utils/nvdsinferserver (infer_preprocess.cpp, infer_postprocess.cpp) and
src/gst-plugins/gst-nvinferserver in github NVIDIA/DeepStream; the parsers live in
:mod:`.bbox_parsers`.

Backends, as the config chooses them:

* ``triton { model_repo { root } }`` — DeepStream runs Triton in-process on that repository;
  the emulation starts the project's real tritonserver (:class:`~harness.services.triton.TritonServer`)
  on it, loads ``model_name`` explicitly, talks gRPC and passes tensors through POSIX shared
  memory, since the server is on the same host.
* ``triton { grpc { url } }`` — a Triton that is already running, over gRPC, no shared memory
  (the server may be elsewhere).
* :class:`OnnxRuntimeBackend` — the model's ONNX file in-process; only as a constructor
  argument, for unit tests that should not start a server.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import cv2
import numpy as np

from fake_device.deepstream.attribute_parser import (
    ATTRIBUTE_LAYOUT,
    Attribute,
    attribute_layout_problem,
    parse_attributes,
)
from fake_device.deepstream.bbox_parsers import (
    LAYOUTS,
    ORIG_TARGET_SIZES_INPUT,
    Detections,
    ScaleGeometry,
    cluster_nms,
    describe_parser,
    filter_detections,
    layout_problem,
    map_to_frame,
    parser_for,
    scale_geometry,
)
from fake_device.deepstream.inferserver_config import (
    InferServerConfig,
    ModelInput,
    check_against_model,
    load_inferserver_config,
)
from fake_device.deepstream.meta import BatchMeta, FrameMeta, ObjectMeta
from fake_device.deepstream.meta_infer import NvDsInferTensorMeta
from fake_device.deepstream.network_input import scaled_pixels
from harness.errors import HarnessError

log = logging.getLogger(__name__)

#: frame_scaling_filter (NvBufSurfTransform_Inter) → OpenCV interpolation. GPU "Algo4" is
#: documented as ignored and "Default" is nearest on the GPU; both map to nearest.
INTERPOLATIONS = {
    0: cv2.INTER_NEAREST,
    1: cv2.INTER_LINEAR,
    2: cv2.INTER_CUBIC,
    3: cv2.INTER_AREA,
    4: cv2.INTER_LANCZOS4,
    5: cv2.INTER_NEAREST,
    6: cv2.INTER_NEAREST,
}

#: Triton data type name → numpy dtype, for the types an image detector uses
_DTYPES = {
    "FP32": np.float32,
    "FP16": np.float16,
    "FP64": np.float64,
    "UINT8": np.uint8,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
}


# --- backends ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One model tensor: dims of one frame (no batch dimension) and Triton's data type name."""

    dims: tuple[int, ...]
    datatype: str

    @property
    def dtype(self) -> np.dtype:
        if self.datatype not in _DTYPES:
            raise HarnessError(f"tensor data type {self.datatype} is not supported by the emulation")
        return np.dtype(_DTYPES[self.datatype])


class InferBackend(ABC):
    """What :class:`NvInferServer` needs from a model server: the model's tensors and ``infer``.

    Requests always carry a leading batch dimension of up to ``max_batch_size`` frames.
    """

    model_name: str = ""
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    max_batch_size: int = 1
    #: "LINEAR" | "NHWC" from the model config's input format, None when it does not say
    input_format: str | None = None
    #: True when tensors travel through shared memory instead of the socket
    uses_shared_memory: bool = False

    @abstractmethod
    def infer(self, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """Run one batch; return the requested outputs, batch first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and buffers."""


_TRITON_FORMATS = {"FORMAT_NCHW": "LINEAR", "FORMAT_NHWC": "NHWC"}


def _spec_from_triton(tensor: Mapping[str, Any]) -> TensorSpec:
    """A tensor of the model config as Triton's API returns it (JSON). ``dims`` is the shape clients
    see; a ``reshape`` only changes what the model itself receives."""
    dims = tuple(int(d) for d in tensor.get("dims", []))
    return TensorSpec(dims, str(tensor.get("data_type", "TYPE_FP32")).removeprefix("TYPE_"))


def _split_unbatched(specs: dict[str, TensorSpec]) -> tuple[dict[str, TensorSpec], int | None]:
    """A non-batching model (max_batch_size 0) whose tensors lead with a batch-like dim.

    nvinferserver treats a leading wildcard (or 1) of a 4-dim image input as the batch
    (infer_trtis_context.cpp); the emulation does the same for every tensor.
    """
    leading = {spec.dims[0] for spec in specs.values() if spec.dims}
    if not specs or not leading <= {-1, 1}:
        return specs, None
    per_frame = {name: TensorSpec(spec.dims[1:], spec.datatype) for name, spec in specs.items()}
    return per_frame, 1 if leading == {1} else 0


class OnnxRuntimeBackend(InferBackend):
    """The model's ONNX file run in-process with ONNX Runtime (unit tests only).

    ``model`` is an ``.onnx`` file or a Triton model directory; for a directory the version is
    chosen as Triton would (``version`` or the newest) and the tensors, formats and
    ``max_batch_size`` come from its ``config.pbtxt``, so that the element sees the model as
    it would through Triton.
    """

    def __init__(self, model: str | Path, *, version: int = -1, intra_op_threads: int = 1) -> None:
        import onnxruntime as ort

        from harness.lint.model_config import load_model_config
        from harness.lint.model_repo import default_model_filename, version_dirs

        model = Path(model)
        config = None
        if model.is_dir():
            config = load_model_config(model / "config.pbtxt")
            versions = dict(version_dirs(model))
            if not versions:
                raise HarnessError(f"model {model} has no version directory")
            chosen = max(versions) if version == -1 else version
            if chosen not in versions:
                raise HarnessError(
                    f"model {model} has no version {chosen}", hint=f"versions: {sorted(versions)}"
                )
            onnx_file = versions[chosen] / (default_model_filename(config) or "model.onnx")
            self.model_name = config.name or model.name
        else:
            onnx_file = model
            self.model_name = model.stem
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        # Idle worker threads sleep instead of spinning: in a pipeline the decoder, the other
        # elements and other simulated devices need the cores between inferences (on 2 busy cores
        # a spinning pool doubled the inference time; alone it is ~10 % faster)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._runtime = ort.InferenceSession(
            str(onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        graph_inputs = {i.name: i for i in self._runtime.get_inputs()}
        graph_outputs = {o.name: o for o in self._runtime.get_outputs()}
        #: input → the shape the graph receives per frame, where the config reshapes it
        self._reshape = {}
        if config is not None:
            self._reshape = {t.name: tuple(t.reshape.shape) for t in config.input if t.HasField("reshape")}
            batched = config.max_batch_size > 0
            self.inputs = {t.name: _spec_from_config(t) for t in config.input}
            self.outputs = {t.name: _spec_from_config(t) for t in config.output}
            formats = {_TRITON_FORMATS.get(_format_name(t.format)) for t in config.input}
            self.input_format = next(iter(formats)) if len(formats) == 1 else None
            self.max_batch_size = config.max_batch_size
            if not batched:
                self.inputs, limit = _split_unbatched(self.inputs)
                self.outputs, _ = _split_unbatched(self.outputs)
                self.max_batch_size = 1 if limit is None else limit
        else:
            self.inputs = {n: _spec_from_ort(i) for n, i in graph_inputs.items()}
            self.outputs = {n: _spec_from_ort(o) for n, o in graph_outputs.items()}
            first = next(iter(graph_inputs.values())).shape
            self.max_batch_size = first[0] if isinstance(first[0], int) and first[0] > 0 else 0
        self._graph_inputs = graph_inputs

    @classmethod
    def for_config(cls, config: InferServerConfig, **kwargs: Any) -> OnnxRuntimeBackend:
        """The model a ``model_repo`` config names, from its repository."""
        if config.backend.repo_root is None:
            raise HarnessError(
                f"{config.path}: the ONNX Runtime backend needs a model_repo config to find the model"
            )
        model_dir = config.backend.repo_root / config.backend.model_name
        return cls(model_dir, version=config.backend.version, **kwargs)

    def infer(self, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        feed = {}
        for name, array in inputs.items():
            if name in self._reshape:  # as Triton applies a config reshape between API and model
                array = array.reshape(array.shape[0], *self._reshape[name])
            shape = self._graph_inputs[name].shape
            if len(shape) == array.ndim - 1:
                array = array.reshape(array.shape[1:])  # a non-batching graph fed one frame
            feed[name] = array
        results = self._runtime.run(list(outputs), feed)
        batch = next(iter(inputs.values())).shape[0]
        out = {}
        for name, value in zip(outputs, results, strict=True):
            value = np.asarray(value)
            spec = self.outputs.get(name)
            if spec is not None and value.shape[1:] != spec.dims and value.size == batch * _count(spec.dims):
                value = value.reshape(batch, *spec.dims)  # a config reshape, as Triton applies it
            out[name] = value
        return out


def _count(dims: Sequence[int]) -> int:
    return int(np.prod(dims)) if all(d >= 0 for d in dims) else -1


def _spec_from_config(tensor: Any) -> TensorSpec:
    """A ModelInput/ModelOutput of config.pbtxt, with the dims clients see (not its reshape)."""
    return TensorSpec(tuple(tensor.dims), _type_name(tensor.data_type))


def _type_name(data_type: int) -> str:
    from tritonclient.grpc import model_config_pb2

    return model_config_pb2.DataType.Name(data_type).removeprefix("TYPE_")


def _format_name(fmt: int) -> str:
    from tritonclient.grpc import model_config_pb2

    return model_config_pb2.ModelInput.Format.Name(fmt)


_ORT_TYPES = {
    "tensor(float)": "FP32",
    "tensor(float16)": "FP16",
    "tensor(double)": "FP64",
    "tensor(uint8)": "UINT8",
    "tensor(int8)": "INT8",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(bool)": "BOOL",
}


def _spec_from_ort(node: Any) -> TensorSpec:
    dims = tuple(d if isinstance(d, int) else -1 for d in node.shape[1:])
    return TensorSpec(dims, _ORT_TYPES.get(node.type, node.type))


class TritonGrpcBackend(InferBackend):
    """A model on a running Triton, over gRPC; optionally through system shared memory.

    The model config is read from the server (as nvinferserver's gRPC backend does), so the
    element sees the tensors Triton serves. With ``shared_memory`` one input and one output region
    per tensor, sized for ``max_batch_size`` frames, are registered once and reused.
    """

    def __init__(
        self,
        url: str,
        model_name: str,
        *,
        version: int = -1,
        shared_memory: bool = False,
        max_batch_size: int = 1,
    ) -> None:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        self.url = url
        self.model_name = model_name
        self.version = "" if version == -1 else str(version)
        self._want_shm = shared_memory
        self._shm: Any = None
        self._shm_outputs: tuple[str, ...] = ()
        self._request_batch = max(1, max_batch_size)
        self.client = grpcclient.InferenceServerClient(url)
        try:
            if not self.client.is_model_ready(model_name, self.version):
                raise HarnessError(
                    f"model {model_name!r} (version {version}) is not ready on the Triton at {url}",
                    hint="load it on the server (nvinferserver's gRPC mode does not load models)",
                )
            config = self.client.get_model_config(model_name, self.version, as_json=True)["config"]
        except InferenceServerException as err:
            self.client.close()
            raise HarnessError(f"Triton at {url}: {err.message()}") from err
        except BaseException:
            self.client.close()
            raise
        batched = int(config.get("max_batch_size", 0)) > 0
        self.inputs = {t["name"]: _spec_from_triton(t) for t in config.get("input", [])}
        self.outputs = {t["name"]: _spec_from_triton(t) for t in config.get("output", [])}
        formats = {_TRITON_FORMATS.get(t.get("format", "FORMAT_NONE")) for t in config.get("input", [])}
        self.input_format = next(iter(formats)) if len(formats) == 1 else None
        self.max_batch_size = int(config.get("max_batch_size", 0))
        if not batched:
            self.inputs, limit = _split_unbatched(self.inputs)
            self.outputs, _ = _split_unbatched(self.outputs)
            self.max_batch_size = 1 if limit is None else limit

    def _open_shared_memory(self, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> None:
        from harness.services.triton import SystemSharedMemoryIO

        batch = self._request_batch
        sizes = {}
        for name in outputs:
            spec = self.outputs[name]
            count = _count(spec.dims)
            if count < 0 or spec.datatype not in _DTYPES:
                log.warning("%s: output %s has variable dims; not using shared memory", self.model_name, name)
                self._want_shm = False
                return
            sizes[name] = batch * count * spec.dtype.itemsize
        templates = {n: np.zeros((batch, *a.shape[1:]), a.dtype) for n, a in inputs.items()}
        self._shm = SystemSharedMemoryIO(self.client, self.model_name, templates, sizes, version=self.version)
        self._shm_outputs = tuple(outputs)
        self.uses_shared_memory = True

    def infer(self, inputs: Mapping[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        from harness.services.triton import infer

        if self._want_shm and self._shm is None:
            self._open_shared_memory(inputs, outputs)
        if self._shm is not None and tuple(outputs) == self._shm_outputs:
            return self._shm.infer(inputs)
        return infer(self.client, self.model_name, inputs, outputs, version=self.version)

    def close(self) -> None:
        if self._shm is not None:
            self._shm.close()
            self._shm = None
        with contextlib.suppress(Exception):
            self.client.close()


# --- the element ---------------------------------------------------------------------------------


class NvInferServer:
    """gst-nvinferserver for a primary detector, driven by its config file.

    ``backend`` replaces the config's Triton with another :class:`InferBackend` (the in-process
    :class:`OnnxRuntimeBackend` in unit tests). ``name`` is the element name recorded in each
    frame's latency marks. Close it (or use it as a context manager) to stop the Triton it
    started and free its shared memory.
    """

    def __init__(
        self,
        config: InferServerConfig | str | Path,
        *,
        backend: InferBackend | None = None,
        name: str = "primary-inference",
        triton_workdir: Path | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.config = config if isinstance(config, InferServerConfig) else load_inferserver_config(config)
        self.name = name
        self.server: Any = None  # the TritonServer this element started (model_repo mode)
        self.backend: InferBackend | None = None
        self._batches = 0
        try:
            self.backend = backend or self._connect(triton_workdir, startup_timeout)
            self.model_input = self._check_model(self.backend)
            self._dtype = self.backend.inputs[self.model_input.tensor_name].dtype
        except BaseException:
            self.close()
            raise
        pre = self.config.preprocess
        self.network = self.model_input.network
        self._interpolation = INTERPOLATIONS[pre.frame_scaling_filter]
        self._offsets = np.asarray(pre.channel_offsets or [0.0] * self.network.channels, np.float32)
        self._scale = np.float32(pre.scale_factor)
        detection = self.config.detection
        self._parse = parser_for(detection.custom_parse_bbox_func) if detection is not None else None
        limit = self.backend.max_batch_size
        #: frames per request: the config's max_batch_size, capped by the model's
        self.batch_size = self.config.max_batch_size if limit <= 0 else min(limit, self.config.max_batch_size)

    # -- set-up ------------------------------------------------------------------------------
    def _connect(self, workdir: Path | None, startup_timeout: float) -> InferBackend:
        be = self.config.backend
        if be.grpc_url is not None:
            return TritonGrpcBackend(
                be.grpc_url, be.model_name, version=be.version, max_batch_size=self.config.max_batch_size
            )
        from harness.services.triton import TritonServer

        assert be.repo_root is not None
        self.server = TritonServer(
            be.repo_root,
            model_control_mode="explicit",
            load_models=[be.model_name],
            workdir=workdir,
            startup_timeout=startup_timeout,
            log_verbose=max(0, be.log_level - 2),
        )
        self.server.start()
        return TritonGrpcBackend(
            self.server.grpc_url,
            be.model_name,
            version=be.version,
            shared_memory=True,
            max_batch_size=self.config.max_batch_size,
        )

    def _check_model(self, backend: InferBackend) -> ModelInput:
        cfg = self.config
        model_input = check_against_model(
            cfg,
            {n: s.dims for n, s in backend.inputs.items()},
            model_tensor_order=backend.input_format,
            model_max_batch_size=backend.max_batch_size,
        )
        for name in backend.inputs:
            if name != model_input.tensor_name and name != ORIG_TARGET_SIZES_INPUT:
                raise cfg.error(
                    f"model {cfg.backend.model_name!r} has a second input {name!r} that nvinferserver "
                    "does not feed",
                    "infer_config",
                    "preprocess",
                    "tensor_name",
                    hint="DeepStream needs an extra.custom_process_funcion library for extra inputs, "
                    "which the emulation does not run",
                )
        self.output_names = cfg.backend.output_names or tuple(backend.outputs)
        unknown = [n for n in self.output_names if n not in backend.outputs]
        if unknown:
            raise cfg.error(
                f"backend.outputs names {', '.join(map(repr, unknown))}, not an output of model "
                f"{cfg.backend.model_name!r}",
                "infer_config",
                "backend",
                "outputs",
                expected="one of " + ", ".join(map(repr, backend.outputs)),
            )
        described = ", ".join(f"{n} {list(backend.outputs[n].dims)}" for n in self.output_names)
        if cfg.detection is None and cfg.classification is None:
            return model_input  # no parsing (nvinfer network-type=100): any outputs will do
        if cfg.detection is None:
            assert cfg.classification is not None
            problem = attribute_layout_problem({n: backend.outputs[n].dims for n in self.output_names})
            if problem:
                raise cfg.error(
                    f"model {cfg.backend.model_name!r} does not fit the classifier parser: {problem}",
                    "infer_config",
                    "postprocess",
                    expected=ATTRIBUTE_LAYOUT,
                    hint=f"the model's outputs: {described}",
                )
            return model_input
        parser = cfg.detection.custom_parse_bbox_func
        problem = layout_problem(parser, {n: backend.outputs[n].dims for n in self.output_names})
        if problem:
            raise cfg.error(
                f"model {cfg.backend.model_name!r} does not fit {describe_parser(parser)}: {problem}",
                "infer_config",
                "postprocess",
                "detection",
                "custom_parse_bbox_func",
                expected=LAYOUTS[parser],
                hint=f"the model's outputs: {described}",
            )
        return model_input

    # -- per frame ---------------------------------------------------------------------------
    #: nvinferserver rounds the scaled size down to even numbers, nvinfer does not (scale_geometry)
    EVEN_DESTINATION: bool = True

    def geometry(self, width: float, height: float, left: float = 0, top: float = 0) -> ScaleGeometry:
        """How a frame of ``width × height`` (or a rectangle of it at ``left, top``) is scaled in."""
        pre = self.config.preprocess
        return scale_geometry(
            width,
            height,
            self.network,
            maintain_aspect_ratio=pre.maintain_aspect_ratio,
            symmetric_padding=pre.symmetric_padding,
            left=left,
            top=top,
            even_destination=self.EVEN_DESTINATION,
        )

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, ScaleGeometry]:
        """One BGR uint8 frame → the network tensor for it (no batch dim) and how it was scaled."""
        if image is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            shape = None if image is None else (image.shape, image.dtype)
            raise ValueError(f"{self.name}: expected a BGR uint8 HxWx3 frame, got {shape}")
        geometry = self.geometry(image.shape[1], image.shape[0])
        return self.tensor("BGR", (image,), geometry), geometry

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The network input of one frame: (C, H, W) for TENSOR_ORDER_LINEAR, else (H, W, C)."""
        net = self.network
        if self.model_input.tensor_order == "LINEAR":
            return (net.channels, net.height, net.width)
        return (net.height, net.width, net.channels)

    def input_batch(self, count: int) -> np.ndarray:
        """An uninitialised request of ``count`` frames, for :meth:`tensor` to fill slot by slot."""
        return np.empty((count, *self.input_shape), self._dtype)

    def tensor(
        self,
        format: str,
        planes: Sequence[np.ndarray],
        geometry: ScaleGeometry,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The network tensor (no batch dim) for the geometry's rectangle of one frame.

        ``format``/``planes`` as :func:`~.network_input.scaled_pixels` takes them: the GStreamer
        surface's frames (NV12, RGBA, …) or a BGR image. Scaling and colour conversion first (on
        the planes, cheap), then ``scale × (x − offset)`` straight into ``out`` (a slot of
        :meth:`input_batch`; a new array if None) in the network's layout, padding being black
        before normalisation. One numpy pass over the network-sized pixels, no intermediate copies.
        """
        pre, net = self.config.preprocess, self.network
        pixels = scaled_pixels(format, planes, geometry, pre.network_format, self._interpolation)
        linear = self.model_input.tensor_order == "LINEAR"
        if out is None:
            out = np.empty(self.input_shape, self._dtype)
        offsets = self._offsets[:, None, None] if linear else self._offsets
        top, left = geometry.offset_top, geometry.offset_left
        height, width = geometry.dst_height, geometry.dst_width
        if (width, height) != (net.width, net.height):
            out[...] = self._scale * -offsets  # black padding, normalised
        if linear:
            region, source = out[:, top : top + height, left : left + width], pixels.transpose(2, 0, 1)
        else:
            region, source = out[top : top + height, left : left + width], pixels
        if self._offsets.any():
            np.subtract(source, offsets, out=region, dtype=np.float32, casting="unsafe")
            region *= self._scale
        else:
            np.multiply(source, self._scale, out=region, dtype=np.float32, casting="unsafe")
        return out

    def run(self, tensors: np.ndarray | Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Infer on tensors made by :meth:`tensor` (or a whole :meth:`input_batch`), ``batch_size``
        per request; outputs per tensor.

        Each returned dict maps the requested output names to that tensor's slice of the batch
        output (views, no copies).
        """
        assert self.backend is not None
        results: list[dict[str, np.ndarray]] = []
        for start in range(0, len(tensors), self.batch_size):
            chunk = tensors[start : start + self.batch_size]
            batch = chunk if isinstance(chunk, np.ndarray) else np.stack(chunk)
            feed = {self.model_input.tensor_name: batch}
            if ORIG_TARGET_SIZES_INPUT in self.backend.inputs:
                spec = self.backend.inputs[ORIG_TARGET_SIZES_INPUT]
                size = [self.network.width, self.network.height]
                feed[ORIG_TARGET_SIZES_INPUT] = np.array([size] * len(chunk), dtype=spec.dtype)
            outputs = self.backend.infer(feed, self.output_names)
            results.extend({n: outputs[n][i] for n in self.output_names} for i in range(len(chunk)))
        return results

    def postprocess(self, outputs: Mapping[str, np.ndarray], geometry: ScaleGeometry) -> Detections:
        """One frame's output tensors → detections in muxer pixels (parse, filter, cluster, map back)."""
        det = self.config.detection
        assert det is not None and self._parse is not None, "postprocess() is for detectors"
        parsed = self._parse(outputs, self.network, det.pre_thresholds)
        kept = filter_detections(parsed, det.pre_thresholds)
        if det.clustering == "nms":
            kept = cluster_nms(kept, det.nms_iou_threshold, det.nms_topk)
        return map_to_frame(kept, geometry)

    def classify(self, outputs: Mapping[str, np.ndarray]) -> list[Attribute]:
        """One object's output tensors → its attributes (DeepStream's softmax classifier parser)."""
        cls = self.config.classification
        assert cls is not None, "classify() is for classifiers"
        return parse_attributes(outputs, cls.threshold, cls.labels)

    def _objects(self, detections: Detections) -> list[ObjectMeta]:
        labels = self.config.labels
        objects = []
        for (left, top, width, height), score, class_id in zip(
            detections.boxes.tolist(), detections.scores.tolist(), detections.class_ids.tolist(), strict=True
        ):
            objects.append(
                ObjectMeta(
                    class_id=int(class_id),
                    confidence=float(score),
                    left=left,
                    top=top,
                    width=width,
                    height=height,
                    obj_label=labels[class_id] if 0 <= class_id < len(labels) else "",
                    unique_component_id=self.config.unique_id,
                )
            )
        return objects

    # -- the old runtime's element -----------------------------------------------------------
    def process(self, batch: BatchMeta) -> BatchMeta:
        """Infer on every frame of ``batch`` and attach its objects; returns the same batch.

        ``input_control.interval`` skips that many batches after each inferred one, as the plugin
        does; skipped frames pass through untouched (but still get a latency mark).
        """
        t_in = time.monotonic()
        interval = self.config.interval
        skip = self._batches % (interval + 1) > 0
        self._batches += 1
        if skip:
            for frame in batch.frames:
                frame.latency.append((self.name, t_in, time.monotonic()))
            return batch
        for start in range(0, len(batch.frames), self.batch_size):
            chunk = batch.frames[start : start + self.batch_size]
            self._infer_frames(chunk)
            t_out = time.monotonic()
            for frame in chunk:
                frame.latency.append((self.name, t_in, t_out))
        return batch

    def _infer_frames(self, frames: Sequence[FrameMeta]) -> None:
        tensors, geometries = [], []
        for frame in frames:
            if frame.image is None:
                raise ValueError(
                    f"{self.name}: frame {frame.frame_num} of source {frame.source_id} has no image"
                )
            tensor, geometry = self.preprocess(frame.image)
            tensors.append(tensor)
            geometries.append(geometry)
        for frame, geometry, per_frame in zip(frames, geometries, self.run(tensors), strict=True):
            if self.config.detection is not None:
                frame.objects.extend(self._objects(self.postprocess(per_frame, geometry)))
            if self.config.output_tensor_meta:
                gpu_id = self.config.gpu_ids[0] if self.config.gpu_ids else 0
                meta = NvDsInferTensorMeta.of(self.config.unique_id, self.network, per_frame, gpu_id=gpu_id)
                frame.user_meta.append(meta)

    # -- life cycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Free shared memory, close the connection, stop the Triton this element started."""
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
