"""The simulated core device's nucleus: the parts of the Greengrass nucleus a deployment goes
through, rebuilt in Python so that CI can apply recipes the way a real Jetson does.

The package follows the nucleus's own split (aws-greengrass-nucleus ``componentmanager/``,
``deployment/``, ``config/``): :mod:`.paths` (the on-disk layout), :mod:`.artifacts` (download,
digest check, permissions, unarchive), :mod:`.configuration` (the configuration update of a
deployment), :mod:`.interpolation` (recipe variables) and :mod:`.platform` (device platform and
manifest choice). docs/device.md describes them and lists where the simulator differs.

:class:`DeploymentError` lives here because every step raises it: a failed deployment is reported
to the cloud with the nucleus's error codes, so the codes must survive from the step that failed
to the job status.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.errors import HarnessError

__all__ = ["DeploymentError"]


class DeploymentError(HarnessError):
    """A deployment step failed; ``code`` is the nucleus's ``DeploymentErrorCode`` name.

    ``error_stack`` is the whole list of codes the nucleus attaches (outermost first, e.g.
    ``("ARTIFACT_DOWNLOAD_ERROR", "ARTIFACT_CHECKSUM_MISMATCH")`` — ``PackageDownloadException``
    always adds ``ARTIFACT_DOWNLOAD_ERROR`` before the specific code), which becomes the
    ``deployment-error-stack`` of the job status; ``code`` is the most specific one.
    ``error_types`` are the types the failure names itself, before those of its codes (a broken
    component's ``USER_COMPONENT_ERROR``, see :mod:`.errorcodes`).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        error_stack: Sequence[str] | None = None,
        error_types: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        stack = tuple(error_stack) if error_stack else ()
        self.error_stack: tuple[str, ...] = stack if stack and stack[-1] == code else (*stack, code)
        self.error_types: tuple[str, ...] = tuple(error_types)

    def __str__(self) -> str:
        return f"{self.code}: {super().__str__()}"
