"""Run at triton image build time: lay out tritonserver's backend directory and its launcher.

The same functions as the process backend (:func:`harness.services.triton.locate_tritonserver`,
:func:`~harness.services.triton.build_backend_directory`), so the image serves models exactly as
the harness does on the host. The launcher is a shell script rather than image ``ENV`` because the
wheel's library directory is only known once the wheel is installed; it also puts the venv's
``bin`` first on ``PATH``, from which the python backend stub derives ``sys.prefix`` (and so finds
numpy and onnxruntime).

    python -m harness.images.triton_layout --backends /opt/tritonserver/backends \\
        --wrapper /usr/local/bin/tritonserver
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.services.triton import build_backend_directory, check_stub_libraries, locate_tritonserver


def wrapper_script(binary: Path, libs: Path | None, python_bin: Path) -> str:
    """The launcher: exports what tritonserver and the stub need, then execs the real binary."""
    lines = ["#!/bin/sh", "# Written by harness.images.triton_layout when the image was built."]
    if libs is not None:
        libs_text = shlex.quote(str(libs))
        lines.append(f'export LD_LIBRARY_PATH={libs_text}"${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"')
    lines.append(f'export PATH={shlex.quote(str(python_bin))}":$PATH"')
    lines.append(f'exec {shlex.quote(str(binary))} "$@"')
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", type=Path, required=True, help="the --backend-directory to create")
    parser.add_argument("--wrapper", type=Path, required=True, help="where to write the launcher")
    args = parser.parse_args(argv)

    dist = locate_tritonserver()
    backends = build_backend_directory(dist, args.backends)
    python_bin = Path(sys.executable).parent
    if not (python_bin / "python3").exists():
        print(f"{python_bin} has no python3 for the python backend stub", file=sys.stderr)
        return 1
    env = dict(os.environ)
    if dist.libs is not None:
        env["LD_LIBRARY_PATH"] = str(dist.libs)
    # Fails the build (with the missing library named) instead of the first model load.
    check_stub_libraries(backends / "python" / "triton_python_backend_stub", env)

    args.wrapper.parent.mkdir(parents=True, exist_ok=True)
    args.wrapper.write_text(wrapper_script(dist.binary, dist.libs, python_bin), encoding="utf-8")
    args.wrapper.chmod(0o755)
    print(f"backends: {backends}\nbinary: {dist.binary}\nlibraries: {dist.libs}\nlauncher: {args.wrapper}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
