"""UpdateConfiguration's merge rules and the change detection behind configuration events."""

from __future__ import annotations

from fake_device.nucleus.configuration import merge_at_key_path
from fake_device.nucleus.ipc.configuration import changed_paths

NOW = 5_000


def test_merge_into_an_existing_container_keeps_older_siblings() -> None:
    current = {"limits": {"fps": 10, "burst": 1}, "name": "cam"}
    stamps = {("limits", "fps"): 100, ("limits", "burst"): 100, ("name",): 100}
    resolved, stale = merge_at_key_path(current, stamps, ["limits"], {"fps": 15}, timestamp=200, now=NOW)
    assert resolved.values == {"limits": {"fps": 15, "burst": 1}, "name": "cam"}
    assert resolved.timestamps[("limits", "fps")] == 200
    assert resolved.timestamps[("limits", "burst")] == 100
    assert not stale


def test_older_timestamp_changes_nothing_newer_and_is_stale() -> None:
    current = {"limits": {"fps": 10}}
    resolved, stale = merge_at_key_path(
        current, {("limits", "fps"): 300}, ["limits"], {"fps": 1, "new": True}, timestamp=200, now=NOW
    )
    # a new key is still written (its leaf has no newer value); the newer fps stays
    assert resolved.values == {"limits": {"fps": 10, "new": True}}
    assert stale


def test_missing_key_path_is_created_at_now() -> None:
    resolved, stale = merge_at_key_path({}, {}, ["a", "b"], {"c": 1}, timestamp=1, now=NOW)
    assert resolved.values == {"a": {"b": {"c": 1}}}
    assert resolved.timestamps[("a", "b", "c")] == NOW
    assert not stale  # the proposed timestamp is ignored for a new node


def test_key_path_to_a_leaf_turns_it_into_the_container() -> None:
    current, stamps = {"mode": "fast"}, {("mode",): 100}
    resolved, _ = merge_at_key_path(current, stamps, ["mode"], {"x": 1}, timestamp=50, now=NOW)
    assert resolved.values == {"mode": {"x": 1}}


def test_keys_match_case_insensitively_and_keep_their_spelling() -> None:
    current = {"Limits": {"FPS": 10}}
    resolved, _ = merge_at_key_path(current, {}, ["limits"], {"fps": 12}, timestamp=9, now=NOW)
    assert resolved.values == {"Limits": {"FPS": 12}}


def test_changed_paths_are_leaves_added_removed_or_retyped() -> None:
    old = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": True}
    new = {"a": 1.0, "b": {"c": [1, 2], "f": None}, "e": True}
    assert changed_paths(old, new) == [("a",), ("b", "d"), ("b", "f")]
    assert changed_paths(old, old) == []
