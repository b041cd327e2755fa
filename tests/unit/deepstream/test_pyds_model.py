"""DeepStream's object model through the pyds API: what an app's probe can do and see.

The tests use the API the way NVIDIA's samples and the seed's app do (``pyds.X.cast(l.data)``,
``l = l.next``, acquire / add / remove, the C-pointer helpers) and check the semantics a Jetson
gives them, including the errors a misuse gets here instead of a crash.
"""

from __future__ import annotations

import gc
import re
import sys

import numpy as np
import pytest

from fake_device.deepstream import cmemory
from fake_device.deepstream import pyds_api as pyds
from fake_device.deepstream.meta import (
    UNTRACKED_OBJECT_ID,
    BatchMeta,
    FrameAnalytics,
    FrameMeta,
    MetaError,
    ObjectAnalytics,
    ObjectMeta,
    copy_batch_meta,
    set_user_meta_callbacks,
)

pytestmark = pytest.mark.unit

MAX_TIME_STAMP_LEN = 32


def _batch(*objects_per_frame: int) -> pyds.NvDsBatchMeta:
    """A batch made the way nvstreammux and a detector make it: one frame per entry, that many
    objects each (class_id = index, left = 10 * index)."""
    batch = pyds.nvds_create_batch_meta(max(1, len(objects_per_frame)))
    for source, count in enumerate(objects_per_frame):
        frame = pyds.nvds_acquire_frame_meta_from_pool(batch)
        frame.source_id = frame.pad_index = frame.batch_id = source
        frame.frame_num = 30
        pyds.nvds_add_frame_meta_to_batch(batch, frame)
        for index in range(count):
            obj = pyds.nvds_acquire_obj_meta_from_pool(batch)
            obj.class_id = index
            obj.rect_params.left = 10.0 * index
            pyds.nvds_add_obj_meta_to_frame(frame, obj, None)
    return batch


def _walk(glist: pyds.GList | None, kind: type) -> list:
    """The samples' loop: cast each node's data, step with .next, stop at None."""
    out = []
    node = glist
    while node is not None:
        try:
            out.append(kind.cast(node.data))
        except StopIteration:
            break
        try:
            node = node.next
        except StopIteration:
            break
    return out


# -- lists --------------------------------------------------------------------------------------
def test_walk_batch_frames_and_objects_as_the_samples_do() -> None:
    batch = _batch(3, 0, 2)
    frames = _walk(batch.frame_meta_list, pyds.NvDsFrameMeta)
    assert [f.source_id for f in frames] == [0, 1, 2]
    assert [o.class_id for o in _walk(frames[0].obj_meta_list, pyds.NvDsObjectMeta)] == [0, 1, 2]
    assert frames[1].obj_meta_list is None  # an empty list is NULL
    assert (frames[0].num_obj_meta, frames[1].num_obj_meta, batch.num_frames_in_batch) == (3, 0, 3)


def test_removing_the_current_object_after_taking_next_keeps_the_walk_going() -> None:
    """The seed's probe: l_obj = l_obj.next, then nvds_remove_obj_meta_from_frame(obj_meta)."""
    batch = _batch(5)
    frame = pyds.NvDsFrameMeta.cast(batch.frame_meta_list.data)
    seen = []
    l_obj = frame.obj_meta_list
    while l_obj:
        obj_meta = pyds.NvDsObjectMeta.cast(l_obj.data)
        seen.append(obj_meta.class_id)
        l_obj = l_obj.next
        if obj_meta.class_id % 2 == 0:
            pyds.nvds_remove_obj_meta_from_frame(frame, obj_meta)
    assert seen == [0, 1, 2, 3, 4]
    assert [o.class_id for o in _walk(frame.obj_meta_list, pyds.NvDsObjectMeta)] == [1, 3]
    assert frame.num_obj_meta == 2
    assert batch.obj_meta_pool.num_full_elements == 2  # the removed three went back to the pool


def test_next_of_a_removed_node_is_an_error_that_says_what_to_do() -> None:
    batch = _batch(2)
    frame = batch.frames[0]
    node = frame.obj_meta_list
    pyds.nvds_remove_obj_meta_from_frame(frame, pyds.NvDsObjectMeta.cast(node.data))
    with pytest.raises(cmemory.MemoryFault, match=r"removed from its list.*\n.*read l.next before"):
        _ = node.next


