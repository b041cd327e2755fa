"""Put on the PYTHONPATH of component processes only (never the harness's own interpreter).

It holds what a Jetson's Python has and a CPU machine lacks: ``sitecustomize.py`` (registers the
emulated nv* elements when the app initialises GStreamer), the ``pyds`` stand-in, and ``bin/`` with
a ``gst-launch-1.0`` that knows the nv* elements. See docs/deepstream/gstreamer.md.

This file only makes the directory part of the installed package; nothing imports it.
"""
