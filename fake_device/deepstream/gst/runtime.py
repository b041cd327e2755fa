"""GStreamer for the emulated elements: the GI versions pinned, ``GstBase`` loaded first, initialised.

``GstBase`` must be imported before anything else can wrap a C BaseTransform: if an app creates a
capsfilter before ``GstBase`` is loaded, PyGObject builds an empty placeholder class and every Python
``BaseTransform`` subclass loses its virtual methods.
"""

from __future__ import annotations

import gi

from fake_device.deepstream.gst.unwind import keep_cxx_exceptions

keep_cxx_exceptions()  # before libgstreamer (and its libunwind) is loaded: see unwind.py

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
gi.require_version("GstVideo", "1.0")

# GstBase is loaded here, before any app code can wrap a C BaseTransform (see above)
from gi.repository import GLib, GObject, Gst, GstBase, GstVideo  # noqa: E402

if not Gst.is_initialized():
    # Pad templates and caps are built at class definition; an app that imports pyds before
    # Gst.init() would otherwise get "Gst.init() not called" errors. Initialising twice is harmless.
    # In a component process Gst.init is wrapped to register the elements (site/sitecustomize.py);
    # the emulation's own initialisation calls the original, or registering would import the
    # emulation while it is being imported.
    getattr(Gst.init, "__wrapped__", Gst.init)(None)

__all__ = ["GLib", "GObject", "Gst", "GstBase", "GstVideo"]
