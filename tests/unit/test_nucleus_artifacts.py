"""Artifact preparation: download + digest + retries, atomicity, permissions, unarchive safety."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.artifacts import RetryPolicy, file_mode, prepare_artifacts, unarchive_zip
from fake_device.nucleus.paths import NucleusPaths
from harness.lint.recipe import Artifact

FAST = RetryPolicy(max_attempts=3, initial_interval=1.0, max_interval=4.0)


def digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def client_error(status: int, code: str, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


class BrokenBody:
    """A response body that delivers ``good`` bytes then fails like a dropped connection."""

    def __init__(self, data: bytes, good: int) -> None:
        self.stream = io.BytesIO(data[:good])

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        if not chunk:
            raise ConnectionResetError("connection reset by peer")
        return chunk


class FakeS3:
    """A stand-in for the boto3 S3 client: objects in memory, scripted failures, a call log."""

    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self.objects = objects
        self.calls: list[tuple[str, dict]] = []
        self.get_failures: list[object] = []  # consumed one per GetObject: Exception or int (bytes)
        self.serve: list[bytes] = []  # bodies to serve instead of the stored object, one per call

    def get_bucket_location(self, Bucket: str) -> dict:
        self.calls.append(("GetBucketLocation", {"Bucket": Bucket}))
        if not any(b == Bucket for b, _ in self.objects):
            raise client_error(404, "NoSuchBucket", "GetBucketLocation")
        return {"LocationConstraint": None}

    def head_object(self, Bucket: str, Key: str) -> dict:
        self.calls.append(("HeadObject", {"Bucket": Bucket, "Key": Key}))
        if (Bucket, Key) not in self.objects:
            raise client_error(404, "404", "HeadObject")
        return {"ContentLength": len(self.objects[(Bucket, Key)])}

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict:
        self.calls.append(("GetObject", {"Bucket": Bucket, "Key": Key, "Range": Range}))
        data = self.serve.pop(0) if self.serve else self.objects[(Bucket, Key)]
        start, end = (int(x) for x in Range.removeprefix("bytes=").split("-"))
        data = data[start : end + 1]
        if self.get_failures:
            failure = self.get_failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return {"Body": BrokenBody(data, int(failure))}  # type: ignore[arg-type]
        return {"Body": io.BytesIO(data)}

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls if op == operation)


@pytest.fixture
def paths(tmp_path: Path) -> NucleusPaths:
    return NucleusPaths(tmp_path / "greengrass" / "v2").ensure()


def run(paths: NucleusPaths, client: FakeS3, *artifacts: Artifact, sleeps: list[float] | None = None):
    recorded = sleeps if sleeps is not None else []
    return prepare_artifacts(
        paths,
        "com.example.App",
        "1.0.0",
        artifacts,
        s3_client=client,
        sleep=recorded.append,
        rng=lambda: 0.5,
        checksum_retry=FAST,
        s3_retry=FAST,
    )


DATA = b"model weights " * 10000  # > one 64 KiB chunk


def s3_artifact(key: str = "app/1.0.0/model.onnx", data: bytes = DATA, **kw) -> Artifact:
    return Artifact(uri=f"s3://bucket/{key}", digest=digest(data), algorithm="SHA-256", **kw)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- download ----------------------------------------------------------------------------------


def test_download_verifies_digest_and_stores_under_the_file_name(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "app/1.0.0/model.onnx"): DATA})
    [prepared] = run(paths, client, s3_artifact())
    target = paths.artifact_path("com.example.App", "1.0.0") / "model.onnx"
    assert prepared.path == target and prepared.downloaded
    assert target.read_bytes() == DATA
    assert [op for op, _ in client.calls] == ["GetBucketLocation", "HeadObject", "GetObject"]
    assert client.calls[-1][1]["Range"] == f"bytes=0-{len(DATA) - 1}"
    assert leftovers(target.parent) == ["model.onnx"]


def test_present_file_with_matching_digest_is_not_downloaded_again(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "app/1.0.0/model.onnx"): DATA})
    run(paths, client, s3_artifact())
    again = FakeS3({("bucket", "app/1.0.0/model.onnx"): DATA})
    [prepared] = run(paths, again, s3_artifact())
    assert not prepared.downloaded and again.calls == []


def test_present_file_with_other_content_is_downloaded_again(paths: NucleusPaths) -> None:
    folder = paths.ensure_artifact_path("com.example.App", "1.0.0")
    (folder / "model.onnx").write_bytes(b"stale")
    client = FakeS3({("bucket", "app/1.0.0/model.onnx"): DATA})
    [prepared] = run(paths, client, s3_artifact())
    assert prepared.downloaded and prepared.path.read_bytes() == DATA


def test_digest_mismatch_is_retried_then_fails_with_checksum_mismatch(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "app/1.0.0/model.onnx"): b"replaced object!"})
    sleeps: list[float] = []
    with pytest.raises(DeploymentError) as caught:
        run(paths, client, s3_artifact(data=b"original object!"), sleeps=sleeps)
    err = caught.value
    assert err.code == "ARTIFACT_CHECKSUM_MISMATCH"
    assert err.error_stack == ("ARTIFACT_DOWNLOAD_ERROR", "ARTIFACT_CHECKSUM_MISMATCH")
    assert client.count("GetObject") == 3  # FAST.max_attempts
    assert sleeps == [0.75, 1.5]  # interval/2 + rng*interval/2, doubling
    assert "Failed to download artifact name: 's3://bucket/app/1.0.0/model.onnx' for component " in str(err)
    assert "com.example.App-1.0.0, reason: Failed integrity check for the downloaded artifact" in str(err)
    assert "bucket 'bucket', key 'app/1.0.0/model.onnx'" in str(err)
    assert leftovers(paths.artifact_path("com.example.App", "1.0.0")) == []


def test_a_mismatch_that_heals_on_retry_succeeds(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "k/model.onnx"): DATA})
    client.serve = [b"X" * len(DATA)]
    [prepared] = run(paths, client, s3_artifact("k/model.onnx"))
    assert prepared.path.read_bytes() == DATA and client.count("GetObject") == 2


def test_broken_stream_resumes_with_a_range_request(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "k/model.onnx"): DATA})
    client.get_failures = [100_000]
    [prepared] = run(paths, client, s3_artifact("k/model.onnx"))
    assert prepared.path.read_bytes() == DATA
    ranges = [c[1]["Range"] for c in client.calls if c[0] == "GetObject"]
    assert ranges == [f"bytes=0-{len(DATA) - 1}", f"bytes=100000-{len(DATA) - 1}"]


def test_failure_mid_download_leaves_nothing_under_the_final_name(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "k/model.onnx"): DATA})
    client.get_failures = [1000, 0, 0, 0]  # some bytes, then the connection keeps dropping
    sleeps: list[float] = []
    with pytest.raises(DeploymentError) as caught:
        run(paths, client, s3_artifact("k/model.onnx"), sleeps=sleeps)
    assert caught.value.code == "ARTIFACT_DOWNLOAD_ERROR"
    assert "Failed to download object from S3 (GetObject failed 3 times" in str(caught.value)
    assert leftovers(paths.artifact_path("com.example.App", "1.0.0")) == []


def test_server_errors_are_retried_with_backoff(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "k/model.onnx"): DATA})
    client.get_failures = [client_error(503, "SlowDown", "GetObject")]
    sleeps: list[float] = []
    [prepared] = run(paths, client, s3_artifact("k/model.onnx"), sleeps=sleeps)
    assert prepared.downloaded and sleeps == [0.75]


def test_missing_object_names_bucket_and_key(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "other"): b""})
    with pytest.raises(DeploymentError) as caught:
        run(paths, client, s3_artifact("app/missing.zip"))
    err = caught.value
    assert err.code == "S3_HEAD_OBJECT_RESOURCE_NOT_FOUND"
    assert "S3 HeadObject returns 404 Resource Not Found" in str(err)
    assert "bucket 'bucket', key 'app/missing.zip'" in str(err)


def test_missing_bucket_and_access_denied_have_their_codes(paths: NucleusPaths) -> None:
    with pytest.raises(DeploymentError) as caught:
        run(paths, FakeS3({("elsewhere", "k"): b""}), s3_artifact("k/a.bin"))
    assert caught.value.code == "S3_GET_BUCKET_LOCATION_RESOURCE_NOT_FOUND"

    client = FakeS3({("bucket", "k/a.bin"): DATA})
    client.get_failures = [client_error(403, "AccessDenied", "GetObject")]
    with pytest.raises(DeploymentError) as caught:
        run(paths, client, s3_artifact("k/a.bin"))
    assert caught.value.code == "S3_GET_OBJECT_ACCESS_DENIED"
    assert "policy granting s3:GetObject" in str(caught.value)


def test_missing_algorithm_fails_as_the_nucleus_does(paths: NucleusPaths) -> None:
    with pytest.raises(DeploymentError) as caught:
        run(paths, FakeS3({("bucket", "k/a.bin"): DATA}), Artifact(uri="s3://bucket/k/a.bin"))
    assert caught.value.code == "RECIPE_MISSING_ARTIFACT_HASH_ALGORITHM"
    assert "reason: Algorithm missing from artifact" in str(caught.value)


def test_greengrass_uris_are_not_supported_by_the_simulator(paths: NucleusPaths) -> None:
    with pytest.raises(DeploymentError) as caught:
        run(paths, FakeS3({}), Artifact(uri="greengrass:model.onnx"))
    assert caught.value.code == "UNSUPPORTED_ARTIFACT_SCHEME"
    assert "greengrass: artifacts are not supported by the simulator" in str(caught.value)


# --- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "execute", "mode"),
    [
        ("OWNER", "NONE", 0o440),  # the default: the group counts as the owner
        ("NONE", "NONE", 0o400),  # the owner can always read
        ("ALL", "NONE", 0o444),
        ("NONE", "OWNER", 0o550),  # execute implies read
        ("OWNER", "ALL", 0o555),
        ("ALL", "ALL", 0o555),
    ],
)
def test_file_mode_follows_permission(read: str, execute: str, mode: int) -> None:
    assert file_mode(read, execute, add_owner_write=False) == mode
    assert file_mode(read, execute, add_owner_write=True) == mode | 0o200


def test_downloaded_file_gets_its_permission(paths: NucleusPaths) -> None:
    client = FakeS3({("bucket", "k/run.sh"): b"#!/bin/sh\n"})
    [prepared] = run(paths, client, s3_artifact("k/run.sh", b"#!/bin/sh\n", permission_execute="ALL"))
    expected = file_mode("OWNER", "ALL")
    assert stat.S_IMODE(prepared.path.stat().st_mode) == expected


# --- unarchive ---------------------------------------------------------------------------------


def make_zip(path: Path, entries: list[tuple[str, bytes]], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_zip_artifact_is_extracted_into_a_folder_named_after_the_file(paths: NucleusPaths, tmp_path) -> None:
    archive = make_zip(tmp_path / "a.tar.zip", [("bin/run.sh", b"echo hi"), ("conf/", b""), ("x.txt", b"x")])
    data = archive.read_bytes()
    client = FakeS3({("bucket", "v1/a.tar.zip"): data})
    [prepared] = run(paths, client, s3_artifact("v1/a.tar.zip", data, unarchive="ZIP", permission_read="ALL"))
    folder = paths.unarchive_artifact_path("com.example.App", "1.0.0") / "a.tar"
    assert prepared.unarchived == folder
    assert (folder / "bin" / "run.sh").read_bytes() == b"echo hi"
    assert (folder / "conf").is_dir()
    assert stat.S_IMODE((folder / "bin").stat().st_mode) == 0o755
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "x.txt").stat().st_mode) == file_mode("ALL", "NONE")


@pytest.mark.parametrize(
    "entry",
    ["../evil.txt", "ok/../../evil.txt", "/etc/evil.txt", "\\evil.txt", "C:/evil.txt", "c:evil.txt", "./"],
)
def test_zip_slip_entries_are_refused_and_nothing_is_written(tmp_path: Path, entry: str) -> None:
    archive = make_zip(tmp_path / "package.zip", [("good.txt", b"good"), (entry, b"evil")])
    destination = tmp_path / "out" / "package"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(Exception, match=r"Entry is outside of the target dir: ") as caught:
        unarchive_zip(archive, destination)
    assert entry in str(caught.value)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert [p for p in after if p not in before] == [Path("out")]  # only the (empty) parent
    assert not destination.exists()


@pytest.mark.parametrize("link", ["../../etc/passwd", "/etc/passwd", "sub/../../../x"])
def test_symlink_entries_pointing_outside_are_refused(tmp_path: Path, link: str) -> None:
    archive = make_zip(tmp_path / "package.zip", [("good.txt", b"good")], {"sub/link": link})
    destination = tmp_path / "out" / "package"
    with pytest.raises(Exception, match="symbolic link pointing outside of the target dir") as caught:
        unarchive_zip(archive, destination)
    assert f"sub/link -> {link}" in str(caught.value)
    assert leftovers(tmp_path / "out") == []


def test_symlink_inside_becomes_a_regular_file_like_the_nucleus(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "package.zip", [("good.txt", b"good")], {"alias": "good.txt"})
    destination = unarchive_zip(archive, tmp_path / "out" / "package")
    alias = destination / "alias"
    assert not alias.is_symlink() and alias.read_bytes() == b"good.txt"


def test_zip_slip_through_prepare_reports_io_unzip_error(paths: NucleusPaths, tmp_path: Path) -> None:
    data = make_zip(tmp_path / "p.zip", [("../../escape", b"x")]).read_bytes()
    client = FakeS3({("bucket", "p.zip"): data})
    with pytest.raises(DeploymentError) as caught:
        run(paths, client, s3_artifact("p.zip", data, unarchive="ZIP"))
    assert caught.value.code == "IO_UNZIP_ERROR"
    assert "Failed to unarchive component com.example.App-v1.0.0 artifact s3://bucket/p.zip" in str(
        caught.value
    )
    assert "Entry is outside of the target dir: ../../escape" in str(caught.value)
    parent = paths.unarchive_artifact_path("com.example.App", "1.0.0")
    assert leftovers(parent) == []
    assert not (paths.unarchive_path / "escape").exists()


def test_re_extraction_replaces_the_folder_as_a_whole(tmp_path: Path) -> None:
    destination = tmp_path / "out" / "package"
    unarchive_zip(make_zip(tmp_path / "one.zip", [("a.txt", b"1")]), destination)
    unarchive_zip(make_zip(tmp_path / "two.zip", [("b.txt", b"2")]), destination)
    assert leftovers(destination) == ["b.txt"]
    assert leftovers(tmp_path / "out") == ["package"]


def test_bad_zip_leaves_the_existing_folder(tmp_path: Path) -> None:
    destination = tmp_path / "out" / "package"
    unarchive_zip(make_zip(tmp_path / "one.zip", [("a.txt", b"1")]), destination)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(Exception, match=r"bad\.zip is not a readable ZIP archive"):
        unarchive_zip(bad, destination)
    assert leftovers(destination) == ["a.txt"] and leftovers(tmp_path / "out") == ["package"]


def test_paths_layout(tmp_path: Path) -> None:
    paths = NucleusPaths(tmp_path).ensure()
    for sub in ("config", "packages/recipes", "packages/artifacts", "packages/artifacts-unarchived"):
        assert (tmp_path / sub).is_dir()
    assert stat.S_IMODE(os.stat(tmp_path / "config").st_mode) == 0o700
    assert paths.effective_config_file == tmp_path / "config" / "effectiveConfig.yaml"
    assert paths.component_log("A") == tmp_path / "logs" / "A.log"
    assert paths.work_path("A") == tmp_path / "work" / "A"
    with pytest.raises(ValueError, match="cannot be used as a folder name"):
        paths.artifact_path("..", "1.0.0")
