"""Which IAM action and resource an S3 REST request is, for policy evaluation.

S3 authorizes each operation as one action on one resource (Service Authorization Reference,
"Actions defined by Amazon S3"): object operations on ``arn:aws:s3:::bucket/key``, bucket
operations on ``arn:aws:s3:::bucket``, ListAllMyBuckets on ``*``. The request says which by its
method, whether the path names a key, and its subresource query parameter (``?policy``,
``?location``, ``?uploads`` …). A HEAD is authorized as the GET it mirrors (HeadObject needs
s3:GetObject, HeadBucket s3:ListBucket); a copy also needs s3:GetObject on its source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

#: S3 actions a bucket policy may name (Service Authorization Reference); anything else without
#: a wildcard is "Policy has invalid action"
KNOWN_ACTIONS: frozenset[str] = frozenset(
    [
        "AbortMultipartUpload",
        "BypassGovernanceRetention",
        "CreateAccessPoint",
        "CreateBucket",
        "CreateJob",
        "DeleteAccessPoint",
        "DeleteBucket",
        "DeleteBucketOwnershipControls",
        "DeleteBucketPolicy",
        "DeleteBucketWebsite",
        "DeleteObject",
        "DeleteObjectTagging",
        "DeleteObjectVersion",
        "DeleteObjectVersionTagging",
        "GetAccelerateConfiguration",
        "GetAnalyticsConfiguration",
        "GetBucketAcl",
        "GetBucketCORS",
        "GetBucketLocation",
        "GetBucketLogging",
        "GetBucketNotification",
        "GetBucketObjectLockConfiguration",
        "GetBucketOwnershipControls",
        "GetBucketPolicy",
        "GetBucketPolicyStatus",
        "GetBucketPublicAccessBlock",
        "GetBucketRequestPayment",
        "GetBucketTagging",
        "GetBucketVersioning",
        "GetBucketWebsite",
        "GetEncryptionConfiguration",
        "GetIntelligentTieringConfiguration",
        "GetInventoryConfiguration",
        "GetLifecycleConfiguration",
        "GetMetricsConfiguration",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectRetention",
        "GetObjectTagging",
        "GetObjectTorrent",
        "GetObjectVersion",
        "GetObjectVersionAcl",
        "GetObjectVersionAttributes",
        "GetObjectVersionForReplication",
        "GetObjectVersionTagging",
        "GetObjectVersionTorrent",
        "GetReplicationConfiguration",
        "ListAllMyBuckets",
        "ListBucket",
        "ListBucketMultipartUploads",
        "ListBucketVersions",
        "ListMultipartUploadParts",
        "ObjectOwnerOverrideToBucketOwner",
        "PutAccelerateConfiguration",
        "PutAnalyticsConfiguration",
        "PutBucketAcl",
        "PutBucketCORS",
        "PutBucketLogging",
        "PutBucketNotification",
        "PutBucketObjectLockConfiguration",
        "PutBucketOwnershipControls",
        "PutBucketPolicy",
        "PutBucketPublicAccessBlock",
        "PutBucketRequestPayment",
        "PutBucketTagging",
        "PutBucketVersioning",
        "PutBucketWebsite",
        "PutEncryptionConfiguration",
        "PutIntelligentTieringConfiguration",
        "PutInventoryConfiguration",
        "PutLifecycleConfiguration",
        "PutMetricsConfiguration",
        "PutObject",
        "PutObjectAcl",
        "PutObjectLegalHold",
        "PutObjectRetention",
        "PutObjectTagging",
        "PutObjectVersionAcl",
        "PutObjectVersionTagging",
        "PutReplicationConfiguration",
        "ReplicateDelete",
        "ReplicateObject",
        "ReplicateTags",
        "RestoreObject",
    ]
)

# bucket subresource → (GET action, PUT action, DELETE action)
_BUCKET_SUBRESOURCES: dict[str, tuple[str, str, str]] = {
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", "", ""),
    "location": ("GetBucketLocation", "", ""),
    "acl": ("GetBucketAcl", "PutBucketAcl", ""),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", ""),
    "versions": ("ListBucketVersions", "", ""),
    "uploads": ("ListBucketMultipartUploads", "", ""),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "logging": ("GetBucketLogging", "PutBucketLogging", ""),
    "notification": ("GetBucketNotification", "PutBucketNotification", ""),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "publicAccessBlock": (
        "GetBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
    ),
    "ownershipControls": (
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
    ),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", ""),
    "replication": (
        "GetReplicationConfiguration",
        "PutReplicationConfiguration",
        "PutReplicationConfiguration",
    ),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", ""),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", ""),
}

_HOST_STYLE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3[.-]")


@dataclass(frozen=True)
class S3Access:
    """One permission a request needs: ``action`` (``s3:GetObject``) on ``resource`` (an ARN)."""

    action: str
    resource: str
    bucket: str | None


def bucket_and_key(path: str, host: str = "") -> tuple[str | None, str | None]:
    """The bucket and key a request addresses: virtual-hosted (``bucket.s3.…``) or path-style."""
    path = unquote(path or "/")
    found = _HOST_STYLE.match(host.split(":", 1)[0])
    if found:
        key = path.lstrip("/")
        return found.group("bucket"), key or None
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket or None, key or None


def _object_action(method: str, query: Mapping[str, str]) -> str:
    versioned = "versionId" in query
    if "tagging" in query:
        if method == "GET":
            return "GetObjectVersionTagging" if versioned else "GetObjectTagging"
        if method == "DELETE":
            return "DeleteObjectVersionTagging" if versioned else "DeleteObjectTagging"
        return "PutObjectVersionTagging" if versioned else "PutObjectTagging"
    if "acl" in query:
        if method == "GET":
            return "GetObjectVersionAcl" if versioned else "GetObjectAcl"
        return "PutObjectVersionAcl" if versioned else "PutObjectAcl"
    if "retention" in query:
        return "GetObjectRetention" if method == "GET" else "PutObjectRetention"
    if "legal-hold" in query:
        return "GetObjectLegalHold" if method == "GET" else "PutObjectLegalHold"
    if "attributes" in query:
        return "GetObjectVersionAttributes" if versioned else "GetObjectAttributes"
    if method in ("GET", "HEAD"):
        if "uploadId" in query:
            return "ListMultipartUploadParts"
        return "GetObjectVersion" if versioned else "GetObject"
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload"
        return "DeleteObjectVersion" if versioned else "DeleteObject"
    if method == "POST" and "restore" in query:
        return "RestoreObject"
    return "PutObject"  # PUT, UploadPart, Create/CompleteMultipartUpload


def _bucket_action(method: str, query: Mapping[str, str]) -> str:
    for name, (get, put, delete) in _BUCKET_SUBRESOURCES.items():
        if name in query:
            chosen = {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete}.get(method, "")
            if chosen:
                return chosen
    if method == "POST" and "delete" in query:
        return "DeleteObject"  # DeleteObjects: each key needs s3:DeleteObject
    if method in ("GET", "HEAD"):
        return "ListBucket"
    if method == "PUT":
        return "CreateBucket"
    if method == "DELETE":
        return "DeleteBucket"
    return "PutObject"  # a POST form upload


def required_access(method: str, path: str, query: str, headers: Mapping[str, str]) -> list[S3Access]:
    """The permissions an S3 request needs, in the order they are checked.

    ``headers`` are lower-case names (``host``, ``x-amz-copy-source``).
    """
    method = method.upper()
    params = dict(parse_qsl(query, keep_blank_values=True))
    bucket, key = bucket_and_key(path, headers.get("host", ""))
    if bucket is None:
        return [S3Access("s3:ListAllMyBuckets", "*", None)]
    if key is None:
        action = _bucket_action(method, params)
        resource = f"arn:aws:s3:::{bucket}" + ("/*" if action == "DeleteObject" else "")
        return [S3Access(f"s3:{action}", resource, bucket)]
    needed = [S3Access(f"s3:{_object_action(method, params)}", f"arn:aws:s3:::{bucket}/{key}", bucket)]
    source = headers.get("x-amz-copy-source")
    if method == "PUT" and source:
        src_bucket, _, src_key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
        if src_bucket and src_key:
            needed.append(S3Access("s3:GetObject", f"arn:aws:s3:::{src_bucket}/{src_key}", src_bucket))
    return needed
