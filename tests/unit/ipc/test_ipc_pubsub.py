"""Local pub/sub topic filters as the nucleus's SubscriptionTrie matches them."""

from __future__ import annotations

import pytest

from fake_device.nucleus.ipc.pubsub import filter_matches, is_wildcard


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/b/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("a/#", "a/b/c", True),
        ("a/#", "a", False),  # unlike MQTT: '#' needs at least one level here
        ("#", "x", True),
        ("a/#/c", "a/x/c", True),  # a '#' inside the filter acts as one level
        ("a/b/", "a/b", True),  # Java's split drops trailing empty levels
        ("a//b", "a/x/b", False),
        ("+", "", True),
        ("a/b*", "a/bc", False),  # '*' is not a wildcard for subscriptions
    ],
)
def test_filter_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert filter_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("topic", "expected"),
    [("a/+/c", True), ("a/#", True), ("a/#/c", False), ("a+", False), ("a/b", False), ("#", True)],
)
def test_is_wildcard(topic: str, expected: bool) -> None:
    assert is_wildcard(topic) is expected
