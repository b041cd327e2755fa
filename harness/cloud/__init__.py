"""Cloud services moto lacks, emulated on the harness's one AWS endpoint.

- :mod:`harness.cloud.greengrass` — the AWS IoT Greengrass V2 control plane (``greengrassv2``);
- :mod:`harness.cloud.jobs` — the AWS IoT Jobs device data plane (``iot-jobs-data``);
- :mod:`harness.cloud.fleet_status` — the Greengrass fleet status topic of iot-data ``Publish``.

Requests are parsed, validated and answered from botocore's own service models
(:mod:`harness.cloud.protocol`), so plain boto3 code written for real AWS works unchanged. State
lives in memory (:mod:`harness.cloud.store`) next to moto's, in the same process: things, thing
groups and S3 objects are read from moto's backends (:mod:`harness.cloud.moto_bridge`).

Entry points: :func:`harness.cloud.extension.register` (the endpoint server loads it by default)
and :func:`harness.cloud.inprocess.mock_cloud` (moto's ``mock_aws`` plus these services, no HTTP).
See docs/cloud.md.
"""
