"""The AWS IoT Greengrass V2 control plane (boto3 ``greengrassv2``).

Split as moto splits a service: :mod:`.models` holds the state and the rules,
:mod:`.responses` maps each operation's input members to the backend and shapes its output,
:mod:`.urls` says which requests belong to this service on the shared endpoint.
"""
