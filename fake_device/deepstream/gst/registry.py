"""DeepStream's factory names → the emulated elements, registered in-process.

Every module of :mod:`fake_device.deepstream.elements` is one element, named after its factory
(``nvstreammux.py``), and exports ``ELEMENT``: the class, with ``FACTORY_NAME`` and ``RANK``.
:func:`register_all` registers them with ``Gst.Element.register(None, name, rank, gtype)`` — a
registration without a plugin file, valid in this process only, which is what a DeepStream app's own
``Gst.init()`` triggers through the site hook (:mod:`fake_device.deepstream.site`) or ``import pyds``.

Why not a gst-python plugin on GST_PLUGIN_PATH: the registry scanner is a separate process running
the system's libpython with the system's path, so plugins importing the venv's modules fail to
register, and the registry cache goes stale (shared/reference/gstreamer.md).

A name that already has a factory is left alone: on a machine with the real DeepStream SDK the real
elements win.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import threading

from fake_device.deepstream.gst.carrier import ensure_registered
from fake_device.deepstream.gst.runtime import Gst

ELEMENTS_PACKAGE = "fake_device.deepstream.elements"

_lock = threading.Lock()
_registered: dict[str, type] = {}
_done = False


def element_modules() -> list[str]:
    """Factory names of the element modules, sorted."""
    package = importlib.import_module(ELEMENTS_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def element_class(factory_name: str) -> type:
    """The class that implements ``factory_name`` (imports its module)."""
    module = importlib.import_module(f"{ELEMENTS_PACKAGE}.{factory_name}")
    cls = getattr(module, "ELEMENT", None)
    if cls is None or getattr(cls, "FACTORY_NAME", None) != factory_name:
        raise LookupError(
            f"{module.__name__} must export ELEMENT, a class with FACTORY_NAME = {factory_name!r}"
        )
    return cls


def register(factory_name: str) -> bool:
    """Register one element; False if the name was already taken (a real DeepStream, or us)."""
    if Gst.ElementFactory.find(factory_name) is not None:
        return False
    cls = element_class(factory_name)
    if not Gst.Element.register(None, factory_name, int(cls.RANK), cls.__gtype__):
        raise RuntimeError(f"gst_element_register({factory_name}) failed")
    _registered[factory_name] = cls
    return True


def _register_stand_ins() -> None:
    """DeepStream's elements that are not emulated: stand-ins that refuse to start, saying so."""
    from fake_device.deepstream.elements._not_emulated import stand_ins

    for name, cls in stand_ins().items():
        if Gst.ElementFactory.find(name) is None and Gst.Element.register(
            None, name, Gst.Rank.NONE, cls.__gtype__
        ):
            _registered[name] = cls


def register_all() -> dict[str, type]:
    """Register every emulated element once per process; returns what this module registered.

    An element module that fails to import is reported on stderr and skipped, so one broken element
    does not take the others down: the app then fails to create that element, as it would with a
    plugin missing on a Jetson.
    """
    global _done
    if _done:
        return dict(_registered)
    with _lock:
        if _done:
            return dict(_registered)
        if not Gst.is_initialized():
            Gst.init(None)
        ensure_registered()
        for name in element_modules():
            try:
                register(name)
            except Exception as err:
                print(f"edge-harness: DeepStream element {name} not registered: {err}", file=sys.stderr)
        _register_stand_ins()
        _done = True
    return dict(_registered)
