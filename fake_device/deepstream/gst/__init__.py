"""DeepStream's GStreamer elements on real GStreamer 1.22, emulated on CPU.

A team's unmodified DeepStream app builds its pipeline with ``Gst.ElementFactory.make("nvstreammux")``
and reads metadata with ``pyds``; here those factory names resolve to Python elements registered
in-process (:mod:`.registry`), the NvDsBatchMeta travels on the buffer in a GstCustomMeta
(:mod:`.carrier`), and "NVMM" surfaces are ordinary system memory holding the batch's frames one after
another (:mod:`.surface`, :mod:`.caps`).

The package itself imports nothing: the nucleus imports :mod:`.environment` without loading
GStreamer. Modules that need GStreamer import it from :mod:`.runtime`.
"""
