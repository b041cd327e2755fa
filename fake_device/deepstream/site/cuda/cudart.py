"""The runtime API calls of cuda-python that DeepStream samples make (see the package docstring)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from cuda.cuda import DEVICE_COUNT


class cudaError_t(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidDevice = 101


@dataclass(frozen=True)
class cudaDeviceProp:
    """The properties the samples read, as a Jetson (Orin) reports them."""

    name: bytes = b"Orin"
    integrated: int = 1
    major: int = 8
    minor: int = 7
    multiProcessorCount: int = 16
    totalGlobalMem: int = 32 * 1024**3


def cudaGetDeviceProperties(device: int) -> tuple[cudaError_t, cudaDeviceProp | None]:
    if not 0 <= device < DEVICE_COUNT:
        return (cudaError_t.cudaErrorInvalidDevice, None)
    return (cudaError_t.cudaSuccess, cudaDeviceProp())


def cudaGetDeviceCount() -> tuple[cudaError_t, int]:
    return (cudaError_t.cudaSuccess, DEVICE_COUNT)


def __getattr__(name: str) -> Any:
    raise AttributeError(
        f"cudart.{name} is not emulated: the simulated Jetson answers only the calls DeepStream's samples "
        "make (cudaGetDeviceProperties, cudaGetDeviceCount); see docs/deepstream/pyds.md",
        name=name,
    )
