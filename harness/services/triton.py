"""The Triton service: the real tritonserver 2.51 from the nvidia-pytriton wheel, on 127.0.0.1.

What it takes to run that binary outside pytriton (each verified on Debian 12 / Python 3.11):

* **Backend directory.** The wheel ships ``backends/python`` without the
  ``triton_python_backend_stub``; the stub for each Python version lives in
  ``python_backend_stubs/<major.minor>/``. The service builds ``<workdir>/backends/python`` from
  copies (≈3 MB, milliseconds), never touching site-packages. The work directory rather than a
  shared cache: nothing to invalidate when the wheel is upgraded, no races between concurrent
  servers, and it goes away with the service.
* **Libraries.** The copied ``libtriton_python.so`` and stub find the wheel's bundled libraries
  (libcudart, libarchive, …) through an ``$ORIGIN``-relative RPATH that a copy breaks, so
  ``LD_LIBRARY_PATH`` gets ``nvidia_pytriton.libs``. Those libraries all carry hashed sonames, so
  they shadow nothing else. The stub also needs the *system* ``libpython3.X.so`` (checked with
  ``ldd`` before starting).
* **The stub's interpreter.** The stub embeds Python with an *isolated* configuration
  (``PyConfig_InitIsolatedConfig``): ``PYTHONPATH`` and ``PYTHONHOME`` are ignored. CPython then
  derives ``sys.prefix`` from the first ``python3`` on ``PATH`` (and that interpreter's
  ``pyvenv.cfg``), so ``PATH`` starts with the running interpreter's directory; the stub then sees
  the same site-packages (numpy, onnxruntime) as the harness. pytriton does the same.
* **Shared memory names.** The python backend names its shared memory regions
  ``<prefix><counter>`` with the same default prefix in every server, so two servers on one machine
  would collide; each server gets its own prefix.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from harness.errors import HarnessError
from harness.services.base import LOOPBACK, ProcessService, ServiceError, log_tail
from harness.services.ports import free_ports
from harness.services.smoke_model import write_smoke_repository
from harness.services.triton_repository import (
    EMULATED_ONNX,
    StagedModel,
    StagedRepository,
    stage_model_repository,
)

log = logging.getLogger(__name__)

MODEL_CONTROL_MODES = ("none", "explicit", "poll")
#: tolerance of check() when comparing served outputs with direct ONNX Runtime
RTOL, ATOL = 1e-4, 1e-5
#: size used by check() for variable (-1) non-batch dimensions
VARIABLE_DIM_SIZE = 8
#: how long tritonserver waits for open connections / in-flight requests when stopped
EXIT_TIMEOUT_SECS = 2
#: where POSIX shared memory regions live (the python backend's and the clients')
SHM_DIR = Path("/dev/shm")


# --- the binary and its backend ------------------------------------------------------------------


@dataclass(frozen=True)
class TritonDistribution:
    """Where the nvidia-pytriton wheel keeps tritonserver and the python backend."""

    root: Path  # .../pytriton/tritonserver
    binary: Path
    python_backend: Path  # .../backends/python (libtriton_python.so, triton_python_backend_utils.py)
    stub: Path  # .../python_backend_stubs/<X.Y>/triton_python_backend_stub
    libs: Path | None  # .../nvidia_pytriton.libs (auditwheel's bundled libraries)


def locate_tritonserver(python_version: str | None = None) -> TritonDistribution:
    """Find tritonserver and the python backend stub for this Python in the nvidia-pytriton wheel."""
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(
            "triton: the nvidia-pytriton package (which ships tritonserver) is not installed",
            hint="pip install -e . (or pip install 'nvidia-pytriton>=0.7.0')",
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    root = package / "tritonserver"
    binary = root / "bin" / "tritonserver"
    python_backend = root / "backends" / "python"
    for needed in (binary, python_backend / "libtriton_python.so"):
        if not needed.exists():
            raise ServiceError(
                f"triton: {needed} is missing from the nvidia-pytriton package",
                hint="reinstall it: pip install --force-reinstall 'nvidia-pytriton>=0.7.0'",
            )
    stubs = root / "python_backend_stubs"
    stub = stubs / python_version / "triton_python_backend_stub"
    if not stub.exists():
        available = sorted(p.name for p in stubs.iterdir()) if stubs.is_dir() else []
        raise ServiceError(
            f"triton: nvidia-pytriton has no python backend stub for Python {python_version} "
            f"(it has: {', '.join(available) or 'none'})",
            hint="run edge-harness with one of those Python versions",
        )
    libs = package.parent / "nvidia_pytriton.libs"
    return TritonDistribution(root, binary, python_backend, stub, libs if libs.is_dir() else None)


def build_backend_directory(dist: TritonDistribution, dest: Path) -> Path:
    """Lay out ``dest/python/`` as tritonserver's ``--backend-directory`` expects; return ``dest``."""
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        shutil.copy2(dist.python_backend / name, python_dir / name)
    shutil.copy2(dist.stub, python_dir / "triton_python_backend_stub")
    return dest


