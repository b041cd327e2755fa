"""Artifact download through boto3 against the harness's AWS endpoint (moto over HTTP)."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
import zipfile
from pathlib import Path

import pytest

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.artifacts import RetryPolicy, prepare_artifacts
from fake_device.nucleus.paths import NucleusPaths
from harness.lint.recipe import Artifact

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=2, initial_interval=0.01, max_interval=0.01)


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_download_verify_unarchive_and_detect_a_replaced_object(aws_endpoint, tmp_path: Path) -> None:
    s3 = aws_endpoint.client("s3")
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("config/app.txt", "hello")
    package = buffer.getvalue()
    s3.put_object(Bucket=bucket, Key="traffic/1.0.0/package.zip", Body=package)
    artifact = Artifact(
        uri=f"s3://{bucket}/traffic/1.0.0/package.zip",
        unarchive="ZIP",
        digest=sha256_b64(package),
        algorithm="SHA-256",
    )
    paths = NucleusPaths(tmp_path / "v2").ensure()
    sleeps: list[float] = []

    def prepare(version: str):
        return prepare_artifacts(
            paths,
            "com.example.Traffic",
            version,
            [artifact],
            s3_client=s3,
            sleep=sleeps.append,
            checksum_retry=FAST,
            s3_retry=FAST,
        )

    [prepared] = prepare("1.0.0")
    assert prepared.downloaded and prepared.path.read_bytes() == package
    assert (prepared.unarchived / "config" / "app.txt").read_text() == "hello"  # type: ignore[operator]

    # someone replaces the object behind the published component version
    s3.put_object(Bucket=bucket, Key="traffic/1.0.0/package.zip", Body=b"tampered")
    with pytest.raises(DeploymentError) as caught:
        prepare("1.0.1")
    assert caught.value.code == "ARTIFACT_CHECKSUM_MISMATCH"
    assert "Failed integrity check for the downloaded artifact" in str(caught.value)
    assert f"bucket '{bucket}', key 'traffic/1.0.0/package.zip'" in str(caught.value)
    assert len(sleeps) == 1  # two attempts, one pause
    assert list(paths.artifact_path("com.example.Traffic", "1.0.1").iterdir()) == []

    missing = Artifact(uri=f"s3://{bucket}/nope.zip", digest="x", algorithm="SHA-256")
    with pytest.raises(DeploymentError) as caught:
        prepare_artifacts(paths, "com.example.Traffic", "1.0.2", [missing], s3_client=s3, s3_retry=FAST)
    assert caught.value.code == "S3_HEAD_OBJECT_RESOURCE_NOT_FOUND"
    assert f"bucket '{bucket}', key 'nope.zip'" in str(caught.value)
