"""DeepStream's softmax classifier parser: one attribute per output layer above the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from fake_device.deepstream.attribute_parser import (
    Attribute,
    attribute_label,
    attribute_layout_problem,
    parse_attributes,
)

pytestmark = pytest.mark.unit

LABELS = (("red", "green", "blue"), ("small", "large"))


def test_each_layer_gives_its_best_class_above_the_threshold() -> None:
    outputs = {
        "colour": np.array([0.2, 0.7, 0.1], np.float32),
        "size": np.array([[[0.45]], [[0.55]]], np.float32),  # [C, 1, 1] reads as C classes
    }
    got = parse_attributes(outputs, 0.5, LABELS)
    assert got == [
        Attribute(0, 1, pytest.approx(0.7), "green"),
        Attribute(1, 1, pytest.approx(0.55), "large"),
    ]
    assert attribute_label(got) == "green large "


def test_strictly_above_the_threshold_and_first_of_equal_maxima() -> None:
    assert parse_attributes({"p": np.array([0.5, 0.5], np.float32)}, 0.5, LABELS) == []
    [attr] = parse_attributes({"p": np.array([0.3, 0.6, 0.6], np.float32)}, 0.5, LABELS)
    assert attr.value == 1


def test_no_label_without_a_labels_line() -> None:
    outputs = {"a": np.array([0.9, 0.1], np.float32), "b": np.array([0.1, 0.9], np.float32), "c": np.ones(4)}
    got = parse_attributes(outputs, 0.5, LABELS)
    assert [(a.attribute_index, a.value, a.label) for a in got] == [
        (0, 0, "red"),
        (1, 1, "large"),
        (2, 0, None),
    ]
    assert attribute_label(parse_attributes({"c": np.ones(2)}, 0.5, ())) == ""  # nothing to attach


def test_layout() -> None:
    assert attribute_layout_problem({"p": (3,), "q": (2, 1, 1)}) is None
    assert "one probability per class" in str(attribute_layout_problem({"p": (3, 7, 7)}))
    assert attribute_layout_problem({}) == "the model has no outputs"
