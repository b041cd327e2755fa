"""The ``edge-harness`` command.

Exit codes (docs/cli.md): 0 success; 1 a check, validation or expectation failed; 2 bad usage;
3 a service could not be started; 130 interrupted by Ctrl-C (SIGINT); 143 stopped by SIGTERM.
"""

from __future__ import annotations

import logging
import sys

import click
from rich.console import Console
from rich.logging import RichHandler

from harness import __version__
from harness.errors import EXIT_INTERRUPTED, HarnessError

err_console = Console(stderr=True)


class HarnessGroup(click.Group):
    """A click group that turns :class:`HarnessError` into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except HarnessError as err:
            err_console.print(f"[bold red]error:[/] {err}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM where a command turns it into one
            name = getattr(err, "signal_name", "")
            err_console.print(f"[yellow]interrupted{f' ({name})' if name else ''}[/]")
            sys.exit(getattr(err, "exit_code", EXIT_INTERRUPTED))


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edge-harness")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Simulate and test Greengrass V2 + Triton + Kafka vision apps before they reach a Jetson.

    Exit codes: 0 success, 1 a check or validation failed, 2 bad usage,
    3 a service could not start, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
    )


def _register() -> None:
    from harness.cli import deepstream, device, doctor, images, lab, lint, services, world
    from harness.cli import eval as eval_cli
    from harness.cli import package as package_cli
    from harness.cli import run as run_cli

    main.add_command(services.services)
    main.add_command(lint.lint)
    main.add_command(world.world)
    main.add_command(eval_cli.eval_group)
    main.add_command(device.device)
    main.add_command(package_cli.package_command)
    main.add_command(deepstream.deepstream_app)
    main.add_command(deepstream.deepstream_group)
    main.add_command(run_cli.run_command)
    main.add_command(images.images)
    main.add_command(doctor.doctor)
    main.add_command(lab.lab)


_register()
