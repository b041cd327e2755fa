"""``edge-harness lint``: validate inputs before a device sees them."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.text import Text

from harness.errors import EXIT_FAILED, EXIT_OK, Diagnostic, DiagnosticReport
from harness.lint.model_repo import model_dirs, validate_model_repository

if TYPE_CHECKING:
    from fake_device.deepstream.errors import ConfigError

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


class _LintGroup(click.Group):
    """``lint PATH…`` runs ``lint all PATH…``; ``lint models|recipe|scenario …`` are unchanged.

    click cannot mix a variadic argument with subcommands in one group, so when the first word
    is not a subcommand name (nor --help) the group prepends ``all``. A path that is spelled
    like a subcommand (a folder named ``models``) needs ``lint all models`` or ``lint ./models``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["all", *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPTIONS] PATH...", "|", "COMMAND [ARGS]..."]


@click.group(cls=_LintGroup)
def lint() -> None:
    """Validate model repositories, component recipes, scenarios and DeepStream configs.

    `edge-harness lint PATH...` (the same as `lint all PATH...`) finds every input under the
    PATHs by its content and checks each with the right checker; the subcommands check one
    kind of input.
    """


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
        report.extend(check_recipe_file(path, lint=True)[1])
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
@click.option(
    "--target",
    type=click.Choice(["sim", "aws", "lab"]),
    help="Also check that the target can run every step (device logs, device and service faults).",
)
@click.option(
    "--backend",
    type=click.Choice(["process", "docker"]),
    help="--target sim: the runtime [default: the scenario's services.backend].",
)
@click.option(
    "--lab",
    "lab_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="--target lab: the lab description (what its devices can do).",
)
@_report_options
@click.pass_context
def scenario(
    ctx: click.Context,
    files: tuple[Path, ...],
    target: str | None,
    backend: str | None,
    lab_file: Path | None,
    strict: bool,
    output_format: str,
) -> None:
    """Check scenario files (scenarios/*.yaml) as edge-harness run reads them, without running them.

    Each FILE is checked against the scenario schema (schemas/scenario.schema.json: keys, types,
    step kinds), then across the file: component versions deployed are listed under components,
    deploy targets are thing groups or things of the devices, wait_for refers to an earlier
    deploy step, step ids are unique, profiles exist, recipe and artifact files exist and each
    recipe passes `lint recipe` with the ComponentName and ComponentVersion it is listed under,
    and every ${...} reference names a known variable. Each finding names
    file:line:col, the /json/pointer of the value and a hint. With --target, a step that needs
    what the target cannot do (device logs, a device or service fault) is an error naming the
    step and the capability.

    \b
    Exit codes:
      0  no errors (warnings allowed unless --strict)
      1  at least one error, or a warning with --strict
      2  bad command line
    """
    from harness.scenario.load import lint_scenario
    from harness.targets.choice import TargetRequest

    request = None if target is None else TargetRequest(target, backend, None, lab_file)
    report = DiagnosticReport()
    for path in files:
        report.extend(lint_scenario(path, request))
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


# --- lint all PATH… ----------------------------------------------------------------------------

# Inputs that only make sense inside a package: their relative paths (./models, model files,
# the clip) are resolved against the folder the artifact spec puts them in.
_PACKAGED_KINDS = frozenset(
    {"nvinferserver", "nvinfer", "nvdsanalytics", "msgconv", "msgbroker", "tracker", "deepstream-app"}
)
_PACKAGE_MARK = "<package>"


