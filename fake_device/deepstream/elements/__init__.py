"""The emulated DeepStream elements, one module per factory name (``nvstreammux.py`` …).

Each module exports ``ELEMENT``, a class with ``FACTORY_NAME`` and ``RANK``;
:func:`fake_device.deepstream.gst.registry.register_all` finds and registers them all.
"""
