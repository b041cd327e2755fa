"""A component that probes the IPC connection itself: a wrong token, an operation the model does
not have, one the device does not serve. One ``IPC {json}`` line per probe."""

import json
import sys

from awsiot import greengrasscoreipc
from awsiot.greengrasscoreipc import model
from awsiot.greengrasscoreipc.client import GetConfigurationOperation
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


report("wrong-token", error=error_of(lambda: greengrasscoreipc.connect(authtoken="NOT0A0VALID0TOKEN")))

client = GreengrassCoreIPCClientV2()


class NoSuchOperation(GetConfigurationOperation):
    @classmethod
    def _model_name(cls):
        return "aws.greengrass#NoSuchOperation"


def unknown_operation():
    operation = client.client._new_operation(NoSuchOperation)
    operation.activate(model.GetConfigurationRequest())
    return operation.get_response().result(10)


report("unknown-operation", error=error_of(unknown_operation))
report("not-served", error=error_of(lambda: client.get_secret_value(secret_id="db-password")))
report("no-cli", error=error_of(lambda: client.list_components()))
report("still-connected", value=client.get_configuration().value)
client.close()
report("done")
