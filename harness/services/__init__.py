"""Real services the harness runs: Triton, a Kafka broker and the AWS endpoint.

All implement :class:`harness.services.base.Service`. Import the concrete classes from their
modules (``harness.services.triton``, ``.kafka``, ``.aws``); this package keeps import cheap.
"""

from harness.services.base import ProcessService, Service, ServiceError, stop_all_services

__all__ = ["ProcessService", "Service", "ServiceError", "stop_all_services"]
