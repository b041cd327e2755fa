"""Defers every update for a minute, and says when it hears an update is over."""

import json
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2


def report(step, **fields):
    # one write per line: SDK callbacks print from threads of their own
    sys.stdout.write("IPC " + json.dumps({"step": step, **fields}, sort_keys=True) + "\n")
    sys.stdout.flush()


client = GreengrassCoreIPCClientV2()


def on_event(event):
    if event.pre_update_event is not None:
        deployment = event.pre_update_event.deployment_id
        report("pre-update", deployment=deployment)
        client.defer_component_update(deployment_id=deployment, message="recording", recheck_after_ms=60000)
    elif event.post_update_event is not None:
        report("post-update", deployment=event.post_update_event.deployment_id)


client.subscribe_to_component_updates(on_stream_event=on_event)
report("ready")
while True:
    time.sleep(1)
