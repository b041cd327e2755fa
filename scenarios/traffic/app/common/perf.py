"""Frame rates per stream, printed as deepstream_python_apps print them (``**PERF:  {...}``).

The same line format as NVIDIA's sample apps' PERF_DATA, so tools that read DeepStream logs read
these too. Counting happens in a pad probe (a streaming thread), printing in the main loop.
"""

import threading
import time


class PerfData:
    def __init__(self, streams, *, silent=False):
        self._lock = threading.Lock()
        self._silent = silent
        self._counts = {f"stream{i}": 0 for i in range(streams)}
        self._totals = dict.fromkeys(self._counts, 0)
        self._since = time.monotonic()
        self.started = None
        self.history = []

    def update_fps(self, stream):
        now = time.monotonic()
        with self._lock:
            if self.started is None:
                self.started = now
                self._since = now
            self._counts[stream] = self._counts.get(stream, 0) + 1
            self._totals[stream] = self._totals.get(stream, 0) + 1

    def perf_print_callback(self):
        """GLib timeout callback: print the FPS of the last interval; keeps the timeout alive."""
        now = time.monotonic()
        with self._lock:
            seconds = max(now - self._since, 1e-9)
            fps = {name: round(count / seconds, 2) for name, count in self._counts.items()}
            self._counts = dict.fromkeys(self._counts, 0)
            self._since = now
        self.history.append((round(time.time(), 3), list(fps.values())))
        if not self._silent:
            print(f"\n**PERF:  {fps}\n", flush=True)
        return True

    def frames_per_source(self):
        with self._lock:
            return {name.removeprefix("stream"): count for name, count in self._totals.items()}
