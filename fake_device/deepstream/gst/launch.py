"""``gst-launch-1.0`` that knows DeepStream's nv* elements.

The real tool, with the emulated elements registered before the description is parsed: the same
options that matter (-e, -q, -v, -m, -f, -t, -X, --no-position, --version, the --gst-* options), the
same messages on the same streams (progress on stdout, errors on stderr) and the same exit codes (0
at end of stream or after Ctrl-C, 1 for a description that does not parse or an error while running,
255 when a state change is refused), so that a team's scripts and CI logs read as on a Jetson.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from fake_device.deepstream.gst.registry import register_all
from fake_device.deepstream.gst.runtime import GLib, Gst

PROG = "gst-launch-1.0"
EXIT_PARSE = 1
EXIT_ERROR = 1  # an error message while prerolling or playing
EXIT_FAILED = 255  # a state change refused outright: the real tool returns -1

USAGE = f"""Usage:
  {PROG} [OPTION…] PIPELINE-DESCRIPTION

Help Options:
  -h, --help                        Show help options

Application Options:
  -t, --tags                        Output tags (also known as metadata)
  -c, --toc                         Output TOC (chapters and editions)
  -v, --verbose                     Output status information and property notifications
  -q, --quiet                       Do not print any progress information
  -m, --messages                    Output messages
  -X, --exclude=PROPERTY-NAME       Do not output status information for the specified property
                                    if verbose output is enabled (can be used multiple times)
  -f, --no-fault                    Do not install a fault handler
  -e, --eos-on-shutdown             Force EOS on sources before shutting the pipeline down
  --version                         Print version information and exit
  --no-position                     Do not print current position of pipeline
  --force-position                  Allow printing current position of pipeline even if stdout is not a TTY

