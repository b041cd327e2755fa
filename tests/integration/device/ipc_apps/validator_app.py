"""Validates the configuration deployments propose: rejects any with "reject": true."""

import json
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import ConfigurationValidityReport


def report(step, **fields):
    # one write per line: SDK callbacks print from threads of their own
    sys.stdout.write("IPC " + json.dumps({"step": step, **fields}, sort_keys=True) + "\n")
    sys.stdout.flush()


client = GreengrassCoreIPCClientV2()


def on_event(event):
    proposal = event.validate_configuration_update_event
    rejected = bool(proposal.configuration.get("reject"))
    report("validate", deployment=proposal.deployment_id, configuration=proposal.configuration)
    status = "REJECTED" if rejected else "ACCEPTED"
    message = "reject is set" if rejected else "fine"
    answer = ConfigurationValidityReport(status=status, deployment_id=proposal.deployment_id, message=message)
    client.send_configuration_validity_report(configuration_validity_report=answer)


client.subscribe_to_validate_configuration_updates(on_stream_event=on_event)
try:
    late = ConfigurationValidityReport(status="ACCEPTED", deployment_id="no-such-deployment")
    client.send_configuration_validity_report(configuration_validity_report=late)
except Exception as err:
    report("unrequested-report", type=type(err).__name__, message=err.message)
report("ready")
while True:
    time.sleep(1)
