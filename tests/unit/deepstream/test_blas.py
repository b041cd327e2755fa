"""numpy's OpenBLAS limited to one thread in a DeepStream app process (its idle pool spins)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECK = textwrap.dedent(
    """
    import ctypes
    import numpy as np
    from fake_device.deepstream.blas import _loaded_openblas, single_threaded_blas

    np.linalg.solve(np.eye(4) * 2.0, np.ones(4))  # the pool exists once BLAS has been used
    (path,) = _loaded_openblas()
    library = ctypes.CDLL(path)
    get = getattr(library, "openblas_get_num_threads64_", None) or library.openblas_get_num_threads
    get.restype = ctypes.c_int
    before = get()
    applied = single_threaded_blas()
    print(before, applied, get(), single_threaded_blas())
    """
)


def test_openblas_is_set_to_one_thread_once_per_process() -> None:
    # a process of its own: the setting is process-wide and would leak into other tests
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        timeout=60,
        env={"OPENBLAS_NUM_THREADS": "2"},
    )
    assert done.returncode == 0, done.stderr
    before, applied, after, again = done.stdout.split()
    assert before == "2", "the pool had two threads to begin with"
    assert (applied, after, again) == ("True", "1", "True")
