"""One image build's log file, and the events that show its progress.

Everything a build prints (debootstrap, pip, docker's build stream) goes to
``<cache>/images/logs/<name>-<tag>.log``; errors quote its last lines and name the file, and the
CLI shows the newest line while the build runs.
"""

from __future__ import annotations

import collections
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Self

TAIL_LINES = 20
#: colour codes (apt's and pip's stderr through docker's build stream): noise in a log file
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class ImageEvent:
    """Progress of one image: ``kind`` is "building", "log", "up to date" or "built"."""

    name: str
    kind: str
    ref: str = ""
    seconds: float = 0.0
    line: str = ""

    def __str__(self) -> str:
        if self.kind == "built":
            return f"{self.name}: built {self.ref} in {self.seconds:.0f} s"
        if self.kind == "log":
            return f"{self.name}: {self.line}"
        return f"{self.name}: {self.kind} {self.ref}".rstrip()


class BuildLog:
    """Appends lines to a log file, keeps the last :data:`TAIL_LINES`, reports each to a callback."""

    def __init__(self, path: Path, on_line: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._on_line = on_line
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._handle: IO[str] | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "w", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def write(self, text: str) -> None:
        """Log ``text`` (one or more lines, with or without the final newline)."""
        for raw in _ANSI.sub("", text).splitlines():
            line = raw.rstrip()
            if not line.strip():  # docker's build stream sends bare newlines between steps
                continue
            if self._handle is not None:
                self._handle.write(line + "\n")
                self._handle.flush()
            self._tail.append(line)
            if self._on_line is not None:
                self._on_line(line)

    def tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(list(self._tail)[-lines:])

    def run(self, command: Sequence[str], *, cwd: Path | None = None) -> int:
        """Run ``command`` with its stdout and stderr logged; return its exit status."""
        self.write("$ " + " ".join(command))
        with subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                self.write(line)
            return process.wait()
