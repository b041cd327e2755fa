"""Reports ERRORED on its first run (the nucleus restarts it), then runs."""

import json
import pathlib
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

marker = pathlib.Path("errored-once")
client = GreengrassCoreIPCClientV2()
if not marker.exists():
    marker.write_text("yes")
    client.update_state(state="ERRORED")
    print("IPC " + json.dumps({"step": "reported-errored"}), flush=True)
else:
    print("IPC " + json.dumps({"step": "second-run"}), flush=True)
while True:
    time.sleep(1)
