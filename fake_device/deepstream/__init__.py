"""DeepStream element emulation on CPU.

The same configuration files that drive a DeepStream app on a Jetson drive this pipeline:
nvstreammux-style batching (:mod:`.streammux`), nvinferserver against a real Triton
(:mod:`.inferserver`), an NvSORT-like tracker (:mod:`.tracker`), nvdsanalytics
(:mod:`.analytics`), nvmsgconv (:mod:`.msgconv`), nvmsgbroker (:mod:`.msgbroker`) and the OSD and
sinks. Elements pass :class:`~.meta.BatchMeta` along, the Python shape of NvDsBatchMeta.
Every config parser raises :class:`~.errors.ConfigError` naming file and line.
"""