def check_stub_libraries(stub: Path, env: Mapping[str, str]) -> None:
    """Fail early, with the fix, when the stub cannot load its libraries (usually libpython)."""
    ldd = shutil.which("ldd")
    if ldd is None:  # nothing to ask; a failure will show in the server log instead
        return
    result = subprocess.run([ldd, str(stub)], capture_output=True, text=True, env=dict(env), check=False)
    missing = re.findall(r"^\s*(\S+) => not found", result.stdout, flags=re.MULTILINE)
    if not missing:
        return
    hint = "reinstall nvidia-pytriton"
    libpython = [m for m in missing if m.startswith("libpython")]
    if libpython:
        version = re.sub(r"^libpython(\d+\.\d+).*", r"\1", libpython[0])
        hint = f"the stub embeds the system Python: apt-get install libpython{version}"
    raise ServiceError(
        f"triton: the python backend stub cannot load {', '.join(missing)} ({stub})", hint=hint
    )


def _python_bin_dir(workdir: Path) -> Path:
    """A directory whose ``python3`` is the running interpreter, to put first on the stub's PATH.

    The interpreter's own directory when it has a ``python3`` (venvs always do), because CPython
    finds a venv's ``pyvenv.cfg`` next to the *unresolved* executable; otherwise a symlink.
    """
    here = Path(sys.executable).parent
    if (here / "python3").exists():
        return here
    shim = workdir / "python-bin"
    shim.mkdir(exist_ok=True)
    link = shim / "python3"
    if not link.exists():
        link.symlink_to(sys.executable)
    return shim


# --- the service ---------------------------------------------------------------------------------


