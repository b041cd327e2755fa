"""Reads secrets through the nucleus (ARN and name on the command line) and reports each answer."""

import base64
import json
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2


def report(step, **fields):
    # one write per line: SDK callbacks print from threads of their own
    sys.stdout.write("IPC " + json.dumps({"step": step, **fields}, sort_keys=True) + "\n")
    sys.stdout.flush()


def secret_of(**request):
    try:
        answer = client.get_secret_value(**request)
    except Exception as err:
        return {"error": {"type": type(err).__name__, "message": getattr(err, "message", None) or str(err)}}
    value = answer.secret_value
    return {
        "arn": answer.secret_id,
        "version": answer.version_id,
        "stages": sorted(answer.version_stage or []),
        "string": value.secret_string,
        "binary": base64.b64encode(value.secret_binary).decode() if value.secret_binary else None,
    }


arn, name, binary_arn, unlisted, forbidden = sys.argv[1:6]
client = GreengrassCoreIPCClientV2()
report("by-arn", **secret_of(secret_id=arn))
report("by-name", **secret_of(secret_id=name))
report("by-stage", **secret_of(secret_id=arn, version_stage="AWSPREVIOUS"))
report("binary", **secret_of(secret_id=binary_arn))
report("unlisted", **secret_of(secret_id=unlisted))
report("forbidden", **secret_of(secret_id=forbidden))
report("both", **secret_of(secret_id=arn, version_id="v", version_stage="AWSCURRENT"))
report("unknown-stage", **secret_of(secret_id=arn, version_stage="staging"))
report("ready")
while True:
    time.sleep(1)
