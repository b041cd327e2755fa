"""``--target lab``: lab Jetsons reserved, reached and power-cycled through labgrid.

- :mod:`~harness.targets.lab.description` — the lab file;
- :mod:`~harness.targets.lab.labgrid` — places: acquire/release through the coordinator, the
  SSH and power drivers of a place;
- :mod:`~harness.targets.lab.device` — one Jetson over SSH: Greengrass logs, component states
  (greengrass-cli), restart/stop, reboot, network cut, tegrastats;
- :mod:`~harness.targets.lab.target` — the :class:`~harness.targets.target.Target`;
- :mod:`~harness.targets.lab.simulated` — a simulated lab Jetson on this host (network
  namespace, sshd, power switch) for tests without hardware.
"""
