"""User-facing errors.

Everything a user can get wrong (a bad file, a missing binary, a port in use) is raised as a
:class:`HarnessError`; the CLI prints its message without a traceback and exits with its
``exit_code``. Programming errors stay ordinary exceptions so they keep their tracebacks.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

# Exit codes of the `edge-harness` command (documented in docs/cli.md).
EXIT_OK = 0
EXIT_FAILED = 1  # a check, validation or expectation failed
EXIT_USAGE = 2  # bad command line (click's own convention)
EXIT_SERVICE = 3  # a service could not be started or stopped
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_TERMINATED = 143  # SIGTERM (a cancelled or timed-out CI job), as a shell reports it


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised on the main thread by the command's signal handler.

    A :class:`KeyboardInterrupt`, so that a SIGTERM unwinds exactly like Ctrl-C (every
    ``finally`` and context manager stops what it started); it remembers the signal so that the
    command exits with the code a shell would report (130, 143).
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class HarnessError(Exception):
    """An error caused by input or environment, shown to the user without a traceback."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


@dataclass(frozen=True)
class Diagnostic:
    """One finding about an input file.

    ``location`` is a line:column (text formats) or a JSON pointer (structured formats), so
    that the user can jump to it; ``expected`` and ``hint`` say how to fix it.
    """

    severity: str  # "error" | "warning"
    file: str
    message: str
    location: str = ""
    expected: str = ""
    hint: str = ""

    def format(self) -> str:
        where = f"{self.file}:{self.location}" if self.location else self.file
        text = f"{where}: {self.severity}: {self.message}"
        if self.expected:
            text += f" (expected {self.expected})"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass
class DiagnosticReport:
    """A list of diagnostics with errors and warnings kept apart."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def extend(self, other: DiagnosticReport) -> None:
        self.diagnostics.extend(other.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def format(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)


class ValidationError(HarnessError):
    """Raised when an input file fails validation; carries every diagnostic found."""

    def __init__(self, report: DiagnosticReport, what: str = "validation failed") -> None:
        self.report = report
        n = len(report.errors)
        super().__init__(f"{what}: {n} error{'s' if n != 1 else ''}\n{report.format()}")