def test_the_elements_lists_are_the_ones_the_views_walk() -> None:
    frame = FrameMeta(0, 7, 0, 640, 360)
    frame.objects.append(ObjectMeta(1, 0.5, 1.0, 2.0, 3.0, 4.0))
    frame.objects = [*frame.objects, ObjectMeta(2, 0.5, 5.0, 6.0, 7.0, 8.0)]
    walked = _walk(frame.obj_meta_list, pyds.NvDsObjectMeta)
    assert walked == frame.objects and walked[1].left == 5.0
    batch = BatchMeta([frame], max_frames_in_batch=4)
    assert _walk(batch.frame_meta_list, pyds.NvDsFrameMeta) == [frame]
    assert frame.base_meta.batch_meta is batch and frame.base_meta.meta_type == pyds.NVDS_FRAME_META


def test_removing_a_meta_twice_or_from_the_wrong_frame_is_an_error() -> None:
    batch = _batch(1, 0)
    first, second = batch.frames
    obj = first.objects[0]
    with pytest.raises(MetaError, match="not in the frame's obj_meta_list"):
        pyds.nvds_remove_obj_meta_from_frame(second, obj)
    pyds.nvds_remove_obj_meta_from_frame(first, obj)
    with pytest.raises(MetaError, match="removed already"):
        pyds.nvds_remove_obj_meta_from_frame(first, obj)


def test_lists_are_changed_with_the_api_not_assigned() -> None:
    frame = FrameMeta()
    with pytest.raises(AttributeError, match="nvds_add_\\*/nvds_remove_\\*"):
        frame.obj_meta_list = None
    with pytest.raises(MetaError, match="kept equal to the length of its list"):
        frame.num_obj_meta = 3
    frame.num_obj_meta = 0  # the true count is accepted


# -- cast ---------------------------------------------------------------------------------------
def test_cast_of_a_pointer_to_another_type_is_a_type_error() -> None:
    batch = _batch(1)
    with pytest.raises(TypeError, match=r"NvDsObjectMeta\.cast\(\): the pointer is to NvDsFrameMeta"):
        pyds.NvDsObjectMeta.cast(batch.frame_meta_list.data)
    assert pyds.NvDsFrameMeta.cast(None) is None
    frame = batch.frames[0]
    assert pyds.NvDsFrameMeta.cast(frame) is frame  # a pyds object is a void * too


def test_void_pointers_are_opaque_and_refuse_int_addresses() -> None:
    user_meta = pyds.NvDsUserMeta()
    info = pyds.NvDsAnalyticsObjInfo()
    user_meta.user_meta_data = info
    data = user_meta.user_meta_data
    assert not hasattr(data, "roiStatus")  # a capsule: cast it first
    assert pyds.NvDsAnalyticsObjInfo.cast(data) is info
    with pytest.raises(TypeError, match="void \\*: it takes a pyds object or None, not an int"):
        user_meta.user_meta_data = pyds.alloc_buffer(8)


# -- members ------------------------------------------------------------------------------------
def test_members_have_c_types_and_zero_defaults() -> None:
    obj = pyds.NvDsObjectMeta()
    assert (obj.class_id, obj.confidence, obj.rect_params.width, obj.obj_label) == (0, 0.0, 0.0, "")
    with pytest.raises(TypeError, match=r"class_id is a gint: it takes an int, not float 1\.5"):
        obj.class_id = 1.5
    with pytest.raises(TypeError, match="out of its range"):
        pyds.NvDsFrameMeta().source_id = -1
    obj.class_id = np.int64(3)
    assert obj.class_id == 3 and type(obj.class_id) is int
    with pytest.raises(AttributeError, match=r"'pyds\.NvDsObjectMeta' object has no member 'clas_id'"):
        obj.clas_id = 3


def test_embedded_structs_are_members_and_assignment_copies() -> None:
    obj = pyds.NvDsObjectMeta()
    rect = obj.rect_params
    rect.left = 5.0
    other = pyds.NvOSD_RectParams()
    other.left, other.width = 1.0, 9.0
    obj.rect_params = other
    assert (rect.left, rect.width) == (1.0, 9.0)  # copied into the member, which rect refers to
    other.left = 2.0
    assert obj.rect_params.left == 1.0
    obj.rect_params.border_color.set(1.0, 0.0, 0.0, 1.0)
    assert (obj.rect_params.border_color.red, obj.rect_params.border_color.alpha) == (1.0, 1.0)


