"""Reading boto3 errors in tests: the code and HTTP status a client saw."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(call: Callable[[], Any]) -> ClientError:
    """The ClientError ``call`` raises (the test fails if it raises none)."""
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def code_and_status(err: ClientError) -> tuple[str, int]:
    return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
