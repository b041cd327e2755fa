"""The environment a DeepStream app process gets on the simulated device.

On a Jetson, ``python3`` has ``pyds`` and GStreamer has the nv* plugins; here three entries give a
process the same:

* ``PYTHONPATH`` starts with the site directory (:mod:`fake_device.deepstream.site`): its
  ``sitecustomize`` registers the nv* elements when the app initialises GStreamer, and it holds the
  ``pyds`` stand-in. Existing entries are kept after it.
* ``PATH`` starts with the site directory's ``bin/`` (a ``gst-launch-1.0`` that knows the nv*
  elements), then the directory of this interpreter, so ``python3`` is the interpreter that carries
  the emulation, as the Jetson's system Python carries pyds.
* nothing else: no GST_* variable is needed for in-process registration (GST_PLUGIN_PATH or
  GST_REGISTRY_FORK would only matter for a plugin file, which the emulation does not use).

Only component processes get this — never the harness's own interpreter, whose imports must not
change under it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent.parent / "site"
BIN_DIR = SITE_DIR / "bin"
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def _prepend(entries: list[str], existing: str) -> str:
    """``entries`` first, then ``existing`` without duplicates of them (idempotent)."""
    rest = [p for p in existing.split(os.pathsep) if p and p not in entries] if existing else []
    return os.pathsep.join([*entries, *rest])


def deepstream_environment(base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with the site directory on PYTHONPATH and the stand-in tools on PATH."""
    env = dict(base)
    env["PYTHONPATH"] = _prepend([str(SITE_DIR)], base.get("PYTHONPATH", ""))
    interpreter_dir = str(Path(sys.executable).parent)
    env["PATH"] = _prepend([str(BIN_DIR), interpreter_dir], base.get("PATH", _DEFAULT_PATH))
    return env