def test_obj_label_is_a_char_array_overwritten_without_a_terminator() -> None:
    """pyds copies the new string's bytes over the old ones and adds no NUL."""
    obj = pyds.NvDsObjectMeta()
    obj.obj_label = "truck"
    obj.obj_label = "car"
    assert obj.obj_label == "carck"
    with pytest.raises(cmemory.MemoryFault, match="do not fit the gchar\\[128\\] array"):
        obj.obj_label = "x" * 129


def test_char_pointer_members_read_as_addresses() -> None:
    text = pyds.NvOSD_TextParams()
    assert text.display_text == 0
    text.display_text = "Frame Number=1"
    first = text.display_text
    assert pyds.get_string(first) == "Frame Number=1"
    text.display_text = "Frame Number=2"  # pyds frees the previous string
    assert pyds.get_string(text.display_text) == "Frame Number=2"
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.get_string(first)
    text.font_params.font_name = "Serif"
    assert pyds.get_string(text.font_params.font_name) == "Serif"


def test_members_pyds_has_but_the_emulation_does_not_say_so() -> None:
    with pytest.raises(AttributeError, match=r"pyds\.NvDsBatchMeta\.meta_mutex is part of NVIDIA's pyds"):
        _ = pyds.NvDsBatchMeta().meta_mutex
    with pytest.raises(AttributeError, match=r"docs/deepstream/supported\.md"):
        _ = pyds.NvDsMetaPool().full_list
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        _ = pyds.NvDsFrameMeta().no_such_thing


def test_module_attributes_pyds_has_but_the_emulation_does_not_say_so() -> None:
    with pytest.raises(
        AttributeError, match=r"pyds\.get_optical_flow_vectors is part of NVIDIA's pyds but not emulated"
    ):
        _ = pyds.get_optical_flow_vectors
    with pytest.raises(AttributeError, match="module 'pyds' has no attribute 'no_such_function'"):
        _ = pyds.no_such_function


def test_enums_compare_with_ints_print_as_pybind11_and_are_exported() -> None:
    assert pyds.NVDS_EVENT_MSG_META is pyds.NvDsMetaType.NVDS_EVENT_MSG_META == 9
    assert str(pyds.NvDsMetaType.NVDS_FRAME_META) == "NvDsMetaType.NVDS_FRAME_META"
    assert pyds.NVDS_OBJECT_TYPE_PERSON == pyds.NvDsObjectType.NVDS_OBJECT_TYPE_PERSON == 1
    assert int(pyds.NVBUF_MEM_CUDA_UNIFIED) == 3


# -- pools, display meta ------------------------------------------------------------------------
def test_pools_count_what_is_acquired_and_released() -> None:
    batch = pyds.nvds_create_batch_meta(2)
    assert batch.max_frames_in_batch == 2 and batch.frame_meta_pool.max_elements_in_pool == 2
    frame = pyds.nvds_acquire_frame_meta_from_pool(batch)
    pyds.nvds_add_frame_meta_to_batch(batch, frame)
    display = pyds.nvds_acquire_display_meta_from_pool(batch)
    pyds.nvds_add_display_meta_to_frame(frame, display)
    assert batch.display_meta_pool.num_full_elements == 1
    pyds.nvds_remove_display_meta_from_frame(frame, display)
    assert (batch.display_meta_pool.num_full_elements, batch.display_meta_pool.num_empty_elements) == (0, 2)
    acquired = pyds.nvds_acquire_obj_meta_from_pool(batch)
    assert acquired.object_id == 0 and acquired.base_meta.batch_meta is batch  # zeroed, as in DeepStream
    assert ObjectMeta().object_id == UNTRACKED_OBJECT_ID  # the elements' constructor: untracked


def test_display_meta_holds_sixteen_of_each_kind() -> None:
    display = pyds.nvds_acquire_display_meta_from_pool(pyds.nvds_create_batch_meta(1))
    display.num_labels = 16
    texts = display.text_params
    assert len(texts) == 16 and texts[15] is display.text_params[15]
    with pytest.raises(IndexError):
        _ = display.rect_params[16]
    with pytest.raises(MetaError, match=r"num_rects = 17: a display meta holds at most 16 rects"):
        display.num_rects = 17
    texts[0].display_text = "hello"
    display.num_labels = 1
    assert [pyds.get_string(t.display_text) for t in display.used("text_params")] == ["hello"]


