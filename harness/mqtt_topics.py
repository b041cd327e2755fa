"""MQTT topic filters: which topics a filter matches, and whether one filter covers another.

Shared by the simulated device's IoT Core connection (which dispatches each incoming message to
its components' subscriptions) and the harness's client of the broker (OASIS MQTT 3.1.1,
4.7 "Topic Names and Topic Filters").
"""

from __future__ import annotations

__all__ = ["filter_covers", "topic_matches"]


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter``: ``+`` is one level, ``#`` the remaining levels
    and the parent (``a/#`` matches ``a``); a wildcard first level never matches a ``$`` topic."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels) or (level != "+" and level != levels[index]):
            return False
    return len(wanted) == len(levels)


def filter_covers(broad: str, narrow: str) -> bool:
    """Whether every topic ``narrow`` matches is also matched by ``broad``."""
    if broad == narrow:
        return True
    b_levels, n_levels = broad.split("/"), narrow.split("/")
    for index, level in enumerate(b_levels):
        if level == "#":
            return True
        if index >= len(n_levels) or n_levels[index] == "#":
            return False
        if level != "+" and (n_levels[index] == "+" or level != n_levels[index]):
            return False
    return len(b_levels) == len(n_levels)
