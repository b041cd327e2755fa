"""Image tags and the errors of image building, without a Docker engine."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.images import IMAGE_NAMES, ImageError, ensure_images, image_ref
from harness.images import build as build_module
from harness.images import rootfs as rootfs_module
from harness.images import wheelhouse as wheelhouse_module
from harness.images.buildlog import BuildLog
from harness.images.sources import source_files, sources_digest
from harness.images.spec import ImagePlan

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No overrides or mirror from the caller's shell, and a cache of our own."""
    for name in IMAGE_NAMES:
        monkeypatch.delenv(f"EDGE_HARNESS_IMAGE_{name.upper()}", raising=False)
    monkeypatch.delenv("EDGE_HARNESS_DEBIAN_MIRROR", raising=False)
    monkeypatch.setenv("EDGE_HARNESS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project tree (not a git checkout) with the real pyproject.toml."""
    root = tmp_path / "project"
    (root / "harness").mkdir(parents=True)
    (root / "fake_device").mkdir()
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "harness" / "__init__.py").write_text('"""harness"""\n')
    (root / "harness" / "module.py").write_text("VALUE = 1\n")
    (root / "fake_device" / "__init__.py").write_text("")
    return root


def _refs(root: Path) -> dict[str, str]:
    return {name: image_ref(name, project_root=root) for name in IMAGE_NAMES}


def test_tags_are_deterministic_and_follow_the_naming_contract(project: Path) -> None:
    first, second = _refs(project), _refs(project)
    assert first == second
    for name, ref in first.items():
        repository, tag = ref.split(":")
        assert repository == f"edge-harness/{name}"
        assert len(tag) == 12 and all(c in "0123456789abcdef" for c in tag)
    assert ImagePlan(project_root=project).spec("triton").digest.startswith(first["triton"].split(":")[1])


def test_a_source_edit_changes_the_runtime_and_the_images_on_it_only(project: Path) -> None:
    before = _refs(project)
    (project / "harness" / "module.py").write_text("VALUE = 2\n")
    after = _refs(project)
    for name in ("runtime", "triton", "aws", "device"):
        assert after[name] != before[name], name
    for name in ("base", "kafka"):
        assert after[name] == before[name], name


def test_new_files_count_but_bytecode_does_not(project: Path) -> None:
    before = image_ref("runtime", project_root=project)
    cache = project / "harness" / "__pycache__"
    cache.mkdir()
    (cache / "module.cpython-311.pyc").write_bytes(b"\0" * 16)
    (project / "harness" / "stray.pyc").write_bytes(b"\0")
    assert image_ref("runtime", project_root=project) == before
    (project / "fake_device" / "new_module.py").write_text("")
    assert image_ref("runtime", project_root=project) != before


def test_pyproject_changes_the_runtime_tag(project: Path) -> None:
    before = image_ref("runtime", project_root=project)
    with open(project / "pyproject.toml", "a", encoding="utf-8") as handle:
        handle.write("\n# a comment\n")
    assert image_ref("runtime", project_root=project) != before


def test_the_mirror_is_an_input_of_every_image_on_the_base(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _refs(project)
    monkeypatch.setenv("EDGE_HARNESS_DEBIAN_MIRROR", "http://mirror.example/debian")
    after = _refs(project)
    assert after["kafka"] == before["kafka"]
    for name in ("base", "runtime", "triton", "aws", "device"):
        assert after[name] != before[name], name
    # a trailing slash names the same mirror
    monkeypatch.setenv("EDGE_HARNESS_DEBIAN_MIRROR", "http://mirror.example/debian/")
    assert _refs(project) == after


def test_environment_overrides_an_image_and_feeds_the_images_built_on_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _refs(project)
    monkeypatch.setenv("EDGE_HARNESS_IMAGE_TRITON", "registry.example/triton:24.08")
    assert image_ref("triton", project_root=project) == "registry.example/triton:24.08"
    assert image_ref("runtime", project_root=project) == before["runtime"]
    monkeypatch.setenv("EDGE_HARNESS_IMAGE_RUNTIME", "registry.example/runtime:1")
    assert image_ref("runtime", project_root=project) == "registry.example/runtime:1"
    assert image_ref("aws", project_root=project) != before["aws"]  # built on the named runtime


def test_unknown_image_name_is_refused_with_the_known_names() -> None:
    with pytest.raises(ImageError) as caught:
        image_ref("postgres")
    assert "unknown image 'postgres'" in str(caught.value)
    assert "base, runtime, triton, kafka, aws, device" in str(caught.value)


def test_a_folder_that_is_not_a_checkout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="is not an edge-harness source checkout"):
        image_ref("runtime", project_root=tmp_path)
    assert image_ref("kafka", project_root=tmp_path).startswith("edge-harness/kafka:")


