"""IAM policy documents: parsing, the checks S3 makes at PutBucketPolicy, and evaluation.

No library on PyPI evaluates a request against identity *and* resource policies: moto's
``moto.iam.access_control`` evaluates identity policies only (and treats a statement whose
Principal does not match as an explicit deny), policyuniverse parses and expands policies but
decides nothing and is no longer released, and the IAM simulators (iam-ape, aws-why, iamwhy)
read a real account or call IAM's own simulator. So this module evaluates the subset S3 needs,
by the rules of the IAM User Guide ("Policy evaluation logic", "Cross-account policy
evaluation logic") and the S3 User Guide ("How Amazon S3 authorizes a request"):

- a statement applies when its ``Principal``/``NotPrincipal`` (resource policies), its
  ``Action``/``NotAction`` (case-insensitive, ``*`` and ``?`` wildcards) and its
  ``Resource``/``NotResource`` (case-sensitive, same wildcards) all match the request;
- an applicable ``Deny`` anywhere wins;
- same account: an ``Allow`` in an identity policy *or* in the bucket policy is enough, and the
  account's root is allowed by its identity; another account needs both; an anonymous request
  only the bucket policy (``"Principal": "*"``);
- the bucket owner's root may always read, change and delete the bucket policy.

``Condition`` blocks are not evaluated: a statement with one never applies (logged once per
policy), which is stated in docs/cloud.md.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("harness.cloud.security.policy")

VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(root|user/.+|role/.+)$")
_SESSION_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/[^/]+/[^/]+$")
_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$")


class MalformedPolicy(ValueError):
    """A policy S3 refuses at PutBucketPolicy; the message is S3's wording."""


@dataclass(frozen=True)
class Caller:
    """Who makes a request, as a policy sees it.

    ``arn`` is the principal's ARN (``…:root``, ``…:user/name``,
    ``arn:aws:sts::<account>:assumed-role/<role>/<session>``), ``role_arn`` the role of an
    assumed-role session; an anonymous caller has neither.
    """

    arn: str | None
    account: str | None
    role_arn: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.arn is None

    @property
    def is_root(self) -> bool:
        return self.arn is not None and self.arn.endswith(":root")


ANONYMOUS = Caller(None, None)


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    sid: str | None = None
    principal: Any = None  # "*" or {"AWS": [...], ...}; None in identity policies
    not_principal: Any = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    condition: dict[str, Any] | None = None


