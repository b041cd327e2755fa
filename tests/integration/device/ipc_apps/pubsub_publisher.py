"""Waits for the subscriber, then publishes JSON and binary detections and probes what it may not do."""

import json
import sys
import threading
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import BinaryMessage, JsonMessage, PublishMessage


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
ready = threading.Event()
client.subscribe_to_topic(topic="subscribers/ready", on_stream_event=lambda event: ready.set())
own = []
client.subscribe_to_topic(topic="detections/cam1", on_stream_event=lambda event: own.append("exact"))
client.subscribe_to_topic(topic="detections/+", on_stream_event=lambda event: own.append("wildcard"))
report("waiting", ready=ready.wait(60))
message = PublishMessage(json_message=JsonMessage(message={"label": "car", "confidence": 0.9}))
client.publish_to_topic(topic="detections/cam1", publish_message=message)
binary = PublishMessage(binary_message=BinaryMessage(message=b"\x00\x01frame"))
client.publish_to_topic(topic="detections/cam2", publish_message=binary)
for step, topic in (("denied", "secrets/db"), ("wildcard", "detections/+")):
    error = error_of(lambda topic=topic: client.publish_to_topic(topic=topic, publish_message=message))
    report(step, error=error)
time.sleep(1)
report("own", received=sorted(own))
while True:
    time.sleep(1)
