"""``nextToken``/``maxResults`` pagination for list operations.

Tokens are opaque to clients, as AWS's are, but carry the offset and a fingerprint of the query
they belong to: a token used with other filters, another operation or tampered with is rejected
with ``ValidationException`` instead of silently returning the wrong page. Lists are computed
fresh for every page from state ordered deterministically, so pages are consistent as long as
the state does not change in between (real AWS gives no stronger promise).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from harness.cloud.protocol import AwsServiceError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50


def _fingerprint(query: Any) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(offset: int, query: Any) -> str:
    data = json.dumps({"o": offset, "q": _fingerprint(query)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode()


def decode_token(token: str, query: Any) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
        valid = data["q"] == _fingerprint(query) and offset >= 0
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise AwsServiceError(
            "ValidationException",
            "The nextToken is not valid: pass the token returned by the previous call of the same "
            "operation with the same parameters",
            reason="FIELD_VALIDATION_FAILED",
        )
    return offset


def paginate(
    items: Sequence[T],
    *,
    next_token: str | None,
    max_results: int | None,
    query: Any,
    default_page_size: int = DEFAULT_PAGE_SIZE,
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token for the next page (None on the last page).

    ``query`` identifies the listing (operation name and filters) for the token fingerprint.
    """
    offset = decode_token(next_token, query) if next_token else 0
    size = max_results or default_page_size
    page = list(items[offset : offset + size])
    end = offset + len(page)
    return page, encode_token(end, query) if end < len(items) else None
