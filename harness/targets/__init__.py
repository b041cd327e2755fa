"""Where a scenario runs: the simulator, real AWS, or lab Jetsons — one :class:`Target` protocol.

- :mod:`harness.targets.capabilities` — what a device or a target can do, as small protocols;
- :mod:`harness.targets.target` — the :class:`Target` protocol the runner talks to;
- :mod:`harness.targets.sim`, :mod:`harness.targets.aws`, :mod:`harness.targets.lab` — the
  three targets;
- :mod:`harness.targets.choice` — a target from the command line's options, and its
  capabilities before anything starts (for the scenario loader's refusals).

The package sits beside the scenario runner: the runner imports it, and it uses the services
and the simulated devices below it (see docs/hil.md for the capabilities of each target).
"""

from harness.targets.capabilities import Capability
from harness.targets.target import Target, TargetServices

__all__ = ["Capability", "Target", "TargetServices"]
