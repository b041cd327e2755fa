"""The bus watch every app uses: quit the main loop at EOS or on an error, and remember which.

NVIDIA's samples print the error and quit, then exit 0 anyway; an app under test must say that it
failed, so this watch records it and the apps exit 1 after an ERROR.
"""

import sys

from gi.repository import Gst


class BusWatch:
    def __init__(self):
        self.failed = False
        self.eos = False

    def __call__(self, bus, message, loop):
        t = message.type
        if t == Gst.MessageType.EOS:
            sys.stdout.write("End-of-stream\n")
            self.eos = True
            loop.quit()
        elif t == Gst.MessageType.WARNING:
            err, debug = message.parse_warning()
            sys.stderr.write(f"Warning: {err}: {debug}\n")
        elif t == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            sys.stderr.write(f"ERROR from {message.src.get_name()}: {err.message}\n")
            if debug:
                sys.stderr.write(f"Debug info: {debug}\n")
            self.failed = True
            loop.quit()
        return True
