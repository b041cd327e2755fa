"""A scenario's bucket policy file (``services.aws.bucket_policy``): checked at load, filled at run.

The file is the JSON a team puts on its artifact bucket, with ``${…}`` for what only the run
knows — the bucket, the account, the devices' role and things. Loading checks what can be
checked before anything starts (every ``${…}`` is a name the scenario has, the document is a
policy S3 would take once filled in) so that a typo fails in a second with the file's name, not
after the services booted; S3 itself checks the rest at PutBucketPolicy (principals that exist).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from harness.cloud.security.policy import MalformedPolicy, parse_policy
from harness.scenario.variables import VariableSyntaxError, reference_problem, references, substitute

#: stand-ins used to check a document before the run fills it in
_PLACEHOLDERS = {
    "aws.account": "123456789012",
    "aws.device_role": "arn:aws:iam::123456789012:role/GreengrassV2TokenExchangeRole",
    "aws.bucket": "edge-harness-bucket",
}
_DEVICE_THING = re.compile(r"^device\.([0-9]+)\.thing$")


def check_policy_file(
    path: Path, variables: Iterable[str], thing_count: int | None = None
) -> tuple[str, str] | None:
    """``(problem, hint)`` if the file is not a usable bucket policy, else None; ``thing_count``:
    how many things the scenario has (None: unknown)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        return f"bucket policy {path} cannot be read: {err}", "a UTF-8 JSON file"
    known = list(variables)
    try:
        names = references(text)
    except VariableSyntaxError as err:
        return f"bucket policy {path}: {err}", "write $${ for a literal ${"
    for name in names:
        problem = reference_problem(name, known, thing_count)
        if problem:
            return (
                f"bucket policy {path}: {problem}",
                "built-in names: aws.bucket, aws.account, aws.device_role",
            )
    values = {name: _stand_in(name) for name in names}
    try:
        parse_policy(substitute(text, values), resource_policy=True)
    except MalformedPolicy as err:
        if any(name.startswith("var.") for name in names) and "principal" in str(err).lower():
            return None  # a principal from a variable is only known at run time
        return (
            f"bucket policy {path} is not a policy S3 accepts: MalformedPolicy: {err}",
            'a JSON object {"Version": "2012-10-17", "Statement": [{"Effect": "Allow" | "Deny", '
            '"Principal": ..., "Action": ..., "Resource": ...}]} (Amazon S3 User Guide, bucket policies)',
        )
    return None


def _stand_in(name: str) -> str:
    if name in _PLACEHOLDERS:
        return _PLACEHOLDERS[name]
    device = _DEVICE_THING.match(name)
    if device:
        return f"thing-{device.group(1)}"
    return "x"


def render_policy_file(path: Path, values: Mapping[str, str]) -> str:
    """The document with the run's values filled in."""
    return substitute(path.read_text(), values)
