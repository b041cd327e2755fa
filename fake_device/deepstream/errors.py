"""The one error type of the DeepStream config parsers.

DeepStream itself prints ``Failed to parse config file`` and leaves the user to guess; the
emulation names the file, the line, the key, what was expected and how to fix it, so that a bad
config fails in CI with a message that points at the cause.
"""

from __future__ import annotations

import errno
import os
import stat
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


#: DeepStream's configs are small text files; a bigger one is a wrong path (a model, a video).
MAX_CONFIG_BYTES = 4 << 20


def read_config_text(
    path: str | Path, what: str = "config file", *, missing: str = "", missing_hint: str = ""
) -> str:
    """The UTF-8 text of a config file, or a :class:`ConfigError` that says what is wrong with it.

    One reader for every config, so that each names a bad byte by its line and says how to fix
    it, and none opens a FIFO (which blocks until a writer comes) or reads a video into memory.
    ``missing`` replaces the "<what> not found" message, ``missing_hint`` its hint.
    """
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ConfigError(
            file,
            missing or f"{what} not found",
            hint=missing_hint or "check the path (relative paths start at the current folder)",
        ) from None
    except OSError as err:
        raise ConfigError(file, f"cannot read the {what}: {err.strerror}", hint=_os_hint(err.errno)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(file, f"the {what} is a folder", hint="name the config file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            file,
            f"the {what} is not a regular file (a FIFO, socket or device)",
            hint="point at the file itself",
        )
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(
            file,
            f"the {what} is {info.st_size:,} bytes; a config is a small text file",
            hint="check the path: it names something else (a model, a video?)",
        )
    try:
        data = file.read_bytes()
    except OSError as err:
        raise ConfigError(file, f"cannot read the {what}: {err.strerror}", hint=_os_hint(err.errno)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ConfigError(
            file,
            f"not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start} ({err.reason})",
            line=line,
            expected="UTF-8 text",
            hint="save the file as UTF-8 (an editor set to Latin-1 or Windows-1252 writes such bytes)",
        ) from None


def _os_hint(code: int | None) -> str:
    if code in (errno.EACCES, errno.EPERM):
        return "check the file's permissions"
    if code == errno.ENAMETOOLONG:
        return "a part of the path is longer than 255 bytes: shorten it"
    if code == errno.ELOOP:
        return "a symbolic link in the path leads back to itself"
    return "check the path"


#: Linux's limits: one name of a path, and a whole path (PATH_MAX, its NUL included).
NAME_MAX = 255
PATH_MAX = 4096
PATH_HINT = "shorten the path: Linux allows at most 255 bytes per name and 4095 in all"


def path_problem(text: str) -> str:
    """Why ``text`` cannot be a path on the device ("" when it can), before any file call sees it.

    ``open`` and ``stat`` fail on these with ENAMETOOLONG (or Python with ValueError for a NUL);
    DeepStream's parsers then report "Failed to parse", the emulation names the key instead.
    """
    if "\0" in text:
        return "has a NUL character in it"
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        return "is not valid text"
    if len(encoded) >= PATH_MAX:
        return f"is {len(encoded):,} bytes long; a path has at most {PATH_MAX - 1}"
    longest = max(encoded.split(b"/"), key=len)
    if len(longest) > NAME_MAX:
        start = longest[:16].decode(errors="replace")
        return f"has a name of {len(longest)} bytes ({start}…); at most {NAME_MAX}"
    return ""


def real_path(path: Path) -> Path:
    """``path.resolve()`` that does not fail: a link loop or an unreadable folder leaves it as is.

    What is at the path is checked next (is_file, is_dir), and that check reports it.
    """
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: pathlib's "Symlink loop" (Python 3.11)
        return path.absolute()


def shorten(text: str, width: int = 48) -> str:
    """A value for a message: repr, cut in the middle when long."""
    if len(text) <= width:
        return repr(text)
    return repr(text[: width // 2] + "…" + text[-width // 2 :])


def not_a_file(path: Path) -> str:
    """What keeps ``path`` from being read as a file ("" when it is a regular file)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "not found"
    except (OSError, ValueError) as err:
        return f"cannot be read ({getattr(err, 'strerror', None) or err})"
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "is a folder"
    return "is not a regular file (a FIFO, socket or device)"