def test_the_checkout_lists_tracked_and_new_files_but_no_bytecode() -> None:
    files = source_files(ROOT)
    assert "harness/images/spec.py" in files
    assert "harness/images/dockerfiles/runtime.Dockerfile" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert sources_digest(ROOT) == sources_digest(ROOT)


# -- errors ---------------------------------------------------------------------------------------


def test_missing_docker_engine_names_the_socket_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket = tmp_path / "no-such-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket}")
    with pytest.raises(ImageError) as caught:
        ensure_images(["kafka"])
    text = str(caught.value)
    assert f"cannot reach the Docker engine at unix://{socket}: no such socket" in text
    assert "start dockerd (apt-get install docker.io; dockerd &) or set DOCKER_HOST" in text
    assert caught.value.exit_code == 3


def test_cli_prints_the_engine_error_without_a_traceback(tmp_path: Path) -> None:
    from harness.cli import main

    socket = tmp_path / "no-such-docker.sock"
    result = CliRunner().invoke(main, ["images", "build", "kafka"], env={"DOCKER_HOST": f"unix://{socket}"})
    assert result.exit_code == 3
    assert "cannot reach the Docker engine" in result.output
    assert "Traceback" not in result.output


def test_missing_debootstrap_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(rootfs_module.shutil, "which", lambda name: None)
    spec = ImagePlan().spec("base")
    with BuildLog(tmp_path / "base.log") as log, pytest.raises(ImageError) as caught:
        rootfs_module.make_rootfs_tarball(spec, log)
    assert "debootstrap is not installed" in str(caught.value)
    assert "hint: apt-get install debootstrap" in str(caught.value)


def test_debootstrap_needs_root_unless_the_rootfs_is_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rootfs_module.shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(rootfs_module.os, "geteuid", lambda: 1000)
    spec = ImagePlan().spec("base")
    with BuildLog(tmp_path / "base.log") as log:
        with pytest.raises(ImageError) as caught:
            rootfs_module.make_rootfs_tarball(spec, log)
        assert "debootstrap must run as root" in str(caught.value)
        assert "sudo edge-harness images build base" in str(caught.value)
        cached = rootfs_module.tarball_path(spec)
        cached.parent.mkdir(parents=True)
        cached.write_bytes(b"")
        assert rootfs_module.make_rootfs_tarball(spec, log) == cached