class TritonServer(ProcessService):
    """tritonserver serving a staged copy of a model repository on 127.0.0.1.

    ``model_repository=None`` serves the built-in smoke repository. ``model_control_mode`` is
    tritonserver's: ``none`` loads every model at start-up and exits if one fails; ``explicit``
    loads only ``load_models`` (all models are staged, so clients can load/unload any of them
    through the repository API); ``poll`` reloads what changes in the staged repository
    (see :meth:`restage`).
    """

    name = "triton"
    port_conflict_markers = (*ProcessService.port_conflict_markers, "already in use")

    def __init__(
        self,
        model_repository: Path | None = None,
        *,
        model_control_mode: str = "none",
        load_models: Sequence[str] = (),
        workdir: Path | None = None,
        startup_timeout: float = 120.0,
        log_verbose: int = 0,
        intra_op_thread_count: int | None = None,
    ) -> None:
        if model_control_mode not in MODEL_CONTROL_MODES:
            raise ValueError(
                f"model_control_mode must be one of {MODEL_CONTROL_MODES}, not {model_control_mode!r}"
            )
        if load_models and model_control_mode != "explicit":
            raise ValueError(
                "load_models needs model_control_mode='explicit' (as tritonserver's --load-model)"
            )
        super().__init__(workdir=workdir, startup_timeout=startup_timeout)
        self.model_repository = Path(model_repository) if model_repository is not None else None
        self.model_control_mode = model_control_mode
        self.load_models = tuple(load_models)
        self.log_verbose = log_verbose
        self.intra_op_thread_count = intra_op_thread_count
        self._ports: dict[str, int] = {}
        self._dist: TritonDistribution | None = None
        self._backend_dir: Path | None = None
        self._python_bin: Path | None = None
        self._staged: StagedRepository | None = None
        self._shm_prefix = ""

    # -- endpoints ---------------------------------------------------------------------------
    @property
    def endpoints(self) -> dict[str, str]:
        return {name: f"{LOOPBACK}:{port}" for name, port in self._ports.items()}

    @property
    def http_url(self) -> str:
        """``host:port`` of the HTTP/REST endpoint, as ``tritonclient.http`` takes it."""
        return self._endpoint("http")

    @property
    def grpc_url(self) -> str:
        """``host:port`` of the gRPC endpoint, as ``tritonclient.grpc`` takes it."""
        return self._endpoint("grpc")

    @property
    def metrics_url(self) -> str:
        """``host:port`` of the Prometheus metrics endpoint (``/metrics``)."""
        return self._endpoint("metrics")

    @property
    def staged_repository(self) -> Path:
        """The model repository tritonserver actually serves (a staged copy of the source)."""
        return self.staging.root

    @property
    def staging(self) -> StagedRepository:
        """What staging did: staged models, skipped models, warnings."""
        if self._staged is None:
            raise ServiceError("triton: not started, nothing is staged yet")
        return self._staged

    def environment(self) -> dict[str, str]:
        return {
            "TRITON_HTTP_URL": self.http_url,
            "TRITON_GRPC_URL": self.grpc_url,
            "TRITON_METRICS_URL": self.metrics_url,
        }

    def _endpoint(self, name: str) -> str:
        if name not in self._ports:
            raise ServiceError(f"triton: not started, no {name} endpoint yet")
        return f"{LOOPBACK}:{self._ports[name]}"

    # -- clients -----------------------------------------------------------------------------
    def http_client(self, **kwargs: Any) -> Any:
        """A ``tritonclient.http.InferenceServerClient`` for this server."""
        import tritonclient.http as httpclient

        return httpclient.InferenceServerClient(self.http_url, **kwargs)

    def grpc_client(self, **kwargs: Any) -> Any:
        """A ``tritonclient.grpc.InferenceServerClient`` for this server."""
        import tritonclient.grpc as grpcclient

        return grpcclient.InferenceServerClient(self.grpc_url, **kwargs)

    # -- ProcessService hooks ----------------------------------------------------------------
    def prepare(self) -> None:
        assert self.workdir is not None
        self._dist = locate_tritonserver()
        self._python_bin = _python_bin_dir(self.workdir)
        check_stub_libraries(self._dist.stub, {**os.environ, **self.process_environment()})
        backend_dir = self.workdir / "backends"
        shutil.rmtree(backend_dir, ignore_errors=True)
        self._backend_dir = build_backend_directory(self._dist, backend_dir)
        source = self.model_repository
        if source is None:
            source = write_smoke_repository(self.workdir / "smoke-repository")
        staged_root = self.workdir / "model_repository"
        shutil.rmtree(staged_root, ignore_errors=True)
        self._staged = stage_model_repository(
            source, staged_root, intra_op_thread_count=self.intra_op_thread_count
        )
        unknown = [m for m in self.load_models if m not in self._staged.models]
        if unknown:
            raise HarnessError(
                f"triton: cannot load {', '.join(map(repr, unknown))}: not a served model of {source}",
                hint=f"served models: {', '.join(sorted(self._staged.models)) or 'none'}"
                + (
                    f"; not served: {', '.join(sorted(self._staged.skipped))}" if self._staged.skipped else ""
                ),
            )
        self._shm_prefix = f"eh_triton_{os.getpid()}_{secrets.token_hex(4)}_"

    def allocate_ports(self) -> None:
        http_port, grpc_port, metrics_port = free_ports(3)
        self._ports = {"http": http_port, "grpc": grpc_port, "metrics": metrics_port}

    def command(self) -> list[str]:
        assert self._dist is not None and self._backend_dir is not None and self._staged is not None
        cmd = [
            str(self._dist.binary),
            "--model-repository", str(self._staged.root),
            "--backend-directory", str(self._backend_dir),
            "--backend-config", f"python,shm-region-prefix-name={self._shm_prefix}",
            "--http-address", LOOPBACK, "--http-port", str(self._ports["http"]),
            "--grpc-address", LOOPBACK, "--grpc-port", str(self._ports["grpc"]),
            "--metrics-address", LOOPBACK, "--metrics-port", str(self._ports["metrics"]),
        ]  # fmt: skip
        return cmd + self.server_options()

    def server_options(self) -> list[str]:
        """The options that do not depend on where the server runs (process or container)."""
        options = [
            "--model-control-mode", self.model_control_mode,
            # A model that fails to load at start-up makes the server exit: the start error then
            # carries the reason from the log at once, instead of a readiness timeout.
            "--exit-on-error", "true",
            # On SIGTERM tritonserver waits for open HTTP connections and in-flight requests, by
            # default 30 s; a client that keeps a keep-alive connection open would hold up stop().
            "--exit-timeout-secs", str(EXIT_TIMEOUT_SECS),
            "--log-verbose", str(self.log_verbose),
        ]  # fmt: skip
        for model in self.load_models:
            options += ["--load-model", model]
        if self.model_control_mode == "poll":
            options += ["--repository-poll-secs", "1"]
        return options

    def process_environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self._dist is not None and self._dist.libs is not None:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                p for p in (str(self._dist.libs), os.environ.get("LD_LIBRARY_PATH", "")) if p
            )
        if self._python_bin is not None:
            env["PATH"] = os.pathsep.join(p for p in (str(self._python_bin), os.environ.get("PATH", "")) if p)
        return env

    def probe_ready(self) -> bool:
        # Triton's readiness: 200 once every model loaded at start-up is READY (strict readiness).
        conn = http.client.HTTPConnection(LOOPBACK, self._ports["http"], timeout=1.0)
        try:
            conn.request("GET", "/v2/health/ready")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def _discard_workdir(self) -> None:
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def cleanup(self) -> None:
        # tritonserver unlinks its python backend regions when it exits cleanly, not when it is
        # killed; its own prefix makes what is left behind ours to remove.
        if self._shm_prefix and SHM_DIR.is_dir():
            for region in SHM_DIR.glob(self._shm_prefix + "*"):
                with contextlib.suppress(OSError):
                    region.unlink()

    def start_hint(self) -> str | None:
        return "rerun with log_verbose=1 for the python backend's details; the full log is named above"

    def start(self) -> Self:
        try:
            return super().start()
        except HarnessError as err:
            if not isinstance(err, ServiceError) or self.log_path is None or not self.log_path.exists():
                # Refused before tritonserver ran (e.g. an invalid repository): no log worth keeping.
                self._discard_workdir()
                raise
            failures = failed_model_loads(log_tail(self.log_path, 400))
            if not failures:
                raise
            summary = "; ".join(
                f"model {name!r} version {version}: {reason}" for name, version, reason in failures
            )
            raise ServiceError(f"triton: failed to load {summary}\n{err.message}", hint=err.hint) from err

    # -- models ------------------------------------------------------------------------------
    def restage(self) -> StagedRepository:
        """Stage the source repository again (e.g. after a new model version was added).

        With ``model_control_mode="poll"`` the server picks the change up by itself; with
        ``"explicit"`` call ``client.load_model(name)`` to (re)load. Each model directory is
        replaced by a rename, so the server never sees a half-copied model.
        """
        if self._staged is None or self.workdir is None:
            raise ServiceError("triton: not started, nothing to restage")
        fresh_root = self.workdir / f"model_repository.new-{secrets.token_hex(3)}"
        fresh = stage_model_repository(
            self._staged.source, fresh_root, intra_op_thread_count=self.intra_op_thread_count
        )
        root = self._staged.root
        for model_dir in list(root.iterdir()):
            if model_dir.name not in fresh.models:
                shutil.rmtree(model_dir, ignore_errors=True)
        for name, model in fresh.models.items():
            old = root / model.staged.name
            trash = fresh_root / f".old-{name}"
            if old.exists():
                old.rename(trash)
            model.staged.rename(old)
        shutil.rmtree(fresh_root, ignore_errors=True)
        fresh.root = root
        fresh.models = {
            name: StagedModel(m.name, m.kind, m.source, root / m.staged.name, m.config, m.onnx_files)
            for name, m in fresh.models.items()
        }
        self._staged = fresh
        return fresh

    # -- check -------------------------------------------------------------------------------
    def check(self) -> str:
        """Infer on every READY model through HTTP and gRPC; compare emulated ONNX models with ORT."""
        http_client, grpc_client = self.http_client(), self.grpc_client()
        try:
            index = http_client.get_model_repository_index()
            ready = [(m["name"], m.get("version", "")) for m in index if m.get("state") == "READY"]
            if not ready:
                return "server ready, no model loaded"
            compared = 0
            for name, version in ready:
                config = http_client.get_model_config(name, version)
                inputs = example_inputs(config, seed=_seed(name, version))
                outputs = [o["name"] for o in config.get("output", [])]
                via_http = infer(http_client, name, inputs, outputs, version=version)
                via_grpc = infer(grpc_client, name, inputs, outputs, version=version)
                _compare(f"{name} v{version}: gRPC vs HTTP", via_grpc, via_http)
                staged = self._staged.models.get(name) if self._staged else None
                if staged is not None and staged.kind == EMULATED_ONNX and version:
                    expected = run_onnxruntime(staged.onnx_files[int(version)], config, inputs)
                    _compare(f"{name} v{version}: HTTP vs ONNX Runtime", via_http, expected)
                    _compare(f"{name} v{version}: gRPC vs ONNX Runtime", via_grpc, expected)
                    compared += 1
        finally:
            with contextlib.suppress(Exception):
                http_client.close()
            with contextlib.suppress(Exception):
                grpc_client.close()
        plural = "s" if len(ready) != 1 else ""
        if compared == len(ready):
            return f"{len(ready)} model{plural}, HTTP+gRPC inference matches ONNX Runtime"
        return f"{len(ready)} model{plural}, HTTP and gRPC agree ({compared} compared with ONNX Runtime)"


