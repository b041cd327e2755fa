"""Log files in the nucleus's line format.

A real core device writes ``logs/greengrass.log`` and one ``logs/<Component>.log`` per component,
each line ``<ISO-8601 UTC> [LEVEL] (thread) logger: eventType. message. {k=v, ...}``
(aws-greengrass-logging-java ``GreengrassLogMessage.getFormattedMessage`` /
``TextLogFormatter``). Test steps such as the Greengrass Testing Framework's "the X log on the
device contains the line ... within N seconds" read these files, so the simulator writes the same
format: component stdout at INFO with thread ``Copier`` and event ``stdout``, stderr at WARN with
event ``stderr``, keys ``scriptName``, ``serviceName``, ``currentState``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["NucleusLog", "format_line"]


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "null" if value is None else str(value)


def format_line(
    level: str,
    thread: str,
    logger: str,
    event: str,
    message: str = "",
    context: Mapping[str, Any] | None = None,
) -> str:
    """One log line; ``event`` and ``message`` each end with a period, as the nucleus prints."""
    text = f"{_timestamp()} [{level}] ({thread}) {logger}: "
    if event:
        text += f"{event}. "
    if message:
        text += f"{message}. "
    text += "{" + ", ".join(f"{k}={_value(v)}" for k, v in (context or {}).items()) + "}"
    return text.replace("\n", "\\n")


class NucleusLog:
    """Appends lines to ``greengrass.log`` and the component logs of one device.

    Each write opens, appends and closes the file so that a reader (a test, ``tail -f``) sees
    every line as soon as it is written and a device killed mid-run leaves whole lines only.
    """

    def __init__(self, logs_path: Path, *, echo: Any = None) -> None:
        self.logs_path = Path(logs_path)
        self._lock = threading.Lock()
        self._echo = echo  # optional callable(str): `device run` prints greengrass.log lines

    @property
    def main_file(self) -> Path:
        return self.logs_path / "greengrass.log"

    def component_file(self, component: str) -> Path:
        return self.logs_path / f"{component}.log"

    def _append(self, path: Path, line: str) -> None:
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as stream:
                stream.write(line + "\n")

    def log(
        self,
        level: str,
        logger: str,
        event: str,
        message: str = "",
        *,
        thread: str | None = None,
        **context: Any,
    ) -> None:
        """A line in greengrass.log (and, for a component's own logger, in its log too)."""
        line = format_line(level, thread or threading.current_thread().name, logger, event, message, context)
        self._append(self.main_file, line)
        if self._echo is not None:
            self._echo(line)

    def info(self, logger: str, event: str, message: str = "", **context: Any) -> None:
        self.log("INFO", logger, event, message, **context)

    def warn(self, logger: str, event: str, message: str = "", **context: Any) -> None:
        self.log("WARN", logger, event, message, **context)

    def error(self, logger: str, event: str, message: str = "", **context: Any) -> None:
        self.log("ERROR", logger, event, message, **context)

    def component(
        self,
        component: str,
        level: str,
        event: str,
        message: str = "",
        *,
        thread: str | None = None,
        also_main: bool = False,
        **context: Any,
    ) -> None:
        """A line in ``<component>.log``; lifecycle events also go to greengrass.log."""
        line = format_line(
            level, thread or threading.current_thread().name, component, event, message, context
        )
        self._append(self.component_file(component), line)
        if also_main:
            self._append(self.main_file, line)
            if self._echo is not None:
                self._echo(line)
