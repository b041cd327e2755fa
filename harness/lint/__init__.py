"""Validators shared by the cloud emulation, the simulated device and ``edge-harness lint``."""
