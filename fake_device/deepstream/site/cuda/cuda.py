"""The driver API calls of cuda-python that DeepStream samples make (see the package docstring)."""

from __future__ import annotations

import enum
from typing import Any

#: one Jetson GPU
DEVICE_COUNT = 1


class CUresult(enum.IntEnum):
    CUDA_SUCCESS = 0
    CUDA_ERROR_INVALID_VALUE = 1
    CUDA_ERROR_NOT_INITIALIZED = 3
    CUDA_ERROR_NO_DEVICE = 100
    CUDA_ERROR_INVALID_DEVICE = 101


_initialised = False


def cuInit(flags: int) -> tuple[CUresult]:
    global _initialised
    if flags != 0:
        return (CUresult.CUDA_ERROR_INVALID_VALUE,)
    _initialised = True
    return (CUresult.CUDA_SUCCESS,)


def cuDeviceGetCount() -> tuple[CUresult, int]:
    if not _initialised:
        return (CUresult.CUDA_ERROR_NOT_INITIALIZED, 0)
    return (CUresult.CUDA_SUCCESS, DEVICE_COUNT)


def __getattr__(name: str) -> Any:
    raise AttributeError(
        f"cuda.{name} is not emulated: the simulated Jetson answers only the calls DeepStream's samples "
        "make (cuInit, cuDeviceGetCount); see docs/deepstream/pyds.md",
        name=name,
    )
