"""Helpers of the traffic app (bus watch, **PERF lines, MOT track rows); plain Python, no DeepStream."""