def test_pip_failure_shows_the_pip_output(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = "echo 'ERROR: No matching distribution found for onnxruntime>=1.32'; exit 1"
    monkeypatch.setattr(wheelhouse_module, "PIP", ("sh", "-c", script, "pip"))
    with BuildLog(tmp_path / "runtime.log") as log, pytest.raises(ImageError) as caught:
        wheelhouse_module.dependencies_wheelhouse(project, log)
    text = str(caught.value)
    assert "runtime: pip could not build the wheels of the dependencies (exit status 1)" in text
    assert "No matching distribution found for onnxruntime>=1.32" in text
    assert f"full log: {tmp_path / 'runtime.log'}" in text
    assert not list((tmp_path / "cache" / "images" / "wheelhouses").glob("deps-*/requirements.txt"))


class _FakeApi:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks

    def build(self, **kwargs: Any) -> Any:
        return iter(self.chunks)


class _FakeClient:
    def __init__(self, chunks: list[dict[str, Any]], root: Path) -> None:
        self.api = _FakeApi(chunks)
        self.root = root

    def info(self) -> dict[str, str]:
        return {"DockerRootDir": str(self.root)}


def _failing_build(tmp_path: Path, chunks: list[dict[str, Any]]) -> ImageError:
    plan = ImagePlan()
    builder = build_module.ImageBuilder(_FakeClient(chunks, tmp_path), plan, lambda event: None)  # type: ignore[arg-type]
    context = tmp_path / "context"
    context.mkdir()
    with BuildLog(tmp_path / "device.log") as log, pytest.raises(ImageError) as caught:
        builder._docker_build("device", plan.spec("kafka"), context, {}, log, False)
    return caught.value


def test_a_failing_step_is_named_with_the_log_tail(tmp_path: Path) -> None:
    error = _failing_build(
        tmp_path,
        [
            {"stream": "Step 1/4 : ARG RUNTIME_IMAGE\n"},
            {"stream": "Step 3/4 : RUN apt-get update && apt-get install -y ffmpeg\n"},
            {"stream": "Err:1 http://deb.debian.org/debian bookworm InRelease\n"},
            {"stream": "\x1b[91mE: Unable to locate package ffmpeg\x1b[0m\n"},
            {"error": "The command '/bin/sh -c apt-get update' returned a non-zero code: 100"},
        ],
    )
    text = str(error)
    assert "device: the image build failed at step `RUN apt-get update && apt-get install -y ffmpeg`" in text
    assert "apt-get failed: The command '/bin/sh -c apt-get update' returned a non-zero code: 100" in text
    assert "E: Unable to locate package ffmpeg" in text and "\x1b[" not in text
    assert f"full log: {tmp_path / 'device.log'}" in text
    assert "containers must reach the Debian mirror http://deb.debian.org/debian" in text


def test_a_full_disk_reports_free_space_where_it_matters(tmp_path: Path) -> None:
    error = _failing_build(
        tmp_path,
        [
            {"stream": "Step 2/4 : COPY project /tmp/edge-harness-wheel\n"},
            {"error": "failed to copy files: write /var/lib/docker/tmp/x: no space left on device"},
        ],
    )
    text = str(error)
    assert "device: no space left on device while building the image" in text
    assert f"cache dir {tmp_path / 'cache' / 'images'}: " in text and "GiB free of" in text
    assert f"docker root {tmp_path}: " in text
    assert "failing step: COPY project /tmp/edge-harness-wheel" in text
    assert "edge-harness images prune" in text


def test_prune_cache_keeps_only_what_current_images_need(project: Path, tmp_path: Path) -> None:
    from harness.images.cache import logs_dir, rootfs_dir, wheelhouses_dir
    from harness.images.inventory import prune_cache
    from harness.images.rootfs import tarball_path
    from harness.images.wheelhouse import dependencies_key

    plan = ImagePlan(project_root=project)
    current_log = logs_dir() / f"triton-{plan.spec('triton').digest[:12]}.log"
    stale_log = logs_dir() / "triton-000000000000.log"
    current_tarball, stale_tarball = tarball_path(plan.spec("base")), rootfs_dir() / "bookworm-minbase-0.tar"
    current_house = wheelhouses_dir() / f"deps-{dependencies_key(project)[:16]}"
    stale_house = wheelhouses_dir() / "deps-0000000000000000"
    for folder in (logs_dir(), rootfs_dir(), current_house, stale_house):
        folder.mkdir(parents=True, exist_ok=True)
    for file in (current_log, stale_log, current_tarball, stale_tarball):
        file.write_text("")
    expected = [stale_log, stale_tarball, stale_house]
    assert prune_cache(plan, dry_run=True) == expected and stale_house.exists()
    assert prune_cache(plan) == expected
    assert not any(p.exists() for p in expected)
    assert current_log.exists() and current_tarball.exists() and current_house.exists()
