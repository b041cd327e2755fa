"""Calls the CLI's local deployment operations (allowed: list and status; not allowed: create)."""

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
report("create", error=error_of(lambda: client.create_local_deployment(root_components_to_remove=["x"])))
deployments = client.list_local_deployments().local_deployments
report("list", count=len(deployments))
report("bad-id", error=error_of(lambda: client.get_local_deployment_status(deployment_id="not-a-uuid")))
unknown = "00000000-0000-4000-8000-000000000000"
report("unknown-id", error=error_of(lambda: client.get_local_deployment_status(deployment_id=unknown)))
report("ready")
while True:
    time.sleep(1)
