"""Preparing a component version's artifacts: download, digest check, permissions, unarchive.

This is the device half of "recipe + zipped artifacts in S3": what the nucleus does in
``ComponentManager.prepareArtifacts`` for each artifact of the selected manifest, in order:

1. skip the download when the file is already there with the recipe's digest
   (``ArtifactDownloader.downloadRequired``);
2. otherwise download it — for ``s3://`` the nucleus calls GetBucketLocation, HeadObject (the
   size) and ranged GetObject calls, resuming after a broken stream (``S3Downloader.java``) —
   and check the Base64 digest, retrying the whole download on a mismatch before failing with
   ``ARTIFACT_CHECKSUM_MISMATCH`` (``ArtifactDownloader.download``);
3. set the file mode from ``Permission`` (``models/Permission.toFileSystemPermission``,
   ``util/Permissions.setArtifactPermission``);
4. for ``Unarchive: ZIP``, extract into ``artifacts-unarchived/<c>/<v>/<file name minus its last
   extension>/`` refusing entries outside that folder (``Unarchiver.java``), then set folders to
   rwxr-xr-x and files to the artifact's mode.

Deliberate differences (docs/device.md): downloads go to a temporary file in the same folder and
are renamed into place, so a failed download never leaves a file under the final name; an
archive is extracted into a temporary folder and moved into place as a whole; S3 retries are
bounded; ZIP entries with absolute names or drive letters, and symlink entries pointing outside
the folder, are refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import posixpath
import random
import re
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from fake_device.nucleus import DeploymentError
from fake_device.nucleus.paths import EVERYONE_READ, NucleusPaths
from harness.lint.recipe import Artifact

__all__ = [
    "CHECKSUM_RETRY",
    "S3_RETRY",
    "PreparedArtifact",
    "RetryPolicy",
    "file_mode",
    "prepare_artifacts",
    "unarchive_zip",
]

T = TypeVar("T")

# S3Downloader.S3_PATH_REGEX, used with matches() (a full match).
_S3_PATH = re.compile(r"s3://([^/]+)/(.*)", re.DOTALL)
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# S3Downloader: messages S3 sends for credentials that are not usable *yet*; retried.
_RETRYABLE_MESSAGES = (
    "token has expired",
    "The AWS Access Key Id you provided does not exist in our records",
)
# java.security.MessageDigest names the nucleus could be given, mapped to hashlib.
_ALGORITHMS = {"SHA-256": "sha256", "SHA-1": "sha1", "SHA-384": "sha384", "SHA-512": "sha512", "MD5": "md5"}
_CHUNK = 64 * 1024  # ArtifactDownloader.DOWNLOAD_BUFFER_SIZE


@dataclass(frozen=True)
class RetryPolicy:
    """``RetryUtils.RetryConfig``: at most ``max_attempts`` tries; before try n+1 the nucleus
    sleeps ``interval/2 + random(0..interval/2)`` with ``interval`` starting at
    ``initial_interval`` and doubling up to ``max_interval`` (seconds here)."""

    max_attempts: int
    initial_interval: float
    max_interval: float

    def delays(self, rng: Callable[[], float]) -> Iterable[float]:
        interval = self.initial_interval
        while True:
            yield interval / 2 + rng() * interval / 2
            interval = min(interval * 2, self.max_interval)


#: ArtifactDownloader.checksumMismatchRetryConfig: 10 tries, one minute apart
CHECKSUM_RETRY = RetryPolicy(max_attempts=10, initial_interval=60.0, max_interval=60.0)
#: S3Downloader.s3ClientExceptionRetryConfig retries forever one minute apart; a simulator must
#: end, so the number of tries is bounded (docs/device.md)
S3_RETRY = RetryPolicy(max_attempts=5, initial_interval=60.0, max_interval=60.0)


@dataclass(frozen=True)
class PreparedArtifact:
    """Where one artifact ended up; ``unarchived`` is its folder under decompressedPath."""

    artifact: Artifact
    path: Path
    downloaded: bool
    unarchived: Path | None = None


class _Retryable(Exception):
    """A failure the nucleus retries (SdkClientException, IOException, 5xx/429)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _ChecksumMismatch(Exception):
    pass


