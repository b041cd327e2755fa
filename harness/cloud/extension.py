"""Registers the emulated services on the AWS endpoint's dispatcher (``--extension`` entry point).

``python -m harness.services.aws_server --extension harness.cloud.extension:register`` (what
:class:`harness.services.aws.AwsEndpoint` runs by default) calls :func:`register` before serving:

============================  =============================================================
extension                     requests
============================  =============================================================
``greengrassv2``              signed ``greengrass``, path ``/greengrass/v2/...`` or
                              ``/tags/<Greengrass V2 ARN>`` (:mod:`.greengrass.urls`)
``iot-jobs-data``             signed ``iot-jobs-data`` (``/things/<thing>/jobs...``)
``greengrass-fleet-status``   signed ``iotdata``, ``POST /topics/...``: observed, then passed
                              on to moto, which answers
============================  =============================================================
"""

from __future__ import annotations

from typing import Any

from harness.cloud.fleet_status import FleetStatusTap, is_publish
from harness.cloud.greengrass.responses import make_app as greengrass_app
from harness.cloud.greengrass.urls import is_greengrass_v2
from harness.cloud.jobs import make_app as jobs_app
from harness.cloud.store import CloudStore, default_store
from harness.services.aws_server import signed_for

#: the ``module:function`` spec the endpoint server loads
SPEC = "harness.cloud.extension:register"


def register(dispatcher: Any, store: CloudStore = default_store) -> None:
    """Add the Greengrass V2 control plane, the IoT Jobs data plane and the fleet status tap."""
    dispatcher.register_extension("greengrassv2", is_greengrass_v2, greengrass_app(store))
    dispatcher.register_extension("iot-jobs-data", signed_for("iot-jobs-data"), jobs_app(store))
    dispatcher.register_extension(
        "greengrass-fleet-status", is_publish, FleetStatusTap(dispatcher.fallback, store)
    )
