"""``edge-harness lint``: validate inputs before a device sees them."""

from __future__ import annotations

import click


@click.group()
def lint() -> None:
    """Validate model repositories (and later recipes and configs) with clear messages."""