# -- user metas, callbacks ------------------------------------------------------------------------
def _event(batch: pyds.NvDsBatchMeta, frame: pyds.NvDsFrameMeta, user_meta_api: bool) -> pyds.NvDsUserMeta:
    """deepstream-test4's event (``user_meta_api``) or the seed's (no argument, own callbacks)."""
    user_meta = pyds.nvds_acquire_user_meta_from_pool(batch)
    msg_meta = (
        pyds.alloc_nvds_event_msg_meta(user_meta) if user_meta_api else pyds.alloc_nvds_event_msg_meta()
    )
    msg_meta.bbox.left = 12.0
    msg_meta.sensorStr = "sensor-0"
    msg_meta.ts = pyds.alloc_buffer(MAX_TIME_STAMP_LEN + 1)
    pyds.generate_ts_rfc3339(msg_meta.ts, MAX_TIME_STAMP_LEN)
    msg_meta.objType = pyds.NvDsObjectType.NVDS_OBJECT_TYPE_VEHICLE
    vehicle = pyds.NvDsVehicleObject.cast(pyds.alloc_nvds_vehicle_object())
    vehicle.type = "sedan"
    msg_meta.extMsg = vehicle
    msg_meta.extMsgSize = sys.getsizeof(pyds.NvDsVehicleObject)
    user_meta.user_meta_data = msg_meta
    user_meta.base_meta.meta_type = pyds.NvDsMetaType.NVDS_EVENT_MSG_META
    pyds.nvds_add_user_meta_to_frame(frame, user_meta)
    return user_meta


def test_event_meta_copy_and_release_with_pyds_callbacks() -> None:
    batch = _batch(1)
    frame = batch.frames[0]
    original = pyds.NvDsEventMsgMeta.cast(_event(batch, frame, user_meta_api=True).user_meta_data)
    ts = pyds.get_string(original.ts)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ts)

    copy = copy_batch_meta(batch)
    copied_meta = pyds.NvDsUserMeta.cast(copy.frames[0].frame_user_meta_list.data)
    copied = pyds.NvDsEventMsgMeta.cast(copied_meta.user_meta_data)
    assert copied is not original and copied.bbox.left == 12.0
    assert copied.ts != original.ts and pyds.get_string(copied.ts) == ts  # the strings are duplicated
    assert pyds.get_string(copied.sensorStr) == "sensor-0"
    assert pyds.get_string(pyds.NvDsVehicleObject.cast(copied.extMsg).type) == "sedan"

    sensor = original.sensorStr
    pyds.nvds_destroy_batch_meta(batch)  # the buffer is gone: its user metas are released
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.get_string(sensor)
    assert original.extMsgSize == 0 and pyds.get_string(copied.sensorStr) == "sensor-0"


def test_seed_style_callbacks_share_pyds_single_slot() -> None:
    """The seed sets its own copy/free functions with user_copyfunc/user_releasefunc; pyds keeps one
    function per kind for the process, and unset_callback_funcs empties it for good."""
    calls: list[str] = []

    def copy_func(data: object, user_data: object) -> pyds.NvDsEventMsgMeta:
        src = pyds.NvDsEventMsgMeta.cast(pyds.NvDsUserMeta.cast(data).user_meta_data)
        dst = pyds.NvDsEventMsgMeta.cast(pyds.memdup(pyds.get_ptr(src), sys.getsizeof(pyds.NvDsEventMsgMeta)))
        dst.ts = pyds.memdup(src.ts, MAX_TIME_STAMP_LEN + 1)
        dst.sensorStr = pyds.get_string(src.sensorStr)
        calls.append("copy")
        return dst

    def free_func(data: object, user_data: object) -> None:
        src = pyds.NvDsEventMsgMeta.cast(pyds.NvDsUserMeta.cast(data).user_meta_data)
        pyds.free_buffer(src.ts)
        pyds.free_buffer(src.sensorStr)
        calls.append("free")

    batch = _batch(1)
    frame = batch.frames[0]
    user_meta = _event(batch, frame, user_meta_api=False)
    pyds.user_copyfunc(user_meta, copy_func)
    pyds.user_releasefunc(user_meta, free_func)
    src = pyds.NvDsEventMsgMeta.cast(user_meta.user_meta_data)

    copy = copy_batch_meta(batch)
    dst = pyds.NvDsEventMsgMeta.cast(
        pyds.NvDsUserMeta.cast(copy.frames[0].frame_user_meta_list.data).user_meta_data
    )
    assert calls == ["copy"] and dst is not src and dst.bbox.left == 12.0
    assert pyds.get_string(dst.ts) == pyds.get_string(src.ts) and dst.ts != src.ts
    assert pyds.NvDsVehicleObject.cast(dst.extMsg) is pyds.NvDsVehicleObject.cast(
        src.extMsg
    )  # memdup: shallow

    pyds.nvds_remove_user_meta_from_frame(frame, user_meta)
    assert calls == ["copy", "free"]
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.get_string(src.ts)
    pyds.unset_callback_funcs()
    try:
        pyds.nvds_destroy_batch_meta(copy)  # the copy's user meta calls the emptied slot: nothing
        assert calls == ["copy", "free"]
    finally:
        pyds._SLOT.__init__()  # the slot is process-wide: give the next test a fresh one


