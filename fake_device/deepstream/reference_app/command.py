"""The ``deepstream-app`` command: options, signals, messages and exit codes of deepstream_app_main.c.

``-c`` parses the config (errors print ``ERROR: <file>:<line>: …`` with a hint), builds the
pipeline, plays it until end of stream (``** INFO: <bus_callback>: Received EOS. Exiting ...``) or
SIGINT/SIGTERM (``** ERROR: <_intr_handler>: User Interrupted..``, then EOS is sent so that files
and messages are complete), then ``Quitting`` and ``App run successful`` (exit 0) or
``App run failed`` (exit 1). An ERROR message on the bus prints deepstream-app's
``ERROR from <element>: <message>`` and ``Debug info: …`` lines; messages the broker could not
deliver also fail the run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fake_device.deepstream.reference_app.config import load_app_config
from harness.errors import HarnessError

log = logging.getLogger(__name__)

#: the deepstream-app release whose config format and messages are reproduced
APP_VERSION = "7.1.0"
VERSION_LINE = f"deepstream-app version {APP_VERSION} (edge-harness emulation)"


@contextlib.contextmanager
def _stop_on_signals(pipeline: Any) -> Iterator[list[str]]:
    """SIGINT/SIGTERM stop the pipeline (deepstream-app's _intr_handler); the names are recorded."""
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        log.info("received %s: stopping the pipeline", received[-1])
        pipeline.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _print_error(err: HarnessError) -> None:
    from fake_device.deepstream.reference_app.pipeline import PipelineError

    if isinstance(err, PipelineError):  # bus_callback's lines
        text = f"ERROR from {err.element}: {err.text}\n"
        if err.debug:
            text += f"Debug info: {err.debug}\n"
        sys.stderr.write(text)
        sys.stderr.flush()
    else:
        print(f"ERROR: {err}", file=sys.stderr, flush=True)


def run(cfg_file: str | Path, *, input_uri: str | None = None, show_bbox_text: bool = False) -> int:
    """Parse, build, play to end of stream (or a signal) and close; the exit status.

    0 at end of stream or after a signal with a clean shutdown; 1 when the config is wrong, an
    element fails, or the broker could not deliver every message.
    """
    try:
        config = load_app_config(cfg_file)
        from fake_device.deepstream.reference_app.pipeline import build_reference_pipeline

        pipeline = build_reference_pipeline(config, input_uri=input_uri, show_bbox_text=show_bbox_text)
    except HarnessError as err:
        _print_error(err)
        print("App run failed", flush=True)
        return 1
    status = 0
    with _stop_on_signals(pipeline) as received:
        try:
            result = pipeline.run()
            if received:
                print("** ERROR: <_intr_handler>: User Interrupted.. ", flush=True)
            else:
                print("** INFO: <bus_callback>: Received EOS. Exiting ...", flush=True)
            log.info("%d frames in %.1f s (%.1f fps)", result.frames, result.seconds, result.fps)
        except HarnessError as err:
            _print_error(err)
            status = 1
        finally:
            print("Quitting", flush=True)
            pipeline.close()
    for text in pipeline.undelivered:
        print(f"ERROR: {text}", file=sys.stderr, flush=True)
        status = 1
    print("App run successful" if status == 0 else "App run failed", flush=True)
    return status


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """deepstream-app's options (``-c``, ``-i``, ``-t``, ``-v``)."""
    parser = argparse.ArgumentParser(
        prog="deepstream-app",
        description="Run a deepstream-app config on edge-harness's DeepStream emulation.",
    )
    parser.add_argument("-c", "--cfg-file", metavar="FILE", help="the deepstream-app config (.txt)")
    parser.add_argument(
        "-i", "--input-uri", "--input", dest="input_uri", metavar="URI",
        help="replaces the first source's uri (file://path or rtsp://...)",
    )  # fmt: skip
    parser.add_argument(
        "-t", "--tiledtext", action="store_true", help="display bounding box labels in tiled mode"
    )
    parser.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if not args.version and not args.cfg_file:
        parser.error("the following arguments are required: -c/--cfg-file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fake_device.deepstream.reference_app -c deepstream_app_config.txt``."""
    args = parse_args(argv)
    if args.version:
        print(VERSION_LINE)
        return 0
    logging.basicConfig(
        level=os.environ.get("EDGE_HARNESS_LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return run(args.cfg_file, input_uri=args.input_uri, show_bbox_text=args.tiledtext)
    except KeyboardInterrupt:  # Ctrl-C before the pipeline runs (Triton starting)
        print("interrupted", file=sys.stderr)
        return 130
