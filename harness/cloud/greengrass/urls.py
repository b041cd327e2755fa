"""Which requests on the shared endpoint are Greengrass V2's.

botocore's ``greengrassv2`` model has no ``signingName``, so requests are signed with its
``endpointPrefix``, ``greengrass`` — the same as Greengrass V1, which moto serves. Only the path
tells them apart: V2 operations live under ``/greengrass/v2/``, except tagging, which both
versions do on ``/tags/{resourceArn}``; there the ARN decides. V1 resources have a
``/greengrass/...`` path after the account (``arn:aws:greengrass:<region>:<account>:/greengrass/
groups/<id>``) and stay with moto; anything else is V2's (V2 resources are
``...:(components|deployments|coreDevices):...``), so an ARN of neither kind gets V2's
``ValidationException`` rather than moto's 404.

V2 operations outside those paths (``/greengrass/servicerole``,
``/greengrass/things/{thingName}/connectivityInfo``) share V1's routes exactly and are left to
moto's V1 implementation.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from harness.services.aws_server import signing_name

PATH_PREFIX = "/greengrass/v2/"
_V1_ARN = re.compile(r"^arn:[^:]*:greengrass:[^:]*:[^:]*:/greengrass/")


def _raw_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return unquote(raw.partition("?")[0])
    return environ.get("PATH_INFO", "")


def is_greengrass_v2(environ: dict[str, Any]) -> bool:
    """A request for the Greengrass V2 control plane (signed ``greengrass``, V2 path or V2 ARN)."""
    if signing_name(environ) != "greengrass":
        return False
    path = environ.get("PATH_INFO", "")
    if path.startswith(PATH_PREFIX):
        return True
    if path.startswith("/tags/"):
        return _V1_ARN.match(_raw_path(environ)[len("/tags/") :]) is None
    return False
