"""The simulated Greengrass core device.

One instance plays one Jetson: a nucleus emulation (deployments from the IoT Jobs data plane,
recipe resolution, artifact download and digest checks, unarchive, configuration merge,
lifecycle, component states, rollback, fleet status) and the DeepStream pipeline emulation that
its components run. It talks to the cloud only through the AWS APIs a real core device calls.
"""
