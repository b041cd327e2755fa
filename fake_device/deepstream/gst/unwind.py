"""Keep C++ exceptions working in a process that loads GStreamer.

Debian's libgstreamer links libunwind, and GModule loads it into the process's global symbol
scope. A C++ library loaded after that (ONNX Runtime, for nvinfer) binds its ``_Unwind_*`` calls to
libunwind instead of libgcc_s, which libstdc++ unwinds with, and the first exception it throws —
a model file it cannot parse, a tensor of the wrong shape — kills the process with SIGSEGV or
SIGABRT instead of becoming a Python exception (seen when OpenCV was imported before GStreamer).
Putting libgcc_s in the global scope first makes every later library bind to it.
"""

from __future__ import annotations

import contextlib
import ctypes


def keep_cxx_exceptions() -> None:
    """Load libgcc_s with RTLD_GLOBAL; call before GStreamer's library is loaded (idempotent)."""
    with contextlib.suppress(OSError):  # no libgcc_s.so.1 (not glibc): nothing to fix
        ctypes.CDLL("libgcc_s.so.1", mode=ctypes.RTLD_GLOBAL)
