"""Subscribes to detections, announces itself until the first one arrives, prints what it gets."""

import base64
import json
import sys
import threading
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage


def report(step, **fields):
    # one write per line: SDK callbacks print from threads of their own
    sys.stdout.write("IPC " + json.dumps({"step": step, **fields}, sort_keys=True) + "\n")
    sys.stdout.flush()


client = GreengrassCoreIPCClientV2()
first = threading.Event()


def receiver(subscription):
    def on_event(event):
        if event.json_message is not None:
            body = {"json": event.json_message.message, "topic": event.json_message.context.topic}
        else:
            data = event.binary_message.message
            body = {"binary": base64.b64encode(data).decode(), "topic": event.binary_message.context.topic}
        report("received", subscription=subscription, **body)
        first.set()

    return on_event


client.subscribe_to_topic(topic="detections/+", on_stream_event=receiver("wildcard"))
client.subscribe_to_topic(topic="detections/cam1", on_stream_event=receiver("exact"))
empty = PublishMessage(json_message=JsonMessage(message={}))
try:
    client.publish_to_topic(topic="detections/cam9", publish_message=empty)
except Exception as err:
    report("publish-denied", type=type(err).__name__, message=err.message)
report("subscribed")
while not first.wait(0.2):
    client.publish_to_topic(topic="subscribers/ready", publish_message=empty)
while True:
    time.sleep(1)
