"""``edge-harness lint``: validate inputs before a device sees them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from harness.errors import EXIT_FAILED, EXIT_OK, Diagnostic, DiagnosticReport
from harness.lint.model_repo import model_dirs, validate_model_repository

_STYLES = {"error": "bold red", "warning": "yellow"}
_JSON_KEYS = ("severity", "file", "location", "message", "expected", "hint")


def _report_options(command: Callable[..., None]) -> Callable[..., None]:
    """--strict and --format, shared by every lint command so they read the same."""
    command = click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text: one finding per line with a summary; json: a list of findings on stdout.",
    )(command)
    return click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1).")(command)


@click.group()
def lint() -> None:
    """Validate model repositories, component recipes and scenarios with clear messages."""


@lint.command("models")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@_report_options
@click.pass_context
def models(ctx: click.Context, directory: Path, strict: bool, output_format: str) -> None:
    """Check the Triton model repository DIR the way tritonserver would load it.

    Every model (a subdirectory with config.pbtxt) is checked: the config parses as Triton's
    ModelConfig, its name matches the directory, platform/backend are known and consistent,
    batching and instance groups are valid, version directories hold the model file, ONNX
    models' inputs and outputs match the graph (names, types, dims and the batch rule), and
    label files exist and fit the outputs. Each finding names file:line:column, what was
    expected and a hint.

    \b
    Exit codes:
      0  no errors (warnings allowed unless --strict)
      1  at least one error, or a warning with --strict
      2  bad command line
    """
    report = validate_model_repository(directory)
    if output_format == "json":
        findings = [{key: asdict(d)[key] for key in _JSON_KEYS} for d in report.diagnostics]
        click.echo(json.dumps(findings, ensure_ascii=False, indent=2))
        # stdout stays pure JSON; the summary goes to stderr
        click.echo(_summary(len(model_dirs(directory)), report), err=True)
    else:
        _print_text(report, len(model_dirs(directory)))
    failed = bool(report.errors) or (strict and bool(report.warnings))
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


def _print_text(report: DiagnosticReport, model_count: int) -> None:
    console = Console(highlight=False, soft_wrap=True)
    for diagnostic in report.diagnostics:
        console.print(_render(diagnostic))
    console.print(_summary(model_count, report), style="bold" if report.diagnostics else None)


def _render(diagnostic: Diagnostic) -> Text:
    """One finding as ``file:line:col: severity: message (expected …)`` plus an indented hint."""
    where = f"{diagnostic.file}:{diagnostic.location}" if diagnostic.location else diagnostic.file
    text = Text.assemble(
        (where, "bold"),
        ": ",
        (diagnostic.severity, _STYLES.get(diagnostic.severity, "")),
        ": ",
        diagnostic.message,
    )
    if diagnostic.expected:
        text.append(f"\n    expected: {diagnostic.expected}")
    if diagnostic.hint:
        text.append(f"\n    hint: {diagnostic.hint}", style="dim")
    return text


def _summary(model_count: int, report: DiagnosticReport) -> str:
    return ", ".join(
        [
            _plural(model_count, "model"),
            _plural(len(report.errors), "error"),
            _plural(len(report.warnings), "warning"),
        ]
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@lint.command("recipe")
@click.argument("files", metavar="FILE...", nargs=-1, required=True, type=click.Path(path_type=Path))
@_report_options
@click.pass_context
def recipe(ctx: click.Context, files: tuple[Path, ...], strict: bool, output_format: str) -> None:
    """Check Greengrass V2 component recipes (JSON or YAML) as the service and a core device read them.

    Each FILE is parsed (format from the suffix .json/.yaml/.yml, else sniffed) and checked:
    RecipeFormatVersion, component name and semantic version, component type, dependencies and
    their npm-style version ranges, manifests (platform, lifecycle steps, selections,
    artifacts with their URIs, unarchive and permissions) and the global lifecycle. Keys and
    enum values are matched ignoring case. Each finding names file:/json/pointer (line:col),
    what was expected and a hint.

    \b
    Exit codes:
      0  no errors (warnings allowed unless --strict)
      1  at least one error, or a warning with --strict
      2  bad command line
    """
    from harness.lint.recipe import check_recipe_file

    report = DiagnosticReport()
    for path in files:
        report.extend(check_recipe_file(path)[1])
    summary = ", ".join(
        [
            _plural(len(files), "recipe"),
            _plural(len(report.errors), "error"),
            _plural(len(report.warnings), "warning"),
        ]
    )
    if output_format == "json":
        findings = [{key: asdict(d)[key] for key in _JSON_KEYS} for d in report.diagnostics]
        click.echo(json.dumps(findings, ensure_ascii=False, indent=2))
        click.echo(summary, err=True)
    else:
        console = Console(highlight=False, soft_wrap=True)
        for diagnostic in report.diagnostics:
            console.print(_render(diagnostic))
        console.print(summary, style="bold" if report.diagnostics else None)
    failed = bool(report.errors) or (strict and bool(report.warnings))
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


@lint.command("scenario")
@click.argument("files", metavar="FILE...", nargs=-1, required=True, type=click.Path(path_type=Path))
@_report_options
@click.pass_context
def scenario(ctx: click.Context, files: tuple[Path, ...], strict: bool, output_format: str) -> None:
    """Check scenario files (scenarios/*.yaml) as edge-harness run reads them, without running them.

    Each FILE is checked against the scenario schema (schemas/scenario.schema.json: keys, types,
    step kinds), then across the file: component versions deployed are listed under components,
    deploy targets are thing groups or things of the devices, wait_for refers to an earlier
    deploy step, step ids are unique, profiles exist, recipe and artifact files exist and each
    recipe passes `lint recipe` with the ComponentName and ComponentVersion it is listed under,
    and every ${...} reference names a known variable. Each finding names
    file:line:col, the /json/pointer of the value and a hint.

    \b
    Exit codes:
      0  no errors (warnings allowed unless --strict)
      1  at least one error, or a warning with --strict
      2  bad command line
    """
    from harness.scenario.load import lint_scenario

    report = DiagnosticReport()
    for path in files:
        report.extend(lint_scenario(path))
    summary = ", ".join(
        [
            _plural(len(files), "scenario"),
            _plural(len(report.errors), "error"),
            _plural(len(report.warnings), "warning"),
        ]
    )
    if output_format == "json":
        findings = [{key: asdict(d)[key] for key in _JSON_KEYS} for d in report.diagnostics]
        click.echo(json.dumps(findings, ensure_ascii=False, indent=2))
        click.echo(summary, err=True)
    else:
        console = Console(highlight=False, soft_wrap=True)
        for diagnostic in report.diagnostics:
            console.print(_render(diagnostic))
        console.print(summary, style="bold" if report.diagnostics else None)
    failed = bool(report.errors) or (strict and bool(report.warnings))
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)