def test_user_meta_types_follow_the_descriptor() -> None:
    first = pyds.nvds_get_user_meta_type("NVIDIA.DSANALYTICSOBJ.USER_META")
    assert first == pyds.nvds_get_user_meta_type("NVIDIA.DSANALYTICSOBJ.USER_META")
    assert first > pyds.NvDsMetaType.NVDS_START_USER_META
    assert first != pyds.nvds_get_user_meta_type("NVIDIA.DSANALYTICSFRAME.USER_META")
    assert str(first) == "NvDsMetaType.???"


def test_analytics_metas_are_user_metas_of_their_types() -> None:
    """What nvdsanalytics attaches, read back as deepstream-nvdsanalytics and the seed read it."""
    obj = ObjectMeta(0, 0.9, 1.0, 2.0, 3.0, 4.0)
    obj.analytics = ObjectAnalytics(roi_status=["TL1"], lc_status=["Exit"], dir_status="DIR:North")
    frame = FrameMeta(0, 1, 0, 640, 360, objects=[obj])
    frame.analytics = FrameAnalytics(obj_in_roi_cnt={"TL1": 1}, obj_cnt={0: 1})

    [user_meta] = _walk(obj.obj_user_meta_list, pyds.NvDsUserMeta)
    assert user_meta.base_meta.meta_type == pyds.nvds_get_user_meta_type("NVIDIA.DSANALYTICSOBJ.USER_META")
    info = pyds.NvDsAnalyticsObjInfo.cast(user_meta.user_meta_data)
    assert ("TL1" in info.roiStatus, info.lcStatus, info.dirStatus) == (True, ["Exit"], "DIR:North")
    [frame_user_meta] = _walk(frame.frame_user_meta_list, pyds.NvDsUserMeta)
    assert frame_user_meta.base_meta.meta_type == pyds.nvds_get_user_meta_type(
        "NVIDIA.DSANALYTICSFRAME.USER_META"
    )
    counts = pyds.NvDsAnalyticsFrameMeta.cast(frame_user_meta.user_meta_data)
    assert (counts.objInROIcnt, counts.objCnt) == ({"TL1": 1}, {0: 1})
    obj.analytics = None
    assert obj.obj_user_meta_list is None and frame.user_meta == [counts]


def test_frame_user_meta_list_wraps_what_the_elements_attach() -> None:
    frame = FrameMeta()
    event = pyds.NvDsEventMsgMeta()
    frame.user_meta.append(event)
    frame.user_meta.append("anything")
    types = [pyds.NvDsUserMeta.cast(m).base_meta.meta_type for m in frame._frame_user_meta]
    assert types == [pyds.NVDS_EVENT_MSG_META, pyds.NVDS_USER_META]
    assert list(frame.user_meta) == [event, "anything"]
    del frame.user_meta[0]
    assert frame.user_meta == ["anything"]


