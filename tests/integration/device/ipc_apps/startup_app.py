"""A startup script that never exits: the component is RUNNING because it says so over IPC."""

import json
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

client = GreengrassCoreIPCClientV2()
client.update_state(state="RUNNING")
print("IPC " + json.dumps({"step": "reported"}), flush=True)
while True:
    time.sleep(1)