@lint.command("all")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="Also list the files that were skipped.")
@_report_options
@click.pass_context
def lint_all(
    ctx: click.Context, paths: tuple[Path, ...], verbose: bool, strict: bool, output_format: str
) -> None:
    """Check every input under PATH... (files or folders), each with the checker for its kind.

    `edge-harness lint PATH...` is the same command. Folders are walked (hidden folders and
    __pycache__ skipped). Each file is classified by its content, not its name: Greengrass
    recipe, scenario, artifact spec, world preset, nvinferserver, nvinfer, nvdsanalytics,
    msgconv, msgbroker, tracker or deepstream-app config; a folder whose model folders hold
    config.pbtxt is checked as a Triton model repository (its files are not checked again).
    Anything else is skipped (listed with --verbose); a .pbtxt outside a model repository, or a
    [property] key file of no known plugin, is a "not recognised" warning. A broken symbolic link is an error.

    DeepStream configs that an artifact spec under PATH... packages are checked where the
    package puts them (next to ./models, the clip, ...), as the device reads them. A config that
    fails in one package but loads in another gets a warning for the failing one; it is an
    error only when it fails everywhere it is packaged (or, unpackaged, in its own folder).

    \\b
    Exit codes:
      0  no errors (warnings allowed unless --strict)
      1  at least one error, or a warning with --strict
      2  bad command line
    """
    from harness.lint.detect import classify, unrecognised_reason, walk

    findings: list[tuple[str, Diagnostic]] = []
    counts: dict[str, int] = {}
    skipped: list[Path] = []
    checked: list[tuple[Path, str]] = []
    for path in walk(paths):
        if not path.exists() and not path.is_symlink():
            findings.append(
                ("", Diagnostic("error", str(path), "no such file or folder", hint="check the path"))
            )
            continue
        if path.is_symlink() and not path.exists():
            counts["broken link"] = counts.get("broken link", 0) + 1
            findings.append(("", _broken_link(path)))
            continue
        try:
            kind = classify(path)
            reason = None if kind is not None else unrecognised_reason(path)
        except Exception as err:  # one file must not end the run over a tree
            findings.append(("", _crashed(path, "classifying", err)))
            continue
        if kind is not None:
            checked.append((path, kind))
            counts[kind] = counts.get(kind, 0) + 1
        elif reason is not None:
            counts["not recognised"] = counts.get("not recognised", 0) + 1
            findings.append(("", _unrecognised(path, reason)))
        else:
            skipped.append(path)

    with tempfile.TemporaryDirectory(prefix="edge-harness-lint-") as tmp:
        packages = _Packages(Path(tmp), {path.resolve() for path, kind in checked if kind in _PACKAGED_KINDS})
        # artifact specs first: their layouts are where the DeepStream configs are checked
        by_input: dict[int, DiagnosticReport] = {}
        for index, (path, kind) in sorted(enumerate(checked), key=lambda item: item[1][1] != "artifact"):
            try:
                if kind == "artifact":
                    by_input[index] = packages.add(path)
                elif kind in _PACKAGED_KINDS:
                    by_input[index] = _check_packaged(kind, path, packages)
                else:
                    by_input[index] = _check(kind, path)
            except Exception as err:  # report it and check the other files
                by_input[index] = DiagnosticReport([_crashed(path, f"checking it as {kind}", err)])
    # findings in the order of the inputs, whatever order they were checked in
    for index, (_, kind) in enumerate(checked):
        findings.extend((kind, diagnostic) for diagnostic in by_input[index].diagnostics)
    report = DiagnosticReport([diagnostic for _, diagnostic in findings])
    total = sum(counts.values())
    per_kind = ", ".join(f"{kind} {counts[kind]}" for kind in sorted(counts, key=_kind_order))
    summary = ", ".join([_plural(len(report.errors), "error"), _plural(len(report.warnings), "warning")])
    summary = f"{_plural(total, 'file')}: {summary}" + (f" ({per_kind})" if per_kind else "")
    if skipped:
        summary += f"; {len(skipped)} skipped"
    if output_format == "json":
        rows = [{"kind": kind, **{key: asdict(d)[key] for key in _JSON_KEYS}} for kind, d in findings]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        if verbose:
            for path in skipped:
                click.echo(f"skipped: {path}", err=True)
        click.echo(summary, err=True)
    else:
        console = Console(highlight=False, soft_wrap=True)
        for diagnostic in report.diagnostics:
            console.print(_render(diagnostic))
        if verbose:
            for path in skipped:
                console.print(f"skipped: {path}", style="dim")
        console.print(summary, style="bold" if report.diagnostics else None)
    failed = bool(report.errors) or (strict and bool(report.warnings))
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


def _kind_order(kind: str) -> tuple[int, str]:
    from harness.lint.detect import KINDS

    return (KINDS.index(kind) if kind in KINDS else len(KINDS), kind)


def _crashed(path: Path, doing: str, err: Exception) -> Diagnostic:
    """A checker that failed with an exception of its own: reported as an error of that file.

    Only for ``lint PATH...``, which walks whole trees: one file that trips a checker must not
    hide the findings of every other file. The exception's type is kept, to be reported.
    """
    first = str(err).splitlines()[0] if str(err) else ""
    return Diagnostic(
        "error",
        str(path),
        f"edge-harness failed while {doing}: {type(err).__name__}{f': {first}' if first else ''}",
        hint="this is a bug in edge-harness, not necessarily in the file: please report it with the "
        "file; the other files were checked",
    )


