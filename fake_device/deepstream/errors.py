"""The one error type of the DeepStream config parsers.

DeepStream itself prints ``Failed to parse config file`` and leaves the user to guess; the
emulation names the file, the line, the key, what was expected and how to fix it, so that a bad
config fails in CI with a message that points at the cause.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError


class ConfigError(HarnessError):
    """A DeepStream-style config file (ini key file, YAML or protobuf text) is wrong.

    ``line`` is 1-based; 0 means the problem is about the file as a whole (a missing group, a
    file that does not exist).
    """

    def __init__(
        self,
        file: str | Path,
        message: str,
        *,
        line: int = 0,
        expected: str = "",
        hint: str | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.expected = expected
        where = f"{self.file}:{line}" if line else self.file
        text = f"{where}: {message}"
        if expected:
            text += f" (expected {expected})"
        super().__init__(text, hint=hint)
