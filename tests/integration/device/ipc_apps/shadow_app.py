"""Reads and writes shadows through the nucleus (its own thing's, and another thing's it may not
touch) and reports each answer."""

import json
import os
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2


def report(step, **fields):
    # one write per line: SDK callbacks print from threads of their own
    sys.stdout.write("IPC " + json.dumps({"step": step, **fields}, sort_keys=True) + "\n")
    sys.stdout.flush()


def answer_of(call):
    try:
        answer = call()
    except Exception as err:
        return {"error": {"type": type(err).__name__, "message": getattr(err, "message", None) or str(err)}}
    payload = getattr(answer, "payload", None)
    if payload is not None:
        return {"document": json.loads(payload) if payload else None}
    return {"results": answer.results, "next": answer.next_token}


other = sys.argv[1]
thing = os.environ["AWS_IOT_THING_NAME"]
client = GreengrassCoreIPCClientV2()
reported = json.dumps({"state": {"reported": {"fps": 30, "model": "v1"}}})
report("missing", **answer_of(lambda: client.get_thing_shadow(thing_name=thing, shadow_name="camera")))
report(
    "update",
    **answer_of(lambda: client.update_thing_shadow(thing_name=thing, shadow_name="camera", payload=reported)),
)
report("get", **answer_of(lambda: client.get_thing_shadow(thing_name=thing, shadow_name="camera")))
stale = json.dumps({"state": {"reported": {"fps": 1}}, "version": 7})
report(
    "stale",
    **answer_of(lambda: client.update_thing_shadow(thing_name=thing, shadow_name="camera", payload=stale)),
)
classic = json.dumps({"state": {"reported": {"online": True}}})
report("classic", **answer_of(lambda: client.update_thing_shadow(thing_name=thing, payload=classic)))
report("list", **answer_of(lambda: client.list_named_shadows_for_thing(thing_name=thing)))
report("page", **answer_of(lambda: client.list_named_shadows_for_thing(thing_name=thing, page_size=1)))
report("denied", **answer_of(lambda: client.get_thing_shadow(thing_name=other, shadow_name="camera")))
report("bad-name", **answer_of(lambda: client.get_thing_shadow(thing_name=thing, shadow_name="no spaces")))
report("delete", **answer_of(lambda: client.delete_thing_shadow(thing_name=thing)))
report("deleted", **answer_of(lambda: client.get_thing_shadow(thing_name=thing)))
report("ready")
while True:
    time.sleep(1)
