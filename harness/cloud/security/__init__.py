"""The AWS endpoint's security, as AWS enforces it, for an endpoint started in enforcing mode.

By default the endpoint accepts any credentials, as moto does. ``AwsEndpoint(enforce=True)``
(scenario ``services.aws.enforce: true``, pytest ``--eh-aws-enforce``) loads
:func:`harness.cloud.security.guard.register`, which puts a guard in front of every service:

- :mod:`.sigv4` — SigV4 signatures (header and presigned forms) recomputed with botocore's own
  signer against the keys the endpoint knows (:mod:`.identity`), with AWS's 15-minute clock skew;
- :mod:`.policy` — bucket policies checked at PutBucketPolicy (``MalformedPolicy``) and, with the
  caller's IAM identity policies, evaluated for every S3 call (:mod:`.s3_actions` names the
  action and resource of a request);
- the thing a device's credentials belong to, which the IoT Jobs data plane and fleet status
  check (:mod:`harness.cloud.jobs`, :mod:`harness.cloud.fleet_status`).

See docs/cloud.md, "Enforcing mode".
"""