# -- C pointers ---------------------------------------------------------------------------------
def test_c_pointer_helpers_copy_read_and_free() -> None:
    buffer = pyds.alloc_buffer(MAX_TIME_STAMP_LEN + 1)
    pyds.generate_ts_rfc3339(buffer, MAX_TIME_STAMP_LEN)
    copy = pyds.memdup(buffer, MAX_TIME_STAMP_LEN + 1)
    assert copy != buffer and pyds.get_string(copy) == pyds.get_string(buffer)
    assert pyds.strdup2str(pyds.strdup(copy)) == pyds.get_string(buffer)
    pyds.free_buffer(buffer)
    pyds.free_buffer(0)  # NULL: nothing
    assert pyds.get_string(0) is None
    with pytest.raises(cmemory.MemoryFault, match=r"was freed already \(use after free\)"):
        pyds.get_string(buffer)
    with pytest.raises(cmemory.MemoryFault, match="double free"):
        pyds.free_buffer(buffer)
    with pytest.raises(cmemory.MemoryFault, match="34 bytes asked from the 33-byte buffer"):
        pyds.memdup(copy, MAX_TIME_STAMP_LEN + 2)
    with pytest.raises(cmemory.MemoryFault, match="not an address pyds handed out"):
        pyds.get_string(0x1234)
    with pytest.raises(TypeError, match=r"hash\(gst_buffer\)"):
        pyds.gst_buffer_get_nvds_batch_meta(object())


def test_get_ptr_and_memdup_of_a_struct_make_a_shallow_copy() -> None:
    meta = pyds.NvDsEventMsgMeta()
    meta.frameId = 7
    meta.sensorStr = "cam"
    address = pyds.get_ptr(meta)
    assert address == pyds.get_ptr(meta) and pyds.NvDsEventMsgMeta.cast(address) is meta
    clone = pyds.NvDsEventMsgMeta.cast(pyds.memdup(address, sys.getsizeof(pyds.NvDsEventMsgMeta)))
    assert clone is not meta and clone.frameId == 7 and clone.sensorStr == meta.sensorStr  # same char *
    clone.bbox.top = 5.0
    assert meta.bbox.top == 0.0  # the embedded struct was copied
    with pytest.raises(TypeError, match="holds a 8-byte buffer, not a pyds object"):
        pyds.NvDsEventMsgMeta.cast(pyds.alloc_buffer(8))


def test_free_gbuffer_frees_what_a_pointer_points_to() -> None:
    meta = pyds.NvDsEventMsgMeta()
    meta.extMsg = pyds.alloc_nvds_person_object()
    pyds.free_gbuffer(meta.extMsg)
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.NvDsPersonObject.cast(meta.extMsg)
    with pytest.raises(TypeError, match="not an int address"):
        pyds.free_gbuffer(pyds.alloc_buffer(4))


# -- tracker past-frame meta ----------------------------------------------------------------------
def test_past_frame_meta_walks_as_deepstream_test2_does() -> None:
    data = pyds.NvDsTargetMiscDataBatch()
    stream = pyds.NvDsTargetMiscDataStream(streamID=0)
    target = pyds.NvDsTargetMiscDataObject(uniqueId=5, classId=2)
    target.objLabel = "car"
    for n in (10, 11):
        record = pyds.NvDsTargetMiscDataFrame(frameNum=n, confidence=0.5, age=n - 9)
        record.tBbox.left = float(n)
        target.append(record)
    stream.append(target)
    data.append(stream)
    batch = pyds.nvds_create_batch_meta(1)
    user_meta = pyds.nvds_acquire_user_meta_from_pool(batch)
    user_meta.user_meta_data = data
    user_meta.base_meta.meta_type = pyds.NvDsMetaType.NVDS_TRACKER_PAST_FRAME_META
    pyds.nvds_add_user_meta_to_batch(batch, user_meta)

    rows = []
    for l_user in _walk(batch.batch_user_meta_list, pyds.NvDsUserMeta):
        if l_user.base_meta.meta_type == pyds.NvDsMetaType.NVDS_TRACKER_PAST_FRAME_META:
            batch_data = pyds.NvDsTargetMiscDataBatch.cast(l_user.user_meta_data)
            for s in pyds.NvDsTargetMiscDataBatch.list(batch_data):
                for o in pyds.NvDsTargetMiscDataStream.list(s):
                    for f in pyds.NvDsTargetMiscDataObject.list(o):
                        rows.append(
                            (s.streamID, o.uniqueId, o.objLabel, o.numObj, f.frameNum, f.tBbox.left, f.age)
                        )
    assert rows == [(0, 5, "car", 2, 10, 10.0, 1), (0, 5, "car", 2, 11, 11.0, 2)]
    target.numObj = 3  # a count past the array: C would read garbage
    with pytest.raises(cmemory.MemoryFault, match="its count says 3 entries but it holds 2"):
        list(pyds.NvDsTargetMiscDataObject.list(target))


