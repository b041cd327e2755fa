"""Publishes to and subscribes to IoT Core through the nucleus (topics under the base named on the
command line); reports each step, then every message its subscription receives."""

import json
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import QOS


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


base = sys.argv[1]
client = GreengrassCoreIPCClientV2()


def on_command(event):
    message = event.message
    report("received", topic=message.topic_name, payload=message.payload.decode())


def subscribe():
    client.subscribe_to_iot_core(
        topic_name=f"{base}/commands/#", qos=QOS.AT_LEAST_ONCE, on_stream_event=on_command
    )


report("subscribed", error=error_of(subscribe))
telemetry = f"{base}/telemetry"
publishes = [
    lambda: client.publish_to_iot_core(
        topic_name=telemetry, qos=QOS.AT_LEAST_ONCE, payload=json.dumps({"n": 1})
    ),
    lambda: client.publish_to_iot_core(topic_name=telemetry, qos=QOS.AT_MOST_ONCE, payload=b"\x00\x01raw"),
    lambda: client.publish_to_iot_core(
        topic_name=telemetry, qos=QOS.AT_LEAST_ONCE, payload=b"kept", retain=True
    ),
]
report("published", errors=[error_of(publish) for publish in publishes])
report(
    "denied-publish",
    error=error_of(lambda: client.publish_to_iot_core(topic_name=f"{base}/secret", qos="1", payload=b"x")),
)
report(
    "denied-subscribe",
    error=error_of(
        lambda: client.subscribe_to_iot_core(topic_name=f"{base}/secret", qos="1", on_stream_event=print)
    ),
)
report(
    "wildcard-publish",
    error=error_of(
        lambda: client.publish_to_iot_core(topic_name=f"{base}/telemetry/+", qos="1", payload=b"x")
    ),
)
report(
    "bad-qos",
    error=error_of(lambda: client.publish_to_iot_core(topic_name=f"{base}/telemetry", qos="2", payload=b"x")),
)
report(
    "deep-topic",
    error=error_of(
        lambda: client.publish_to_iot_core(
            topic_name=f"{base}/telemetry/a/b/c/d/e/f/g", qos="1", payload=b"x"
        )
    ),
)
report("ready")
while True:
    time.sleep(1)