def file_mode(read: str, execute: str, *, add_owner_write: bool | None = None) -> int:
    """The POSIX mode of an artifact file (``Permission.toFileSystemPermission``).

    The owner can always read; the group counts as the owner; execute implies read. A nucleus
    that is not root also gives the owner write so that it can delete the file later
    (``Permissions.setArtifactPermission``); ``None`` decides that from the effective user.
    """
    read, execute = read.upper(), execute.upper()
    exec_owner = execute in ("OWNER", "ALL")
    mode = stat.S_IRUSR
    if exec_owner:
        mode |= stat.S_IXUSR | stat.S_IXGRP
    if read in ("OWNER", "ALL") or exec_owner:
        mode |= stat.S_IRGRP
    if read == "ALL" or execute == "ALL":
        mode |= stat.S_IROTH
    if execute == "ALL":
        mode |= stat.S_IXOTH
    if add_owner_write is None:
        add_owner_write = os.geteuid() != 0
    if add_owner_write:
        mode |= stat.S_IWUSR
    return mode


def prepare_artifacts(
    paths: NucleusPaths,
    component: str,
    version: str,
    artifacts: Sequence[Artifact],
    *,
    s3_client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    checksum_retry: RetryPolicy = CHECKSUM_RETRY,
    s3_retry: RetryPolicy = S3_RETRY,
) -> list[PreparedArtifact]:
    """Prepare every artifact of the selected manifest, in recipe order; raises
    :class:`DeploymentError`. Artifacts prepared before a failure stay (as on a device)."""
    prepared = []
    for artifact in artifacts:
        job = _ArtifactJob(
            paths, component, version, artifact, s3_client, sleep, rng, checksum_retry, s3_retry
        )
        prepared.append(job.run())
    return prepared