# --- log parsing ---------------------------------------------------------------------------------

_LOAD_FAILURE = re.compile(r"failed to load '(?P<name>[^']+)' version (?P<version>\d+): (?P<reason>.*?)\"?$")


def failed_model_loads(log_text: str) -> list[tuple[str, str, str]]:
    """``(model, version, first line of the reason)`` for each load failure tritonserver logged."""
    failures: dict[tuple[str, str], str] = {}
    for line in log_text.splitlines():
        match = _LOAD_FAILURE.search(line)
        if match:
            # Triton logs the reason JSON-escaped; the first line is the error, the rest a traceback.
            reason = match.group("reason").split("\\n")[0].replace('\\"', '"').strip()
            failures[(match.group("name"), match.group("version"))] = reason
    return [(name, version, reason) for (name, version), reason in failures.items()]


# --- inference helpers (used by check(), tests and benchmarks) ----------------------------------


def _seed(name: str, version: str) -> int:
    return sum(f"{name}/{version}".encode()) % (2**31)


def example_inputs(config: Mapping[str, Any], seed: int = 0, batch: int = 1) -> dict[str, np.ndarray]:
    """Deterministic random inputs for a model config as the HTTP/gRPC API returns it (JSON form).

    Batched models (max_batch_size > 0) get a leading batch dimension of ``batch``; variable
    dimensions (-1) get :data:`VARIABLE_DIM_SIZE`.
    """
    from tritonclient.utils import triton_to_np_dtype

    rng = np.random.default_rng(seed)
    inputs = {}
    for spec in config.get("input", []):
        dims = [int(d) if int(d) >= 0 else VARIABLE_DIM_SIZE for d in spec.get("dims", [])]
        shape = ([batch] if int(config.get("max_batch_size", 0)) > 0 else []) + dims
        datatype = spec["data_type"].removeprefix("TYPE_")
        if datatype == "STRING":
            inputs[spec["name"]] = np.full(shape, b"edge-harness", dtype=np.object_)
            continue
        dtype = np.dtype(triton_to_np_dtype(datatype))
        if dtype.kind == "f":
            value = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            value = rng.random(shape) < 0.5
        else:
            value = rng.integers(0, 8, size=shape).astype(dtype)
        inputs[spec["name"]] = value
    return inputs


