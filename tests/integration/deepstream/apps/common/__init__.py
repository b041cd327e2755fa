"""Helpers the acceptance apps share, as NVIDIA's samples share apps/common."""
