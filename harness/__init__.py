"""edge-harness: simulate and test Greengrass + Triton + Kafka vision apps in CI."""

__version__ = "0.1.0"