def _broken_link(path: Path) -> Diagnostic:
    """A symbolic link that leads nowhere: an error, since what it stood for is not checked.

    A tree usually holds such a link after a file was moved or renamed, or when it was copied
    without the files a link points at; skipping it would pass a project whose package misses
    the file.
    """
    import errno
    import os

    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return Diagnostic(
                "error",
                str(path),
                f"symbolic link loop ({target} leads back to itself)",
                hint="remove the link or point it at an existing file",
            )
    return Diagnostic(
        "error",
        str(path),
        f"broken symbolic link to {target}",
        hint="remove the link or point it at an existing file (a relative target is relative to "
        "the link's folder)",
    )


def _unrecognised(path: Path, reason: str) -> Diagnostic:
    if path.suffix.lower() == ".pbtxt":
        hint = (
            "a Triton model config is checked with its repository: lint the folder that holds "
            "<model>/config.pbtxt (with a numeric version folder or name: matching the folder)"
        )
    else:
        hint = (
            "nvinfer configs are recognised by onnx-file, model-engine-file or net-scale-factor, "
            "nvdsanalytics configs by their [roi-filtering-stream-N]-style groups"
        )
    return Diagnostic("warning", str(path), f"not recognised: {reason}; not checked", hint=hint)


def _check(kind: str, path: Path) -> DiagnosticReport:
    """Run the checker of ``kind`` on ``path``; every problem comes back as diagnostics."""
    from fake_device.deepstream.errors import ConfigError
    from harness.errors import HarnessError, ValidationError

    report = DiagnosticReport()
    if kind == "recipe":
        from harness.lint.recipe import check_recipe_file

        return check_recipe_file(path, lint=True)[1]
    if kind == "scenario":
        from harness.scenario.load import lint_scenario

        return lint_scenario(path)
    if kind == "model-repository":
        return validate_model_repository(path)
    try:
        result = _loader(kind)(path)
    except ConfigError as err:
        report.add(config_error_diagnostic(err))
    except ValidationError as err:
        report.extend(err.report)
    except HarnessError as err:
        report.add(Diagnostic("error", str(path), err.message, hint=err.hint or ""))
    else:
        for warning in getattr(result, "warnings", ()):
            report.add(Diagnostic("warning", str(path), str(warning)))
    return report


#: kind → (module, function) of the loader the device runs on such a file
_LOADERS = {
    "artifact": ("harness.package", "load_artifact_spec"),
    "world": ("harness.world.presets", "load_preset_file"),
    # and, when it names a model repository on disk, checked against the served model
    "nvinferserver": ("harness.lint.inferserver_model", "load_and_check_inferserver_config"),
    "nvinfer": ("fake_device.deepstream.nvinfer_config", "load_nvinfer_config"),
    "nvdsanalytics": ("fake_device.deepstream.analytics", "load_analytics_config"),
    "msgconv": ("fake_device.deepstream.msgconv", "load_msgconv_config"),
    "msgbroker": ("fake_device.deepstream.msgbroker", "load_msgbroker_config"),
    "tracker": ("fake_device.deepstream.tracker", "load_tracker_config"),
    "deepstream-app": ("fake_device.deepstream.reference_app", "load_app_config"),
}


def _loader(kind: str) -> Callable[[Path], object]:
    """The loader that the device runs on a file of ``kind`` (imported only when needed)."""
    import importlib

    if kind not in _LOADERS:
        raise ValueError(f"no checker for {kind!r}")
    module, name = _LOADERS[kind]
    return getattr(importlib.import_module(module), name)


def config_error_diagnostic(err: ConfigError) -> Diagnostic:
    """A DeepStream :class:`ConfigError` as a Diagnostic: file, line, message, expected, hint.

    ConfigError folds ``file:line:`` and ``(expected …)`` into its message for the device's
    log; lint prints them in their own places, so they are taken out again here.
    """
    where = f"{err.file}:{err.line}" if err.line else err.file
    message = err.message.removeprefix(f"{where}: ")
    if err.expected:
        message = message.removesuffix(f" (expected {err.expected})")
    return Diagnostic(
        "error",
        _display(err.file),
        message,
        location=str(err.line) if err.line else "",
        expected=err.expected,
        hint=err.hint or "",
    )