# -- copies and locks ------------------------------------------------------------------------------
def test_frame_list_copy_is_deep_and_keeps_parents() -> None:
    batch = _batch(2)
    frame = batch.frames[0]
    parent, child = frame.objects
    child.parent = parent
    child.analytics = ObjectAnalytics(roi_status=["A"])
    dst = pyds.nvds_create_batch_meta(1)
    pyds.nvds_copy_frame_meta_list(batch.frame_meta_list, dst)
    [copied] = dst.frames
    new_parent, new_child = copied.objects
    assert copied is not frame and new_child is not child and new_child.parent is new_parent
    assert new_child.analytics.roiStatus == ["A"] and new_child.base_meta.batch_meta is dst
    new_parent.rect_params.left = 99.0
    assert parent.rect_params.left == 0.0


def test_meta_lock_is_recursive() -> None:
    batch = pyds.nvds_create_batch_meta(1)
    pyds.nvds_acquire_meta_lock(batch)
    pyds.nvds_acquire_meta_lock(batch)
    pyds.nvds_release_meta_lock(batch)
    pyds.nvds_release_meta_lock(batch)


def test_a_freed_batch_releases_its_user_metas_once() -> None:
    """DeepStream calls the release callbacks when the buffer carrying the batch is freed; here when
    the batch itself goes. A user meta still owned by a live batch is left alone."""
    released: list[int] = []

    def track(data: object, user_data: object) -> None:
        released.append(pyds.NvDsUserMeta.cast(data).base_meta.meta_type)

    batch = _batch(1)
    frame = batch.frames[0]
    for owner, add in (
        (frame, pyds.nvds_add_user_meta_to_frame),
        (frame.objects[0], pyds.nvds_add_user_meta_to_obj),
    ):
        user_meta = pyds.nvds_acquire_user_meta_from_pool(batch)
        user_meta.base_meta.meta_type = pyds.NVDS_USER_META
        set_user_meta_callbacks(user_meta, None, track)
        add(owner, user_meta)
    survivor = pyds.nvds_create_batch_meta(1)
    kept = pyds.nvds_acquire_user_meta_from_pool(survivor)
    set_user_meta_callbacks(kept, None, track)
    pyds.nvds_add_user_meta_to_frame(frame, kept)  # shared: belongs to a batch that lives on

    del batch, frame, user_meta
    gc.collect()
    assert released == [pyds.NVDS_USER_META] * 2
    pyds.nvds_destroy_batch_meta(survivor)  # nothing of it is in a list: no more calls
    assert len(released) == 2


def test_person_event_is_copied_and_released_by_pyds_callbacks() -> None:
    batch = _batch(1)
    frame = batch.frames[0]
    user_meta = pyds.nvds_acquire_user_meta_from_pool(batch)
    meta = pyds.alloc_nvds_event_msg_meta(user_meta)
    meta.objType = pyds.NVDS_OBJECT_TYPE_PERSON
    person = pyds.NvDsPersonObject.cast(pyds.alloc_nvds_person_object())
    person.age, person.gender, person.apparel = 45, "male", "formal"
    meta.extMsg = person
    meta.extMsgSize = sys.getsizeof(pyds.NvDsPersonObject)
    user_meta.user_meta_data = meta
    user_meta.base_meta.meta_type = pyds.NVDS_EVENT_MSG_META
    pyds.nvds_add_user_meta_to_frame(frame, user_meta)

    copy = pyds.nvds_create_batch_meta(1)
    pyds.nvds_copy_frame_meta_list(batch.frame_meta_list, copy)
    copied = pyds.NvDsEventMsgMeta.cast(
        pyds.NvDsUserMeta.cast(copy.frames[0].frame_user_meta_list.data).user_meta_data
    )
    other = pyds.NvDsPersonObject.cast(copied.extMsg)
    assert other is not person and other.age == 45 and other.gender != person.gender
    assert (pyds.get_string(other.gender), pyds.get_string(other.apparel)) == ("male", "formal")

    gender = person.gender
    pyds.nvds_remove_user_meta_from_frame(frame, user_meta)
    assert meta.extMsgSize == 0
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.get_string(gender)
    with pytest.raises(cmemory.MemoryFault, match="freed already"):
        pyds.NvDsPersonObject.cast(meta.extMsg)
    assert pyds.get_string(other.gender) == "male"