DeepStream's nv* elements are the edge-harness CPU emulation (docs/deepstream/gstreamer.md).
"""


@dataclass
class Options:
    tags: bool = False
    toc: bool = False
    verbose: bool = False
    quiet: bool = False
    messages: bool = False
    exclude: list[str] = field(default_factory=list)
    eos_on_shutdown: bool = False
    description: list[str] = field(default_factory=list)


class UsageError(Exception):
    pass


_FLAGS = {
    "-t": "tags",
    "--tags": "tags",
    "-c": "toc",
    "--toc": "toc",
    "-v": "verbose",
    "--verbose": "verbose",
    "-q": "quiet",
    "--quiet": "quiet",
    "-m": "messages",
    "--messages": "messages",
    "-e": "eos_on_shutdown",
    "--eos-on-shutdown": "eos_on_shutdown",
}
_IGNORED = {"-f", "--no-fault", "--no-position", "--force-position"}


def parse_args(argv: Sequence[str]) -> Options | str:
    """Options from ``argv`` (without the program name); a string is text to print and exit 0."""
    options = Options()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            options.description.extend(args)
            break
        if arg in ("-h", "--help", "-?"):
            return USAGE
        if arg == "--version":
            return f"{PROG} version {Gst.version_string().split()[-1]}\n{Gst.version_string()}\n"
        if arg in _FLAGS:
            setattr(options, _FLAGS[arg], True)
        elif arg in _IGNORED:
            pass
        elif arg in ("-X", "--exclude"):
            if not args:
                raise UsageError(f"Missing argument for {arg}")
            options.exclude.append(args.pop(0))
        elif arg.startswith("--exclude="):
            options.exclude.append(arg.split("=", 1)[1])
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and all(f"-{c}" in _FLAGS for c in arg[1:]):
            for c in arg[1:]:  # grouped short flags: -eq
                setattr(options, _FLAGS[f"-{c}"], True)
        elif arg.startswith("-") and not options.description:
            raise UsageError(f"Unknown option {arg}")
        else:
            options.description.append(arg)
    return options


def _clock_time(ns: int) -> str:
    """GST_TIME_FORMAT: H:MM:SS.nnnnnnnnn."""
    seconds, nanos = divmod(max(ns, 0), 1_000_000_000)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}.{nanos:09d}"


class Launcher:
    """One run of a pipeline description, printing as the real tool does."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.pipeline: Gst.Element | None = None
        self.interrupted = False
        self.message_count = 0

    def out(self, text: str) -> None:
        if not self.options.quiet:
            sys.stdout.write(text)
            sys.stdout.flush()

    @staticmethod
    def err(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    # -- building -------------------------------------------------------------------------------
    def build(self) -> int | None:
        try:
            element = Gst.parse_launchv(self.options.description)
        except GLib.Error as error:
            if error.matches(Gst.ParseError.quark(), Gst.ParseError.SYNTAX) or error.matches(
                Gst.ParseError.quark(), Gst.ParseError.EMPTY
            ):
                self.err(f"ERROR: pipeline could not be constructed: {error.message}.\n")
            else:
                self.err(f"WARNING: erroneous pipeline: {error.message}\n")
            return EXIT_PARSE
        if element is None:
            self.err("ERROR: pipeline could not be constructed: empty pipeline not allowed.\n")
            return EXIT_PARSE
        if not isinstance(element, Gst.Pipeline):
            pipeline = Gst.Pipeline.new(None)
            pipeline.add(element)
            element = pipeline
        self.pipeline = element
        return None

    # -- the bus ----------------------------------------------------------------------------------
    def _print_message(self, message: Gst.Message) -> None:
        self.message_count += 1
        source = message.src
        if isinstance(source, Gst.Element):
            origin = f'element "{source.get_name()}"'
        elif isinstance(source, Gst.Pad):
            parent = source.get_parent()
            origin = f'pad "{parent.get_name() if parent else ""}:{source.get_name()}"'
        elif source is not None:
            origin = f'object "{source.get_name()}"'
        else:
            origin = "unknown"
        structure = message.get_structure()
        text = structure.to_string() if structure is not None else "no message details"
        type_name = Gst.MessageType.get_name(message.type)
        self.out(f"Got message #{self.message_count} from {origin} ({type_name}): {text}\n")

    def _report(self, kind: str, message: Gst.Message, error: GLib.Error, debug: str | None) -> None:
        source = message.src.get_path_string() if message.src is not None else "(NULL)"
        self.err(f"{kind}: from element {source}: {error.message}\n")
        if debug:
            self.err(f"Additional debug info:\n{debug}\n")

    def event_loop(self, *, prerolling: bool, blocking: bool = True) -> str:
        """Handle bus messages until EOS, an error, an interrupt or (``prerolling``) ASYNC_DONE.

        Returns "eos", "error", "interrupt", "prerolled" or "none" (not ``blocking`` and nothing
        pending). After an error the errors already queued are printed too, as the real tool does.
        """
        assert self.pipeline is not None
        bus = self.pipeline.get_bus()
        eos_forced = False
        failed = False
        while True:
            if self.interrupted and not eos_forced and not failed:
                self.interrupted = False
                self.err("handling interrupt.\n")
                self.out("Interrupt: Stopping pipeline ...\n")
                if not self.options.eos_on_shutdown or prerolling:
                    return "interrupt"
                self.out("EOS on shutdown enabled -- Forcing EOS on the pipeline\n")
                self.pipeline.send_event(Gst.Event.new_eos())
                self.out("Waiting for EOS...\n")
                eos_forced = True
            message = bus.timed_pop(100 * Gst.MSECOND if blocking and not failed else 0)
            if message is None:
                if failed:
                    return "error"
                if not blocking:
                    return "none"
                continue
            if self.options.messages:
                self._print_message(message)
            kind = message.type
            if kind == Gst.MessageType.ERROR:
                error, debug = message.parse_error()
                self._report("ERROR", message, error, debug)
                if prerolling:
                    self.err("ERROR: pipeline doesn't want to preroll.\n")
                failed = True
            elif failed:
                continue
            elif kind == Gst.MessageType.NEW_CLOCK:
                clock = message.parse_new_clock()
                self.out(f"New clock: {clock.get_name() if clock else 'NULL'}\n")
            elif kind == Gst.MessageType.LATENCY:
                self.out("Redistribute latency...\n")
                self.pipeline.recalculate_latency()
            elif kind == Gst.MessageType.EOS:
                self.out(f'Got EOS from element "{self.pipeline.get_name()}".\n')
                if eos_forced:
                    self.out("EOS received - stopping pipeline...\n")
                return "eos"
            elif kind == Gst.MessageType.WARNING:
                warning, debug = message.parse_warning()
                self._report("WARNING", message, warning, debug)
            elif kind == Gst.MessageType.INFO:
                info, debug = message.parse_info()
                self._report("INFO", message, info, debug)
            elif kind == Gst.MessageType.TAG and self.options.tags:
                tags = message.parse_tag()
                source = message.src.get_name() if message.src is not None else "(NULL)"
                self.out(f'FOUND TAG      : found by element "{source}".\n')
                self.out(f"{tags.to_string()}\n")
            elif kind == Gst.MessageType.PROPERTY_NOTIFY and self.options.verbose:
                self._print_notify(message)
            elif kind == Gst.MessageType.ASYNC_DONE and prerolling:
                return "prerolled"

    def _print_notify(self, message: Gst.Message) -> None:
        obj, name, value = message.parse_property_notify()
        if name in self.options.exclude:
            return
        path = obj.get_path_string() if obj is not None else "(NULL)"
        if value is None:
            text = "(no value)"
        else:
            try:
                text = Gst.value_serialize(value) or str(value)
            except (TypeError, ValueError):
                text = str(value)
        self.out(f"{path}: {name} = {text}\n")

    # -- running ----------------------------------------------------------------------------------
    def run(self) -> int:
        code = self.build()
        if code is not None:
            return code
        pipeline = self.pipeline
        assert pipeline is not None
        if self.options.verbose:
            pipeline.add_property_deep_notify_watch(None, True)
        try:
            self.out("Setting pipeline to PAUSED ...\n")
            change = pipeline.set_state(Gst.State.PAUSED)
            if change == Gst.StateChangeReturn.FAILURE:
                self.event_loop(prerolling=True, blocking=False)
                self.err("Failed to set pipeline to PAUSED.\n")
                return EXIT_FAILED
            if change == Gst.StateChangeReturn.NO_PREROLL:
                self.out("Pipeline is live and does not need PREROLL ...\n")
            elif change == Gst.StateChangeReturn.ASYNC:
                self.out("Pipeline is PREROLLING ...\n")
                outcome = self.event_loop(prerolling=True)
                if outcome in ("error", "eos"):
                    return EXIT_ERROR
                if outcome == "interrupt":
                    return 0
            self.out("Pipeline is PREROLLED ...\n")
            self.out("Setting pipeline to PLAYING ...\n")
            started = time.monotonic_ns()
            if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
                self.event_loop(prerolling=False, blocking=False)
                self.err("Failed to set pipeline to PLAYING.\n")
                return EXIT_FAILED
            outcome = self.event_loop(prerolling=False)
            self.out(f"Execution ended after {_clock_time(time.monotonic_ns() - started)}\n")
            return EXIT_ERROR if outcome == "error" else 0
        finally:
            self.out("Setting pipeline to NULL ...\n")
            pipeline.set_state(Gst.State.NULL)
            self.out("Freeing pipeline ...\n")


def _apply_gst_options(args: list[str]) -> list[str]:
    """Take the --gst-* options out of ``args`` and apply the debug ones.

    GStreamer is initialised when the emulation is imported, before these could reach ``gst_init``;
    the debug options are the ones a user passes to gst-launch (GST_DEBUG works as usual).
    """
    rest = []
    for arg in args:
        if not arg.startswith("--gst-"):
            rest.append(arg)
            continue
        name, _, value = arg.partition("=")
        if name == "--gst-debug-level" and value.isdigit():
            Gst.debug_set_default_threshold(Gst.DebugLevel(min(int(value), int(Gst.DebugLevel.MEMDUMP))))
        elif name == "--gst-debug" and value:
            Gst.debug_set_threshold_from_string(value, False)
        elif name == "--gst-debug-no-color":
            Gst.debug_set_colored(False)
        elif name == "--gst-debug-disable":
            Gst.debug_set_active(False)
    return rest


def main(argv: Sequence[str] | None = None) -> int:
    args = _apply_gst_options(list(sys.argv if argv is None else argv))
    try:
        parsed = parse_args(args[1:])
    except UsageError as error:
        sys.stderr.write(f"Error initializing: {error}\n")
        return EXIT_PARSE
    if isinstance(parsed, str):
        sys.stdout.write(parsed)
        return 0
    if not parsed.description:
        sys.stderr.write(f"Usage: {PROG} [OPTION...] PIPELINE-DESCRIPTION\n")
        return EXIT_PARSE
    register_all()
    launcher = Launcher(parsed)

    def on_interrupt(signum: int, frame: object) -> None:
        launcher.interrupted = True

    signal.signal(signal.SIGINT, on_interrupt)
    return launcher.run()
