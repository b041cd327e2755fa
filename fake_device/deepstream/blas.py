"""One BLAS thread for the emulated elements: numpy's OpenBLAS pool spins between calls.

The emulated tracker does its Kalman maths with numpy on matrices of 4 to 8 rows, which OpenBLAS
(the BLAS numpy ships with) computes no faster with more threads. But each LAPACK call from a
streaming thread wakes OpenBLAS's worker pool, and the workers then busy-wait for their next job:
measured on the traffic app (2 cores, 10 s of 720p30), the pool of the tracker's thread burnt
10 s of CPU for 0.5 s of tracking — 40 % of the whole process's CPU, taken from inference and
decoding. With one BLAS thread the work is done in the calling thread and nothing spins.

The setting is the process's (OpenBLAS has one pool): a DeepStream app process on the simulated
device runs the emulated elements, and those are the BLAS users that matter there. It is applied
with OpenBLAS's own ``openblas_set_num_threads`` (``…64_`` in numpy's ILP64 build), found among the
libraries the process has loaded; without OpenBLAS (another BLAS, or none) nothing is changed.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

_SETTERS = ("openblas_set_num_threads64_", "openblas_set_num_threads")
_lock = threading.Lock()
_applied: bool | None = None


def _loaded_openblas() -> list[str]:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower() and "/" in line}
    return sorted(paths)


def single_threaded_blas() -> bool:
    """Limit OpenBLAS to the calling thread (once per process); True when OpenBLAS was found."""
    global _applied
    with _lock:
        if _applied is not None:
            return _applied
        import numpy  # noqa: F401  (loads numpy's OpenBLAS, if it is not loaded yet)

        _applied = False
        for path in _loaded_openblas():
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for name in _SETTERS:
                setter = getattr(library, name, None)
                if setter is not None:
                    setter.argtypes = [ctypes.c_int]
                    setter.restype = None
                    setter(1)
                    _applied = True
                    break
        return _applied
