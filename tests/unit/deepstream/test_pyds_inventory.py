"""Every pyds name the seed's app and NVIDIA's samples use is provided.

The inventory is read from the apps' source in the local mirror of their repositories when it is
there (and must then equal the committed list), else from the committed
``pyds_inventory.txt``; each entry is resolved against the emulated pyds: module paths by
attribute lookup, member paths through the members' declared types (a GList's ``data``/``next``,
an embedded struct's members, an array's elements).
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pyds_inventory import (
    INVENTORY_FILE,
    MIRROR,
    inventory,
    mirrored_sources,
    read_inventory_file,
)

from fake_device.deepstream import pyds_api
from fake_device.deepstream.cmemory import Pointer
from fake_device.deepstream.cstruct import Array, Embedded, Ref, VoidPointer

pytestmark = pytest.mark.unit


def _member(owner: type, name: str) -> Any:
    """The type reached through ``owner.name`` (None for a scalar), or AssertionError."""
    element = name.endswith("[]")
    name = name.removesuffix("[]")
    if owner is pyds_api.GList:
        assert name in ("data", "next", "prev"), f"GList has no {name}"
        return Pointer if name == "data" else pyds_api.GList
    if owner is Pointer:
        raise AssertionError(f"a void * has no member {name!r}: the app must cast it first")
    try:
        declared = inspect.getattr_static(owner, name)
    except AttributeError:
        getattr(owner, name)  # raises the emulation's own AttributeError (names not-emulated members)
        raise
    if isinstance(declared, Array):
        return declared.struct_type if element else None  # unindexed: the list itself
    assert not element, f"{owner.__name__}.{name} is not an array"
    if isinstance(declared, Embedded):
        return declared.struct_type
    if isinstance(declared, VoidPointer):
        return Pointer
    if isinstance(declared, Ref):
        return getattr(pyds_api, declared.type_name)
    if isinstance(declared, property) and name.endswith("_list"):
        return pyds_api.GList
    return None


def _resolve(entry: str) -> None:
    root, *members = entry.split(".")
    if root == "pyds":
        value: Any = pyds_api
        for name in members:
            value = getattr(value, name)
        return
    owner: Any = getattr(pyds_api, root)
    for index, name in enumerate(members):
        assert owner is not None, f"{entry}: {'.'.join([root, *members[:index]])} is a scalar"
        owner = _member(owner, name)


def _check_all(entries: set[str]) -> None:
    missing = []
    for entry in sorted(entries):
        try:
            _resolve(entry)
        except (AttributeError, AssertionError) as error:
            missing.append(f"{entry}: {error}")
    assert not missing, "pyds API used by the apps but not provided:\n" + "\n".join(missing)


def test_committed_inventory_is_provided() -> None:
    entries = read_inventory_file()
    assert len(entries) > 100, f"{INVENTORY_FILE} lost its entries"
    _check_all(entries)


def test_apps_in_the_mirror_use_only_what_is_provided_and_listed() -> None:
    sources = mirrored_sources()
    if sources is None:
        pytest.skip(f"the apps' repositories are not mirrored under {MIRROR}; the committed list was checked")
    found = inventory(sources)
    _check_all(found)
    assert found == read_inventory_file(), (
        "the apps' pyds usage changed: run python tests/unit/deepstream/pyds_inventory.py and commit "
        f"{INVENTORY_FILE.name}"
    )


def test_inventory_follows_values_through_casts_lists_and_calls() -> None:
    source = """
import pyds
def draw(meta):
    return meta.rect_params.left
def probe(info):
    batch = pyds.gst_buffer_get_nvds_batch_meta(hash(info))
    l_frame = batch.frame_meta_list
    frame = pyds.NvDsFrameMeta.cast(l_frame.data)
    obj = pyds.NvDsObjectMeta.cast(frame.obj_meta_list.data)
    draw(obj)
    text = pyds.nvds_acquire_display_meta_from_pool(batch).text_params[0]
    text.font_params.font_color.set(1.0, 1.0, 1.0, 1.0)
    for stream in pyds.NvDsTargetMiscDataBatch.list(None):
        stream.streamID
"""
    assert inventory({"app.py": source}) == {
        "pyds.gst_buffer_get_nvds_batch_meta",
        "pyds.NvDsFrameMeta.cast",
        "pyds.NvDsObjectMeta.cast",
        "pyds.nvds_acquire_display_meta_from_pool",
        "pyds.NvDsTargetMiscDataBatch.list",
        "NvDsBatchMeta.frame_meta_list",
        "NvDsBatchMeta.frame_meta_list.data",
        "NvDsFrameMeta.obj_meta_list.data",
        "NvDsDisplayMeta.text_params[]",
        "NvDsDisplayMeta.text_params[].font_params.font_color.set",
        "NvDsObjectMeta.rect_params.left",
        "NvDsTargetMiscDataStream.streamID",
    }


def test_an_entry_that_is_not_provided_fails_the_check() -> None:
    with pytest.raises(AssertionError, match=r"NvDsFrameMeta\.no_such_member"):
        _check_all({"NvDsFrameMeta.no_such_member"})
    with pytest.raises(AssertionError, match="must cast it first"):
        _check_all({"NvDsUserMeta.user_meta_data.roiStatus"})
    with pytest.raises(AssertionError, match="not emulated"):
        _check_all({"pyds.get_optical_flow_vectors"})
