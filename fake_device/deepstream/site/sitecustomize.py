"""Registers the emulated nv* elements in a DeepStream app that never names edge-harness.

Python imports ``sitecustomize`` at start-up from the first PYTHONPATH entry that has one; this
directory is on the PYTHONPATH of component processes only. Start-up stays cheap: all this does is
put an import hook in front of ``sys.meta_path``. When the app later runs ``from gi.repository import
Gst``, the hook

1. imports ``GstBase`` right after ``Gst`` — before the app can create a C BaseTransform (a
   capsfilter), which would otherwise leave PyGObject with an empty placeholder class and break every
   Python BaseTransform element;
2. wraps ``Gst.init`` and ``Gst.init_check`` so that, right after the app initialises GStreamer, the
   elements are registered under DeepStream's factory names — so an app that never imports ``pyds``
   still finds ``nvstreammux``.

Then the hook removes itself. Another ``sitecustomize`` further down the path (Debian ships one) is
run afterwards, as if this one were not there.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

_GST_MODULE = "gi.repository.Gst"


def _register_elements() -> None:
    try:
        from fake_device.deepstream.gst.registry import register_all
    except Exception as err:  # not the harness's interpreter: the app will miss nv* elements
        print(f"edge-harness: DeepStream elements unavailable: {err}", file=sys.stderr)
        return
    register_all()


def _wrap_init(gst: ModuleType) -> None:
    if getattr(gst, "_edge_harness_wrapped", False):
        return
    for name in ("init", "init_check"):
        original = getattr(gst, name)

        def wrapped(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            result = _original(*args, **kwargs)
            _register_elements()
            return result

        wrapped.__doc__ = original.__doc__
        wrapped.__wrapped__ = original  # type: ignore[attr-defined]  (the emulation's own init uses it)
        setattr(gst, name, wrapped)
    gst._edge_harness_wrapped = True  # type: ignore[attr-defined]


class _GstLoader(importlib.abc.Loader):
    """gi's loader for ``gi.repository.Gst``, plus the two steps above after it."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with contextlib.suppress(ImportError):  # before libgstreamer loads: gst/unwind.py says why
            from fake_device.deepstream.gst.unwind import keep_cxx_exceptions

            keep_cxx_exceptions()
        self._inner.exec_module(module)
        import gi

        gi.require_version("GstBase", "1.0")
        from gi.repository import GstBase  # noqa: F401

        _wrap_init(sys.modules.get(_GST_MODULE, module))


class _GstImportHook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != _GST_MODULE:
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _GstLoader(spec.loader)
        return spec


def _install() -> None:
    if _GST_MODULE in sys.modules:  # imported already (an odd start-up): wrap it directly
        from gi.repository import GstBase  # noqa: F401

        _wrap_init(sys.modules[_GST_MODULE])
        return
    if not any(isinstance(f, _GstImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _GstImportHook())


def _chain_next_sitecustomize() -> None:
    """Run the ``sitecustomize`` this one shadows (Debian's apport hook, a venv's own)."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # as site.py does: a broken sitecustomize is reported, not fatal
        print(f"Error in sitecustomize {spec.origin}: {err}", file=sys.stderr)


_install()
_chain_next_sitecustomize()
