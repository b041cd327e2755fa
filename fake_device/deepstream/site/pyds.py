"""``import pyds`` in a DeepStream app on the simulated Jetson.

NVIDIA's pyds is a pybind11 extension over DeepStream's C libraries; this directory is on the
PYTHONPATH of component processes only, so the same app finds the CPU emulation under the same
name. Everything lives in :mod:`fake_device.deepstream.pyds_api` (see docs/deepstream/pyds.md).
"""

from fake_device.deepstream.pyds_api import *  # noqa: F403
from fake_device.deepstream.pyds_api import __all__, __getattr__, __version__  # noqa: F401