class _ArtifactJob:
    def __init__(
        self,
        paths: NucleusPaths,
        component: str,
        version: str,
        artifact: Artifact,
        s3_client: Any,
        sleep: Callable[[float], None],
        rng: Callable[[], float],
        checksum_retry: RetryPolicy,
        s3_retry: RetryPolicy,
    ) -> None:
        self.paths, self.component, self.version, self.artifact = paths, component, version, artifact
        self.client, self.sleep, self.rng = s3_client, sleep, rng
        self.checksum_retry, self.s3_retry = checksum_retry, s3_retry

    # -- messages ---------------------------------------------------------------------------
    def error(self, reason: str) -> str:
        """ArtifactDownloader.ARTIFACT_DOWNLOAD_EXCEPTION_FMT."""
        return (
            f"Failed to download artifact name: '{self.artifact.uri}' for component "
            f"{self.component}-{self.version}, reason: {reason}"
        )

    def download_error(self, code: str | None, reason: str, hint: str | None = None) -> DeploymentError:
        stack = ["ARTIFACT_DOWNLOAD_ERROR"] + ([code] if code else [])
        return DeploymentError(stack[-1], self.error(reason), error_stack=stack, hint=hint)

    # -- the steps --------------------------------------------------------------------------
    def run(self) -> PreparedArtifact:
        scheme = self.artifact.scheme
        if scheme in ("greengrass", "docker"):
            raise DeploymentError(
                "UNSUPPORTED_ARTIFACT_SCHEME",
                f"artifact URI {self.artifact.uri} of component {self.component}-v{self.version}: "
                f"{scheme}: artifacts are not supported by the simulator",
                error_stack=["COMPONENT_PACKAGE_LOADING_ERROR", "UNSUPPORTED_ARTIFACT_SCHEME"],
                hint="upload the artifact to S3 and use an s3:// URI",
            )
        if scheme != "s3":
            # ArtifactDownloaderFactory.getArtifactDownloader
            raise DeploymentError(
                "UNSUPPORTED_ARTIFACT_SCHEME",
                f"artifact URI scheme {scheme.upper() or None} is not supported yet",
                error_stack=["COMPONENT_PACKAGE_LOADING_ERROR", "UNSUPPORTED_ARTIFACT_SCHEME"],
            )
        match = _S3_PATH.fullmatch(self.artifact.uri)
        if match is None:
            raise DeploymentError(
                "S3_ARTIFACT_URI_NOT_VALID", self.error(f"Invalid artifact URI {self.artifact.uri}")
            )
        bucket, key = match.group(1), match.group(2)
        name = self.artifact.file_name
        if not name or name in (".", ".."):
            raise DeploymentError(
                "S3_ARTIFACT_URI_NOT_VALID", self.error(f"Invalid artifact URI {self.artifact.uri}")
            )
        folder = self.paths.ensure_artifact_path(self.component, self.version)
        target = folder / name
        downloaded = False
        if self.download_required(target):
            if self.client is None:
                raise DeploymentError(
                    "DEVICE_CONFIG_NOT_VALID_FOR_ARTIFACT_DOWNLOAD",
                    f"Download required for artifact {self.artifact.uri} but device configs are invalid: "
                    "no S3 client",
                    error_stack=["ARTIFACT_DOWNLOAD_ERROR", "DEVICE_CONFIG_NOT_VALID_FOR_ARTIFACT_DOWNLOAD"],
                )
            self.download(bucket, key, target)
            downloaded = True
        mode = file_mode(self.artifact.permission_read, self.artifact.permission_execute)
        os.chmod(target, mode)
        unarchived = None
        if self.artifact.unarchive.upper() == "ZIP":
            parent = self.paths.ensure_unarchive_artifact_path(self.component, self.version)
            unarchived = parent / self.artifact.archive_folder_name
            try:
                unarchive_zip(target, unarchived, file_mode=mode)
            except _UnzipError as err:
                raise DeploymentError(
                    "IO_UNZIP_ERROR",
                    f"Failed to unarchive component {self.component}-v{self.version} artifact "
                    f"{self.artifact.uri}: {err}",
                    error_stack=["ARTIFACT_DOWNLOAD_ERROR", "IO_UNZIP_ERROR"],
                ) from err
        return PreparedArtifact(self.artifact, target, downloaded, unarchived)

    def download_required(self, target: Path) -> bool:
        """A file already there is kept when its digest matches; without a digest in the recipe
        (a local recipe) it is kept as it is."""
        if not target.exists():
            return True
        if not (self.artifact.algorithm and self.artifact.digest):
            return False
        hasher = _hasher(self.artifact.algorithm)
        if hasher is None:
            return True
        with open(target, "rb") as stream:
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                hasher.update(chunk)
        return base64.b64encode(hasher.digest()).decode() != self.artifact.digest

    def download(self, bucket: str, key: str, target: Path) -> None:
        algorithm = self.artifact.algorithm
        if algorithm is None:
            raise self.download_error(
                "RECIPE_MISSING_ARTIFACT_HASH_ALGORITHM", "Algorithm missing from artifact"
            )
        if _hasher(algorithm) is None:
            raise DeploymentError(
                "HASHING_ALGORITHM_UNAVAILABLE",
                self.error("Algorithm requested for artifact checksum is not supported"),
                error_stack=["COMPONENT_PACKAGE_LOADING_ERROR", "HASHING_ALGORITHM_UNAVAILABLE"],
            )
        where = f"bucket {bucket!r}, key {key!r}"
        self.s3_call("GetBucketLocation", where, lambda: self.client.get_bucket_location(Bucket=bucket))
        size = int(
            self.s3_call("HeadObject", where, lambda: self.client.head_object(Bucket=bucket, Key=key))[
                "ContentLength"
            ]
        )
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".download", dir=target.parent)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as stream:
                self.download_verified(bucket, key, size, stream, where)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def download_verified(self, bucket: str, key: str, size: int, stream: IO[bytes], where: str) -> None:
        """Download and compare digests; a mismatch starts over (after a pause) up to
        ``checksum_retry.max_attempts`` times in all."""
        delays = iter(self.checksum_retry.delays(self.rng))
        for attempt in range(1, self.checksum_retry.max_attempts + 1):
            stream.seek(0)
            stream.truncate()
            hasher = _hasher(self.artifact.algorithm or "")
            assert hasher is not None
            offset = 0
            while offset < size:
                offset += self.s3_call(
                    "GetObject",
                    where,
                    lambda start=offset, h=hasher: self.get_range(bucket, key, start, size, stream, h),
                )
            stream.flush()
            os.fsync(stream.fileno())
            if base64.b64encode(hasher.digest()).decode() == self.artifact.digest:
                return
            if attempt < self.checksum_retry.max_attempts:
                self.sleep(next(delays))
        raise self.download_error(
            "ARTIFACT_CHECKSUM_MISMATCH",
            "Failed integrity check for the downloaded artifact. Artifact contents may have changed after "
            f"component version was created ({self.checksum_retry.max_attempts} attempts)",
            hint=f"{where}: the object no longer has the digest recorded in the recipe; publish a new "
            "component version instead of replacing an artifact",
        )

    def get_range(self, bucket: str, key: str, start: int, size: int, stream: IO[bytes], hasher: Any) -> int:
        """One ranged GetObject appended to the file; a stream that breaks keeps what arrived
        and the caller asks for the rest (``ArtifactDownloader.download(InputStream, …)``)."""
        response = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{size - 1}")
        body = response["Body"]
        received = 0
        try:
            for chunk in iter(lambda: body.read(_CHUNK), b""):
                stream.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
        except Exception as err:
            if received == 0:
                raise _Retryable(err) from err
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if received == 0:
            raise _Retryable(OSError("Failed to read any byte from the inputStream"))
        return received

    def s3_call(self, operation: str, where: str, call: Callable[[], T]) -> T:
        """Run one S3 request with the nucleus's retry rules and error codes."""
        delays = iter(self.s3_retry.delays(self.rng))
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    return call()
                except _Retryable:
                    raise
                except Exception as err:
                    status = _status(err)
                    if status is None:
                        if _is_transport_error(err):
                            raise _Retryable(err) from err
                        raise self.download_error(
                            None, f"Failed to download object from S3 ({operation}: {err})", hint=where
                        ) from err
                    if status >= 500 or status == 429 or _retryable_message(err):
                        raise _Retryable(err) from err
                    raise self.s3_error(operation, status, where, err) from err
            except _Retryable as retryable:
                if attempt >= self.s3_retry.max_attempts:
                    raise self.download_error(
                        None,
                        f"Failed to download object from S3 ({operation} failed {attempt} times: "
                        f"{retryable.cause})",
                        hint=where,
                    ) from retryable.cause
                self.sleep(next(delays))

    def s3_error(self, operation: str, status: int, where: str, err: Exception) -> DeploymentError:
        # S3Downloader: 403 and 404 get their own codes per operation; the message names the
        # permission the core device's role needs.
        prefix = {"GetBucketLocation": "S3_GET_BUCKET_LOCATION", "HeadObject": "S3_HEAD_OBJECT"}.get(
            operation, "S3_GET_OBJECT"
        )
        permission = "s3:GetBucketLocation" if operation == "GetBucketLocation" else "s3:GetObject"
        if status == 403:
            return self.download_error(
                f"{prefix}_ACCESS_DENIED",
                f"S3 {operation} returns 403 Access Denied. Ensure the IAM role associated with the core "
                f"device has a policy granting {permission}",
                hint=where,
            )
        if status == 404:
            return self.download_error(
                f"{prefix}_RESOURCE_NOT_FOUND",
                f"S3 {operation} returns 404 Resource Not Found. Ensure the IAM role associated with the "
                f"core device has a policy granting {permission} and the artifact object uri is correct",
                hint=where,
            )
        return self.download_error(
            None, f"Failed to download object from S3 ({operation}: {err})", hint=where
        )


