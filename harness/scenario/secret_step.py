"""The ``set_secret`` step: a secret in Secrets Manager, as an operator creates or rotates it.

Creates the secret, or puts a new value (AWSCURRENT moves to it, the old one becomes AWSPREVIOUS);
its ARN is then ``${secret.<name>.arn}`` for later steps (a deploy step's configuration merge of
``aws.greengrass.SecretManager``'s ``cloudSecrets``). Devices see a new value when the secret
manager syncs: at its next configuration change, its refresh interval, or a ``refresh: true`` call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.scenario import model as m
from harness.scenario.variables import substitute

if TYPE_CHECKING:
    from harness.scenario.runner import RunContext

__all__ = ["step_set_secret"]


def step_set_secret(ctx: RunContext, step: m.SetSecretStep) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    secrets = ctx.client("secretsmanager")
    value = substitute(step.value, ctx.values)
    try:
        try:
            answer = secrets.create_secret(Name=step.secret, SecretString=value)
            action = "created"
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceExistsException":
                raise
            answer = secrets.put_secret_value(SecretId=step.secret, SecretString=value)
            action = "updated"
    except (BotoCoreError, ClientError) as err:
        raise HarnessError(
            f"set_secret {step.secret}: Secrets Manager refused it: {err}",
            hint="the AWS endpoint (or account) must allow secretsmanager:CreateSecret/PutSecretValue",
        ) from None
    ctx.values[f"secret.{step.secret}.arn"] = str(answer["ARN"])
    return {
        "secret": step.secret,
        "arn": answer["ARN"],
        "versionId": answer.get("VersionId"),
        "action": action,
    }
