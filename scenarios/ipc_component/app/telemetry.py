"""A Greengrass component that uses the nucleus's IPC as a field app does (awsiotsdk only):

- reads its database password from the secret manager (GetSecretValue, by the secret's name);
- publishes telemetry to IoT Core every second (fleet/<thing>/telemetry);
- reports its state in its named shadow "telemetry" and applies the shadow's desired fps;
- defers the first update the nucleus announces (componentUpdatePolicy NOTIFY_COMPONENTS) by
  two seconds, to finish what it is doing, and accepts it when asked again.
"""

import json
import os
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import QOS

secret_name = sys.argv[1]
thing = os.environ["AWS_IOT_THING_NAME"]
version = os.environ.get("GREENGRASS_COMPONENT_VERSION", "unknown")
client = GreengrassCoreIPCClientV2()
deferred = []


def on_update(event):
    if event.pre_update_event is None:
        return
    deployment = event.pre_update_event.deployment_id
    if not deferred:
        deferred.append(deployment)
        client.defer_component_update(
            deployment_id=deployment, message="finishing a batch", recheck_after_ms=2000
        )
        print(f"deferred the update once: {deployment}", flush=True)
    else:
        client.defer_component_update(deployment_id=deployment, recheck_after_ms=0)
        print(f"accepted the update: {deployment}", flush=True)


client.subscribe_to_component_updates(on_stream_event=on_update)
password = client.get_secret_value(secret_id=secret_name).secret_value.secret_string
print(f"read secret {secret_name} ({len(password)} characters)", flush=True)

fps = 30
sequence = 0
while True:
    sequence += 1
    try:
        shadow = json.loads(client.get_thing_shadow(thing_name=thing, shadow_name="telemetry").payload)
        fps = shadow.get("state", {}).get("desired", {}).get("fps", fps)
    except Exception:  # no shadow yet
        pass
    reported = {"version": version, "fps": fps, "secretLength": len(password), "sequence": sequence}
    client.update_thing_shadow(
        thing_name=thing, shadow_name="telemetry", payload=json.dumps({"state": {"reported": reported}})
    )
    message = {"thing": thing, "version": version, "sequence": sequence, "fps": fps}
    client.publish_to_iot_core(
        topic_name=f"fleet/{thing}/telemetry", qos=QOS.AT_LEAST_ONCE, payload=json.dumps(message)
    )
    time.sleep(1)