def _display(file: str) -> str:
    """Paths relative to the working directory when they are under it (loaders make them absolute)."""
    path = Path(file)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return file
    return file


class _Packages:
    """The layouts of the artifact specs being linted, built lazily as trees of links.

    A config in a package is checked at its place in the package, because that is where its
    relative paths (./models, model files, the clip) resolve on the device. The checked config
    itself is copied (loaders resolve symlinks, which would lead back to its source folder);
    everything else is a symlink, and a rendered clip is an empty placeholder.
    """

    def __init__(self, root: Path, configs: set[Path]) -> None:
        self.root = root
        self.configs = configs
        # spec display path, relative path in the package -> source file (None: rendered clip)
        self.layouts: list[tuple[str, dict[str, Path | None]]] = []
        self.built: dict[int, Path] = {}

    def add(self, path: Path) -> DiagnosticReport:
        """Check the artifact spec at ``path`` and remember its layout when it is valid."""
        from harness.errors import HarnessError, ValidationError
        from harness.package import artifact_layout, load_artifact_spec

        report = DiagnosticReport()
        try:
            spec = load_artifact_spec(path)
        except ValidationError as err:
            report.extend(err.report)
            return report
        except HarnessError as err:
            report.add(Diagnostic("error", str(path), err.message, hint=err.hint or ""))
            return report
        try:
            layout = artifact_layout(spec)
        except HarnessError as err:
            report.add(Diagnostic("error", str(path), err.message, hint=err.hint or ""))
            return report
        self.layouts.append((str(path), layout))
        return report

    def placements(self, source: Path) -> list[tuple[str, Path, Path]]:
        """(spec, package root, place of ``source`` in it) for every package that ships it."""
        source = source.resolve()
        found = []
        for index, (spec, layout) in enumerate(self.layouts):
            places = [relative for relative, origin in layout.items() if origin == source]
            if places:
                root = self._build(index)
                found.extend((spec, root, root / relative) for relative in places)
        return found

    def _build(self, index: int) -> Path:
        if index in self.built:
            return self.built[index]
        root = self.root / str(index)
        for relative, origin in self.layouts[index][1].items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists() or target.is_symlink():
                continue  # a file where the layout also has a folder: the packager refuses it
            if origin is None:
                target.touch()
            elif origin in self.configs:
                shutil.copyfile(origin, target)
            else:
                target.symlink_to(origin)
        self.built[index] = root
        return root


def _check_packaged(kind: str, path: Path, packages: _Packages) -> DiagnosticReport:
    """Check a DeepStream config in every package that ships it, else in its own folder."""
    placements = packages.placements(path)
    if not placements:
        return _check(kind, path)
    results: list[tuple[str, DiagnosticReport]] = []
    for spec, root, place in placements:
        results.append((spec, _map_back(_check(kind, place), root, place, path, packages)))
    passes = any(result.ok for _, result in results)
    report = DiagnosticReport()
    seen: set[tuple[str, str, str, str]] = set()
    for spec, result in results:
        for diagnostic in result.diagnostics:
            severity = "warning" if passes else diagnostic.severity
            key = (severity, diagnostic.file, diagnostic.location, diagnostic.message)
            if diagnostic.severity == "error":
                key = (*key[:3], f"{diagnostic.message} [packaged by {spec}]")
            if key in seen:
                continue
            seen.add(key)
            message = key[3]
            report.add(
                Diagnostic(
                    severity,
                    diagnostic.file,
                    message,
                    location=diagnostic.location,
                    expected=diagnostic.expected,
                    hint=diagnostic.hint,
                )
            )
    return report


def _map_back(
    report: DiagnosticReport, root: Path, place: Path, source: Path, packages: _Packages
) -> DiagnosticReport:
    """Name the linted file instead of its copy in the package; other package paths as <package>/…."""
    mapped = DiagnosticReport()
    copies = {str(place), str(place.absolute()), _display(str(place))}
    prefix = str(root)
    for diagnostic in report.diagnostics:
        file = str(source) if diagnostic.file in copies else diagnostic.file.replace(prefix, _PACKAGE_MARK)
        mapped.add(
            Diagnostic(
                diagnostic.severity,
                file,
                diagnostic.message.replace(prefix, _PACKAGE_MARK),
                location=diagnostic.location,
                expected=diagnostic.expected.replace(prefix, _PACKAGE_MARK),
                hint=diagnostic.hint.replace(prefix, _PACKAGE_MARK),
            )
        )
    return mapped
