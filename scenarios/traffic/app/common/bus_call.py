"""The pipeline's bus: end of stream and errors end the main loop, warnings are printed.

The exit status follows the first error, so a Greengrass Run script that ``exec``s the app
reports a failed pipeline as a failed component.
"""

import sys

from gi.repository import Gst


class BusWatch:
    """Connect with ``bus.connect("message", watch, loop)``; ``watch.failed`` after the loop ends."""

    def __init__(self):
        self.failed = False
        self.eos = False

    def __call__(self, bus, message, loop):
        kind = message.type
        if kind == Gst.MessageType.EOS:
            print("End-of-stream", flush=True)
            self.eos = True
            loop.quit()
        elif kind == Gst.MessageType.WARNING:
            err, debug = message.parse_warning()
            sys.stderr.write(f"Warning: {err.message}: {debug}\n")
        elif kind == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            source = message.src.get_name() if message.src else "pipeline"
            sys.stderr.write(f"ERROR from {source}: {err.message}\n")
            if debug:
                sys.stderr.write(f"Debug info: {debug}\n")
            sys.stderr.flush()
            self.failed = True
            loop.quit()
        return True