def _client_module(client: Any) -> Any:
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    return grpcclient if isinstance(client, grpcclient.InferenceServerClient) else httpclient


def _datatype(array: np.ndarray) -> str:
    from tritonclient.utils import np_to_triton_dtype

    return "BYTES" if array.dtype == np.object_ else np_to_triton_dtype(array.dtype)


def infer(
    client: Any,
    model: str,
    inputs: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    *,
    version: str = "",
) -> dict[str, np.ndarray]:
    """One inference through a tritonclient HTTP or gRPC client; returns outputs by name."""
    module = _client_module(client)
    infer_inputs = []
    for name, array in inputs.items():
        item = module.InferInput(name, list(array.shape), _datatype(array))
        item.set_data_from_numpy(array)
        infer_inputs.append(item)
    requested = [module.InferRequestedOutput(name) for name in outputs]
    result = client.infer(model, infer_inputs, model_version=version, outputs=requested)
    return {name: result.as_numpy(name) for name in outputs}


def run_onnxruntime(
    onnx_file: Path, config: Mapping[str, Any], inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """What Triton's onnxruntime backend would return: ``onnx_file`` run directly on the CPU.

    Inputs/outputs with a ``reshape`` are reshaped as Triton does between the API and the model.
    """
    import onnxruntime as ort

    path = onnx_file / "model.onnx" if onnx_file.is_dir() else onnx_file
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    batched = int(config.get("max_batch_size", 0)) > 0
    ort_types = {i.name: i.type for i in session.get_inputs()}
    feed = {}
    for spec in config.get("input", []):
        name = spec["name"]
        if name not in inputs:
            continue
        value = inputs[name]
        if spec.get("reshape"):
            shape = [int(d) for d in spec["reshape"].get("shape", [])]
            value = value.reshape(([value.shape[0]] if batched else []) + shape)
        if ort_types.get(name) == "tensor(string)":
            value = np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])(value)
        feed[name] = value
    names = [o["name"] for o in config.get("output", [])]
    return dict(zip(names, session.run(names, feed), strict=True))


