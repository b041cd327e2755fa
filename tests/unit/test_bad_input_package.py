"""`edge-harness package` and artifact specs on bad input: a located error, nothing outside what
the command creates is touched, and a failed build leaves the previous result as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import main
from harness.errors import HarnessError, ValidationError
from harness.package import ArtifactSpec, Layer, build_artifact, load_artifact_spec, package


def _project(tmp: Path, name: str) -> tuple[Path, Path]:
    """A spec named ``name`` over one source folder, and an --out folder holding a user's file."""
    (tmp / "src").mkdir()
    (tmp / "src" / "app.py").write_text("print('app')\n")
    spec = tmp / "artifact.yaml"
    spec.write_text(f"name: {name}\nlayers:\n  - source: src\n")
    out = tmp / "out"
    out.mkdir()
    (out / "precious.txt").write_text("the user's\n")
    (out / "unpacked").mkdir()
    (out / "unpacked" / "mine.txt").write_text("also the user's\n")
    return spec, out


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("name", ['".."', '"."', '"a/b"', '"/tmp/x"', '""', '"../x"'])
def test_a_name_that_is_not_a_file_name_is_refused_and_nothing_deleted(tmp_path: Path, name: str) -> None:
    spec, out = _project(tmp_path, name)
    before = _files(tmp_path)
    result = _run("package", str(spec), "--out", str(out))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"{spec}:1:1: error: at /name: name " in result.output
    assert "is not a plain file name" in result.output
    assert "hint: name is the ZIP's file name without .zip" in result.output
    assert _files(tmp_path) == before


def test_lint_reports_the_name_that_package_refuses(tmp_path: Path) -> None:
    spec, _ = _project(tmp_path, '".."')
    result = _run("lint", str(spec))
    assert result.exit_code == 1
    assert "at /name: name '..' is not a plain file name" in result.output


def test_build_artifact_refuses_a_bad_name_given_in_code(tmp_path: Path) -> None:
    """The check is in the builder too: a spec made in code does not pass the loader."""
    out = tmp_path / "out"
    (out / "keep").mkdir(parents=True)
    (tmp_path / "f.txt").write_text("x")
    spec = ArtifactSpec(tmp_path / "artifact.yaml", "..", (Layer(tmp_path / "f.txt", "", None),), ())
    with pytest.raises(HarnessError, match=r"artifact name '\.\.' is not a plain file name") as err:
        build_artifact(spec, out / "keep")
    assert err.value.hint and "not '.' or '..'" in err.value.hint
    assert (out / "keep").is_dir()


def test_a_symlink_loop_as_source_is_an_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    spec = tmp_path / "artifact.yaml"
    spec.write_text("layers:\n  - source: a\n")
    with pytest.raises(ValidationError) as err:
        load_artifact_spec(spec)
    text = str(err.value)
    assert f"{spec}:2:5: error: at /layers/0/source: a is a symbolic link that leads back to itself" in text
    assert "hint: paths are relative to the folder of the artifact spec" in text
    result = _run("lint", str(spec))
    assert result.exit_code == 1 and "leads back to itself" in result.output


def test_a_link_back_up_inside_a_source_folder_is_an_error(tmp_path: Path) -> None:
    spec, out = _project(tmp_path, "package")
    (tmp_path / "src" / "sub").mkdir()
    (tmp_path / "src" / "sub" / "up").symlink_to("..")
    result = _run("package", str(spec), "--out", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "up is a link to a folder that contains it (a loop)" in result.output
    assert "hint: remove the link, or exclude it with exclude:" in result.output


def test_a_fifo_in_a_source_folder_is_an_error_not_a_hang(tmp_path: Path) -> None:
    spec, out = _project(tmp_path, "package")
    os.mkfifo(tmp_path / "src" / "pipe")
    with pytest.raises(HarnessError, match="pipe is not a regular file") as err:
        package(spec, out)
    assert err.value.hint and "exclude" in err.value.hint


def test_a_failed_rebuild_leaves_the_previous_result_and_no_leftovers(tmp_path: Path) -> None:
    spec, out = _project(tmp_path, "package")
    folder, archive = package(spec, out)
    built = archive.read_bytes()
    (tmp_path / "src" / "broken").symlink_to(tmp_path / "nowhere")
    with pytest.raises(HarnessError, match="broken is a broken symbolic link"):
        package(spec, out)
    assert _files(out) == [
        "package.zip",
        "precious.txt",
        "unpacked",
        "unpacked/mine.txt",
        "unpacked/package",
        "unpacked/package/app.py",
    ]
    assert archive.read_bytes() == built and (folder / "app.py").is_file()


def test_a_name_longer_than_a_file_name_is_refused(tmp_path: Path) -> None:
    spec, out = _project(tmp_path, "n" * 300)
    result = _run("package", str(spec), "--out", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "at /name: name is longer than 251 characters" in result.output


def test_a_target_part_longer_than_255_bytes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    spec = tmp_path / "artifact.yaml"
    spec.write_text(f"layers:\n  - source: f.txt\n    target: dir/{'t' * 256}\n")
    with pytest.raises(ValidationError, match="a part of target is longer than 255 bytes"):
        load_artifact_spec(spec)


def test_a_spec_that_is_a_folder_or_fifo_is_an_error_with_a_hint(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    result = _run("package", str(tmp_path / "fifo.yaml"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "is not a regular file (a FIFO, socket or device)" in result.output
    assert "hint: point at the artifact spec file itself" in result.output
    assert not (tmp_path / "out").exists()


def test_unknown_keys_and_bad_layers_have_hints(tmp_path: Path) -> None:
    spec = tmp_path / "artifact.yaml"
    spec.write_text("name: package\nlayers:\n  - target: x\nextra: 1\n")
    with pytest.raises(ValidationError) as err:
        load_artifact_spec(spec)
    text = str(err.value)
    assert "at /layers/0: " in text and "hint: each layer has either source" in text
    assert "'extra' was unexpected" in text and "hint: an artifact spec has name, layers and exclude" in text