@dataclass(frozen=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    source: str = field(default="", compare=False)


def _as_list(value: Any, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise MalformedPolicy(f"{what} must be a string or a list of strings")
    return tuple(items)


def parse_policy(text: str | bytes, *, resource_policy: bool) -> PolicyDocument:
    """Parse a policy document; :class:`MalformedPolicy` says what is wrong, as S3 words it.

    ``resource_policy``: a bucket policy, whose statements must name a Principal; an identity
    policy must not.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    try:
        data = json.loads(stripped)
    except ValueError as err:
        raise MalformedPolicy(f"Policies must be valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    unknown = sorted(set(data) - {"Version", "Id", "Statement"})
    if unknown:
        raise MalformedPolicy(f"Unknown field {unknown[0]}")
    version = data.get("Version")
    if version is not None and version not in VERSIONS:
        raise MalformedPolicy("The policy must contain a valid version string")
    raw = data.get("Statement")
    if raw is None:
        raise MalformedPolicy("Missing required field Statement")
    raw_statements = raw if isinstance(raw, list) else [raw]
    if not raw_statements:
        raise MalformedPolicy("Could not parse the policy: Statement is empty!")
    return PolicyDocument(tuple(_statement(item, resource_policy) for item in raw_statements), source=text)


def _statement(item: Any, resource_policy: bool) -> Statement:
    if not isinstance(item, dict):
        raise MalformedPolicy("Statement must be an object")
    unknown = sorted(set(item) - _STATEMENT_KEYS)
    if unknown:
        raise MalformedPolicy(f"Unknown field {unknown[0]}")
    effect = item.get("Effect")
    if effect is None:
        raise MalformedPolicy("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Invalid effect: {effect}")
    has_principal = "Principal" in item or "NotPrincipal" in item
    if resource_policy and not has_principal:
        raise MalformedPolicy("Missing required field Principal")
    if not resource_policy and has_principal:
        raise MalformedPolicy("Policy document should not specify a principal.")
    if ("Action" in item) == ("NotAction" in item):
        raise MalformedPolicy(
            "Missing required field Action"
            if "Action" not in item
            else "Statement has both Action and NotAction"
        )
    if ("Resource" in item) == ("NotResource" in item):
        raise MalformedPolicy(
            "Missing required field Resource"
            if "Resource" not in item
            else "Statement has both Resource and NotResource"
        )
    condition = item.get("Condition")
    if condition is not None and not isinstance(condition, dict):
        raise MalformedPolicy("Invalid Condition: it must be an object")
    for key in ("Principal", "NotPrincipal"):
        if key in item:
            _check_principal(item[key])
    actions = _as_list(item["Action"], "Action") if "Action" in item else None
    not_actions = _as_list(item["NotAction"], "NotAction") if "NotAction" in item else None
    for action in (*(actions or ()), *(not_actions or ())):
        if action != "*" and not _ACTION.match(action):
            raise MalformedPolicy("Policy has invalid action")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy("Statement IDs (SID) must be strings")
    return Statement(
        effect=effect,
        sid=sid,
        principal=item.get("Principal"),
        not_principal=item.get("NotPrincipal"),
        actions=actions,
        not_actions=not_actions,
        resources=_as_list(item["Resource"], "Resource") if "Resource" in item else None,
        not_resources=_as_list(item["NotResource"], "NotResource") if "NotResource" in item else None,
        condition=condition,
    )


def _principal_entries(spec: Any) -> dict[str, tuple[str, ...]]:
    """``{"AWS": (...), "Service": (...), ...}`` of a Principal element (``"*"`` → AWS ``*``)."""
    if spec == "*":
        return {"AWS": ("*",)}
    if not isinstance(spec, dict) or not spec:
        raise MalformedPolicy("Invalid principal in policy")
    out = {}
    for kind, value in spec.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise MalformedPolicy("Invalid principal in policy")
        try:
            out[kind] = _as_list(value, "Principal")
        except MalformedPolicy:
            raise MalformedPolicy("Invalid principal in policy") from None
    return out


def _check_principal(spec: Any) -> None:
    for entry in _principal_entries(spec).get("AWS", ()):
        if entry == "*" or _ACCOUNT.match(entry) or _IAM_PRINCIPAL.match(entry):
            continue
        if _SESSION_PRINCIPAL.match(entry):
            continue
        raise MalformedPolicy("Invalid principal in policy")


def aws_principals(document: PolicyDocument) -> list[str]:
    """The IAM user and role ARNs a document names as principals (checked for existence)."""
    names = []
    for statement in document.statements:
        for spec in (statement.principal, statement.not_principal):
            if spec is None:
                continue
            for entry in _principal_entries(spec).get("AWS", ()):
                found = _IAM_PRINCIPAL.match(entry)
                if found and found.group(2) != "root":
                    names.append(entry)
    return names


def check_bucket_policy(
    document: PolicyDocument,
    bucket: str,
    *,
    known_actions: Iterable[str],
    principal_exists: Callable[[str], bool],
) -> None:
    """What S3 checks beyond the grammar: S3 actions it knows, resources in this bucket, and
    principals that exist (the seed's untranslated ``user/用户名称`` is refused here)."""
    known = {name.lower() for name in known_actions}
    for statement in document.statements:
        for action in (*(statement.actions or ()), *(statement.not_actions or ())):
            if action == "*":
                continue
            service, _, name = action.partition(":")
            if service.lower() != "s3":
                raise MalformedPolicy("Policy has invalid action")
            if "*" not in name and "?" not in name and name.lower() not in known:
                raise MalformedPolicy("Policy has invalid action")
        for resource in (*(statement.resources or ()), *(statement.not_resources or ())):
            if resource == "*":
                continue
            prefix = "arn:aws:s3:::"
            target = resource[len(prefix) :].split("/", 1)[0] if resource.startswith(prefix) else None
            if target is None or not _glob(target, case_sensitive=True).fullmatch(bucket):
                raise MalformedPolicy("Policy has invalid resource")
    for arn in aws_principals(document):
        if not principal_exists(arn):
            raise MalformedPolicy("Invalid principal in policy")


# -- evaluation --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _glob(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def _any_glob(patterns: Sequence[str], value: str, *, case_sensitive: bool) -> bool:
    return any(_glob(p, case_sensitive=case_sensitive).fullmatch(value) for p in patterns)


def principal_matches(spec: Any, caller: Caller) -> bool:
    """Whether a Principal element names ``caller``: ``*``, its account (id or ``:root``), its
    user, its role (any session of it) or its session."""
    for entry in _principal_entries(spec).get("AWS", ()):
        if entry == "*":
            return True
        if caller.anonymous:
            continue
        if _ACCOUNT.match(entry):
            if entry == caller.account:
                return True
            continue
        found = _IAM_PRINCIPAL.match(entry)
        if found and found.group(2) == "root":
            if found.group(1) == caller.account:
                return True
            continue
        if entry in (caller.arn, caller.role_arn):
            return True
    return False


def _applies(statement: Statement, caller: Caller | None, action: str, resource: str) -> bool:
    if statement.actions is not None:
        if not _any_glob(statement.actions, action, case_sensitive=False):
            return False
    elif _any_glob(statement.not_actions or (), action, case_sensitive=False):
        return False
    if statement.resources is not None:
        if not _any_glob(statement.resources, resource, case_sensitive=True):
            return False
    elif _any_glob(statement.not_resources or (), resource, case_sensitive=True):
        return False
    if caller is not None:  # a resource policy: the statement must name the caller
        if statement.principal is not None:
            if not principal_matches(statement.principal, caller):
                return False
        elif principal_matches(statement.not_principal, caller):
            return False
    if statement.condition:
        log.warning(
            "statement %s has a Condition, which this endpoint does not evaluate: it does not apply",
            statement.sid or "(no Sid)",
        )
        return False
    return True


def effects(document: PolicyDocument, action: str, resource: str, caller: Caller | None = None) -> set[str]:
    """The effects (``Allow``/``Deny``) of the statements that apply; ``caller`` for a resource
    policy, None for an identity policy (whose statements name no principal)."""
    return {s.effect for s in document.statements if _applies(s, caller, action, resource)}


#: actions the bucket owner's root may always take, whatever the bucket policy says
OWNER_ALWAYS = frozenset({"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "explicit deny in the bucket policy", "no policy allows it", …


def decide(
    caller: Caller,
    action: str,
    resource: str,
    *,
    identity_policies: Sequence[PolicyDocument],
    resource_policy: PolicyDocument | None,
    resource_account: str,
) -> Decision:
    """Whether ``caller`` may take ``action`` on ``resource`` (an S3 ARN of a bucket owned by
    ``resource_account``)."""
    if caller.is_root and caller.account == resource_account and action.lower() in OWNER_ALWAYS:
        return Decision(True, "the bucket owner's root may always manage the bucket policy")
    found_identity: set[str] = set()
    for document in identity_policies:
        found_identity |= effects(document, action, resource)
    found_resource = effects(resource_policy, action, resource, caller) if resource_policy else set()
    if "Deny" in found_identity:
        return Decision(False, "an identity policy denies it explicitly")
    if "Deny" in found_resource:
        return Decision(False, "the bucket policy denies it explicitly")
    by_identity = caller.is_root or "Allow" in found_identity
    by_resource = "Allow" in found_resource
    if caller.anonymous:
        allowed = by_resource
    elif caller.account == resource_account:
        allowed = by_identity or by_resource
    else:
        allowed = by_identity and by_resource
    if allowed:
        return Decision(True, "allowed")
    if not caller.anonymous and caller.account != resource_account and by_identity:
        return Decision(False, "the bucket is in another account and its policy does not allow it")
    return Decision(False, "no identity policy and no bucket policy allows it")