def _compare(what: str, actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]) -> None:
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            raise ServiceError(f"triton check: {what}: output {name} missing")
        want = np.asarray(want)
        if got.size == want.size and got.shape != want.shape:
            want = want.reshape(got.shape)  # an output with reshape: Triton reports the config dims
        if got.shape != want.shape:
            raise ServiceError(
                f"triton check: {what}: output {name} shape {list(got.shape)} != {list(want.shape)}"
            )
        if got.dtype == np.object_ or want.dtype == np.object_:
            same = [
                (g.decode() if isinstance(g, bytes) else g) == (w.decode() if isinstance(w, bytes) else w)
                for g, w in zip(got.ravel(), want.ravel(), strict=True)
            ]
            if not all(same):
                raise ServiceError(f"triton check: {what}: output {name} differs")
            continue
        if not np.allclose(got, want, rtol=RTOL, atol=ATOL):
            diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
            raise ServiceError(
                f"triton check: {what}: output {name} differs, max abs diff {diff:.3g} "
                f"(rtol {RTOL}, atol {ATOL})"
            )


# --- system shared memory ------------------------------------------------------------------------


class SystemSharedMemoryIO:
    """Inputs and outputs of one model in POSIX shared memory registered with the server.

    Tensors then cross between client and server without going through the socket (Triton's
    "system shared memory" extension); useful for large images on the same host. Create once,
    call :meth:`infer` many times, close (or use as a context manager) to unregister and free.
    """

    def __init__(
        self,
        client: Any,
        model: str,
        inputs: Mapping[str, np.ndarray],
        output_byte_sizes: Mapping[str, int],
        *,
        version: str = "",
    ) -> None:
        import tritonclient.utils.shared_memory as shm

        self._shm = shm
        self.client = client
        self.model = model
        self.version = version
        self._module = _client_module(client)
        self._regions: dict[str, tuple[str, Any]] = {}
        tag = secrets.token_hex(4)
        try:
            for direction, sizes in (
                ("in", {n: a.nbytes for n, a in inputs.items()}),
                ("out", dict(output_byte_sizes)),
            ):
                for name, size in sizes.items():
                    region = f"eh_{tag}_{direction}_{name}"
                    handle = shm.create_shared_memory_region(region, "/" + region, int(size))
                    self._regions[f"{direction}:{name}"] = (region, handle)
                    client.register_system_shared_memory(region, "/" + region, int(size))
        except BaseException:
            self.close()
            raise
        self._input_specs = {n: (list(a.shape), _datatype(a), a.nbytes) for n, a in inputs.items()}
        self._output_sizes = dict(output_byte_sizes)

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Write ``inputs`` into their regions, infer, and return copies of the outputs."""
        infer_inputs = []
        for name, array in inputs.items():
            region, handle = self._regions[f"in:{name}"]
            self._shm.set_shared_memory_region(handle, [np.ascontiguousarray(array)])
            item = self._module.InferInput(name, list(array.shape), _datatype(array))
            item.set_shared_memory(region, array.nbytes)
            infer_inputs.append(item)
        requested = []
        for name, size in self._output_sizes.items():
            item = self._module.InferRequestedOutput(name)
            item.set_shared_memory(self._regions[f"out:{name}"][0], size)
            requested.append(item)
        result = self.client.infer(self.model, infer_inputs, model_version=self.version, outputs=requested)
        from tritonclient.utils import triton_to_np_dtype

        outputs = {}
        for name in self._output_sizes:
            meta = result.get_output(name)
            shape = list(meta["shape"]) if isinstance(meta, dict) else list(meta.shape)
            datatype = meta["datatype"] if isinstance(meta, dict) else meta.datatype
            array = self._shm.get_contents_as_numpy(
                self._regions[f"out:{name}"][1], triton_to_np_dtype(datatype), shape
            )
            outputs[name] = np.array(array, copy=True)
        return outputs

    def close(self) -> None:
        for region, handle in self._regions.values():
            with contextlib.suppress(Exception):
                self.client.unregister_system_shared_memory(region)
            with contextlib.suppress(Exception):
                self._shm.destroy_shared_memory_region(handle)
        self._regions.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
