"""Takes part in deployments: defers the first notice of an update, accepts the second."""

import json
import sys
import threading
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
report("running-again", error=error_of(lambda: client.update_state(state="RUNNING")))
report("defer-unsubscribed", error=error_of(lambda: client.defer_component_update(deployment_id="x")))
notices = []
done = threading.Event()


def on_event(event):
    if event.pre_update_event is not None:
        deployment = event.pre_update_event.deployment_id
        notices.append(deployment)
        wait_ms = 1500 if len(notices) == 1 else 0
        report("pre-update", deployment=deployment, restarting=event.pre_update_event.is_ggc_restarting)
        client.defer_component_update(deployment_id=deployment, message="busy", recheck_after_ms=wait_ms)
    elif event.post_update_event is not None:
        deployment = event.post_update_event.deployment_id
        report("post-update", deployment=deployment)
        error = error_of(lambda: client.defer_component_update(deployment_id=deployment, recheck_after_ms=10))
        report("late-defer", error=error)
        done.set()


client.subscribe_to_component_updates(on_stream_event=on_event)
report("ready")
while True:
    time.sleep(1)
