"""Uses the Greengrass CLI operations on another component (the worker named on the command line)."""

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


worker, missing, stoppable = sys.argv[1:4]
client = GreengrassCoreIPCClientV2()
components = client.list_components().components
report("list", components={c.component_name: c.state for c in components})
details = client.get_component_details(component_name=worker).component_details
report(
    "details",
    name=details.component_name,
    version=details.version,
    state=details.state,
    configuration=details.configuration,
)
report("missing", error=error_of(lambda: client.get_component_details(component_name=missing)))
report("empty", error=error_of(lambda: client.get_component_details(component_name="")))
report("restart", status=client.restart_component(component_name=worker).restart_status)
report("stop", error=error_of(lambda: client.stop_component(component_name=worker)))
report("stopped", status=client.stop_component(component_name=stoppable).stop_status)
while True:
    time.sleep(1)
