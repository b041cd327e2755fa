"""Which target a run or a lint is for, and what it can do — known before anything starts.

``--target``, ``--backend`` and ``--lab`` make a :class:`TargetChoice`; the scenario loader
checks the scenario's needs against its capabilities, so a scenario that cannot run on a target
is refused at once instead of after minutes of setting up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import HarnessError
from harness.targets.aws import AWS_CAPABILITIES
from harness.targets.capabilities import Capability
from harness.targets.sim import RUNTIMES, sim_capabilities

if TYPE_CHECKING:
    from harness.scenario import model as m
    from harness.targets.target import Target

__all__ = ["TARGETS", "TargetChoice", "TargetRequest", "choose_target", "make_target"]

TARGETS = ("sim", "aws", "lab")


@dataclass(frozen=True)
class TargetChoice:
    """A target by name, how it runs (``process``/``docker``, ``aws``, ``labgrid``) and what it can do."""

    name: str
    runtime: str
    capabilities: frozenset[Capability]
    lab: Path | None = None

    @property
    def label(self) -> str:
        """``--target sim (process)``: how messages name it."""
        shown = f" ({self.runtime})" if self.name == "sim" else ""
        return f"--target {self.name}{shown}"


@dataclass(frozen=True)
class TargetRequest:
    """What the command line asked for; the scenario fills in the rest (its ``services.backend``
    and ``services.kafka.external``) — see :meth:`choose`."""

    name: str = "sim"
    backend: str | None = None
    kafka_bootstrap: str | None = None
    lab: Path | None = None

    def choose(self, scenario: m.Scenario) -> TargetChoice:
        return choose_target(
            self.name,
            backend=self.backend or scenario.services.backend,
            external_kafka=bool(self.kafka_bootstrap or scenario.services.kafka_external),
            lab=self.lab,
        )


def choose_target(
    name: str,
    *,
    backend: str = "process",
    external_kafka: bool = False,
    lab: Path | None = None,
) -> TargetChoice:
    """The choice for these options; HarnessError for an unknown target or a lab without file."""
    if name == "sim":
        if backend not in RUNTIMES:
            raise HarnessError(f"unknown backend {backend!r}", hint=f"use one of: {', '.join(RUNTIMES)}")
        return TargetChoice("sim", backend, sim_capabilities(backend, external_kafka=external_kafka))
    if name == "aws":
        return TargetChoice("aws", "aws", AWS_CAPABILITIES)
    if name == "lab":
        if lab is None:
            raise HarnessError(
                "--target lab needs a lab description", hint="give --lab FILE (docs/hil.md: the lab file)"
            )
        from harness.targets.lab.description import load_lab

        description = load_lab(lab)
        return TargetChoice(
            "lab", "labgrid", description.capabilities(external_kafka=external_kafka), lab=lab
        )
    raise HarnessError(f"unknown target {name!r}", hint=f"use one of: {', '.join(TARGETS)}")


def make_target(
    name: str,
    scenario: m.Scenario,
    work: Path,
    *,
    backend: str = "process",
    kafka_bootstrap: str | None = None,
    lab: Path | None = None,
) -> Target:
    """The target a run uses for these options (see :func:`choose_target`)."""
    if name == "sim":
        from harness.targets.sim import SimTarget

        return SimTarget(scenario, work, runtime=backend, kafka_bootstrap=kafka_bootstrap)
    if name == "aws":
        from harness.targets.aws import AwsTarget

        return AwsTarget(scenario, kafka_bootstrap=kafka_bootstrap)
    if name == "lab":
        if lab is None:
            raise HarnessError(
                "--target lab needs a lab description", hint="give --lab FILE (docs/hil.md: the lab file)"
            )
        from harness.targets.lab.description import load_lab
        from harness.targets.lab.target import LabTarget

        target: Target = LabTarget(scenario, work, load_lab(lab), kafka_bootstrap=kafka_bootstrap)
        return target
    raise HarnessError(f"unknown target {name!r}", hint=f"use one of: {', '.join(TARGETS)}")