def _hasher(algorithm: str) -> Any:
    name = _ALGORITHMS.get(algorithm.upper())
    return hashlib.new(name) if name else None


def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return None


def _retryable_message(err: BaseException) -> bool:
    text = str(err)
    return any(message in text for message in _RETRYABLE_MESSAGES)


def _is_transport_error(err: BaseException) -> bool:
    """botocore's connection/timeout errors and OS errors: the SdkClientException/IOException
    cases the nucleus retries."""
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return isinstance(err, OSError)
    return isinstance(err, BotoCoreError | OSError)


# --- unarchive -----------------------------------------------------------------------------


class _UnzipError(Exception):
    pass


def _entry_target(root: str, name: str) -> str:
    """Where an entry would be written, or :class:`_UnzipError` if that is not strictly inside
    ``root`` (``Unarchiver.safeNewZipFile``: the canonical path must start with the folder plus
    a separator, so an entry naming the folder itself is refused too)."""
    if name.startswith(("/", "\\")) or _DRIVE_LETTER.match(name) or "\x00" in name:
        raise _UnzipError(f"Entry is outside of the target dir: {name}")
    target = posixpath.normpath(posixpath.join(root, name))
    if not target.startswith(root + "/"):
        raise _UnzipError(f"Entry is outside of the target dir: {name}")
    return target


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def unarchive_zip(archive: Path, destination: Path, *, file_mode: int = 0o640) -> Path:
    """Extract ``archive`` into ``destination`` (created or replaced as a whole).

    Every entry is checked before anything is written; the extraction goes to a temporary
    folder next to ``destination`` and is renamed into place, so a bad archive leaves neither a
    partial folder nor a file outside it. Like Java's ``ZipFile`` in the nucleus, a symlink
    entry is written as a regular file holding the link text; one whose target lies outside the
    folder is refused. Folders become rwxr-xr-x, files ``file_mode``.
    """
    destination = Path(destination)
    parent = destination.parent
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".unarchive", dir=parent))
    try:
        root = str(temp)
        try:
            with zipfile.ZipFile(archive) as zf:
                plan = []
                for info in zf.infolist():
                    target = _entry_target(root, info.filename)
                    if _is_symlink(info):
                        link = zf.read(info).decode("utf-8", "replace")
                        where = posixpath.dirname(target)
                        if link.startswith(("/", "\\")) or _DRIVE_LETTER.match(link):
                            resolved = link
                        else:
                            resolved = posixpath.normpath(posixpath.join(where, link))
                        if resolved != root and not resolved.startswith(root + "/"):
                            raise _UnzipError(
                                f"Entry is a symbolic link pointing outside of the target dir: "
                                f"{info.filename} -> {link}"
                            )
                    plan.append((info, target))
                for info, target in plan:
                    if info.is_dir():
                        os.makedirs(target, exist_ok=True)
                        continue
                    os.makedirs(posixpath.dirname(target), exist_ok=True)
                    with zf.open(info) as source, open(target, "wb") as sink:
                        shutil.copyfileobj(source, sink, _CHUNK)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as err:
            raise _UnzipError(f"{archive.name} is not a readable ZIP archive: {err}") from err
        _set_tree_modes(temp, file_mode)
        if destination.exists() or destination.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".old", dir=parent))
            os.replace(destination, old / "previous")
            os.replace(temp, destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, destination)
        return destination
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


def _set_tree_modes(root: Path, file_mode: int) -> None:
    """``Permissions.setArtifactPermission`` on the unarchived folder: every folder rwxr-xr-x,
    every file the artifact's own mode."""
    os.chmod(root, EVERYONE_READ)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), EVERYONE_READ)
        for name in files:
            os.chmod(os.path.join(folder, name), file_mode)
