"""Classifier outputs → attributes: DeepStream's built-in softmax classifier parser.

A secondary classifier (nvinfer ``network-type=1``) turns each object's output tensors into
*attributes*, one per output layer: ClassifyPostprocessor::parseAttributesFromSoftmaxLayers
(nvdsinfer_context_impl_output_parsing.cpp in github NVIDIA/DeepStream) takes, per layer, the
class with the highest probability *strictly above* ``classifier-threshold`` (none when no class
is), and its label from line ``layer`` of the labels file (``;``-separated, one label per class).
The element then attaches them as NvDsClassifierMeta + NvDsLabelInfo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: what the parser reads, for error messages
ATTRIBUTE_LAYOUT = "one or more outputs of [C] (or [C, 1, 1]) class probabilities, e.g. a softmax"


@dataclass(frozen=True)
class Attribute:
    """NvDsInferAttribute: the winning class of one output layer."""

    attribute_index: int  # the output layer
    value: int  # the class within it
    confidence: float
    label: str | None  # None when the labels file has no label for it


def parse_attributes(
    outputs: Mapping[str, np.ndarray], threshold: float, labels: Sequence[Sequence[str]]
) -> list[Attribute]:
    """One object's outputs (model order) → one attribute per layer that has a class above ``threshold``."""
    attributes = []
    for layer, values in enumerate(outputs.values()):
        probabilities = np.asarray(values, np.float32).reshape(-1)
        best, best_p = -1, np.float32(0)
        for index, p in enumerate(probabilities.tolist()):
            if p > threshold and p > best_p:  # as the C loop: the first of equal maxima wins
                best, best_p = index, p
        if best < 0:
            continue
        label = labels[layer][best] if layer < len(labels) and best < len(labels[layer]) else None
        attributes.append(Attribute(layer, best, float(best_p), label))
    return attributes


def attribute_label(attributes: Sequence[Attribute]) -> str:
    """The classification's label string: every attribute label followed by a space.

    DeepStream attaches nothing for an object whose string is empty (no labels file, or no class
    above the threshold), and appends the string to the object's display text.
    """
    return "".join(f"{a.label} " for a in attributes if a.label)


def attribute_layout_problem(outputs: Mapping[str, Sequence[int]]) -> str | None:
    """Why outputs with these dims (per object, no batch) cannot feed the parser; None if they can."""
    if not outputs:
        return "the model has no outputs"
    for name, dims in outputs.items():
        dims = [int(d) for d in dims]
        if not dims or any(d == 0 for d in dims) or (len(dims) > 1 and any(d != 1 for d in dims[1:])):
            return f"output {name!r} has dims {dims}; the parser reads one probability per class"
    return None
