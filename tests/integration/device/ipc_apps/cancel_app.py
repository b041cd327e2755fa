"""Calls CancelLocalDeployment over IPC: a malformed id, then a well-formed one (a component may
not cancel: the nucleus does not register the operation for the CLI's policies)."""

import json
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2


def report(step, **fields):
    # one write per line: SDK callbacks print from threads of their own
    sys.stdout.write("IPC " + json.dumps({"step": step, **fields}, sort_keys=True) + "\n")
    sys.stdout.flush()


def error_of(call):
    try:
        call()
    except Exception as err:
        return {"type": type(err).__name__, "message": getattr(err, "message", None) or str(err)}
    return None


client = GreengrassCoreIPCClientV2()
report("bad-id", error=error_of(lambda: client.cancel_local_deployment(deployment_id="not-a-uuid")))
unknown = "00000000-0000-4000-8000-000000000000"
report("well-formed-id", error=error_of(lambda: client.cancel_local_deployment(deployment_id=unknown)))
report("ready")
while True:
    time.sleep(1)
