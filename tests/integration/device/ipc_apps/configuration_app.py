"""A component that uses the configuration operations over IPC, as a real component would.

It prints one ``IPC {json}`` line per step on stdout (the device copies it into the component's
log) and then keeps running, printing every configuration update event it receives.
"""

import datetime
import json
import os
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
    except Exception as err:  # the test checks the type and message
        return {"type": type(err).__name__, "message": getattr(err, "message", str(err))}
    return None


client = GreengrassCoreIPCClientV2()
report("token", length=len(os.environ["SVCUID"]), token=os.environ["SVCUID"])
report("get-leaf", value=client.get_configuration(key_path=["greeting"]).value)
report("get-all", value=client.get_configuration().value)
report("get-missing", error=error_of(lambda: client.get_configuration(key_path=["no", "such"])))
other = sys.argv[1]
report("get-other", value=client.get_configuration(component_name=other, key_path=["color"]).value)


def on_event(event):
    update = event.configuration_update_event
    report("event", component=update.component_name, key_path=update.key_path)


client.subscribe_to_configuration_update(key_path=["limits"], on_stream_event=on_event)
client.update_configuration(
    key_path=["limits"], value_to_merge={"fps": 15, "burst": 2}, timestamp=datetime.datetime.now()
)
report("after-update", value=client.get_configuration(key_path=["limits"]).value)
stale = datetime.datetime.now() - datetime.timedelta(days=1)
error = error_of(
    lambda: client.update_configuration(key_path=["limits"], value_to_merge={"fps": 1}, timestamp=stale)
)
report("stale-update", error=error, value=client.get_configuration(key_path=["limits", "fps"]).value)
now = datetime.datetime.now()
error = error_of(lambda: client.update_configuration(value_to_merge={"accessControl": {}}, timestamp=now))
report("restricted-update", error=error)
report("ready")
while True:
    time.sleep(1)
