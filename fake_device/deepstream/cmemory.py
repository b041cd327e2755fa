"""The C heap that pyds's pointer helpers work on.

NVIDIA's ``pyds`` hands "C addresses" to Python as plain integers (``alloc_buffer``, ``memdup``,
``get_ptr``, the getters of ``char *`` fields such as ``NvDsEventMsgMeta.sensorStr``) and takes
them back (``get_string``, ``free_buffer``, ``NvDsEventMsgMeta.cast(address)``). Apps written for a
Jetson rely on the semantics: ``memdup`` copies, ``get_string`` reads up to the NUL, a freed block
is gone. This module gives those integers the same meaning: every address names a block (a zeroed
byte buffer, or a metadata object) that stays alive until it is freed, and a freed or unknown
address is an error with a message instead of a segfault or garbage.

``void *`` fields (``NvDsUserMeta.user_meta_data``, ``GList.data``) are read as a
:class:`Pointer`, the stand-in of the PyCapsule pybind11 returns: opaque, good only for ``cast``.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from harness.errors import HarnessError

DOCS = "docs/deepstream/pyds.md"

# Addresses look like a 64-bit process's heap and never repeat, so that a freed address is
# recognised for as long as the process lives.
_FIRST_ADDRESS = 0x7F3A_5000_0010
_ALIGN = 0x10


class MemoryFault(HarnessError, RuntimeError):
    """A pointer that names no live block: freed already, never allocated, or read past its end.

    On a device this is a crash or silent garbage; here it names the address and what happened.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or f"see 'C pointers' in {DOCS}")


class PointerTypeError(HarnessError, TypeError):
    """A pointer cast to, or used as, a type it does not hold (pyds raises TypeError for these)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or f"see 'C pointers' in {DOCS}")


class Pointer:
    """A ``void *`` read from a metadata field, as pyds returns it (a PyCapsule on a device).

    It has no attributes of the object it points to: pass it to ``SomeType.cast()``. Two pointers
    to the same object compare equal.
    """

    __slots__ = ("target",)

    def __init__(self, target: object) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"<capsule object NULL at 0x{id(self):x}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pointer) and other.target is self.target

    def __hash__(self) -> int:
        return id(self.target)


class HostPointer(Pointer):
    """A ``void *`` to real process memory: an output tensor's bytes (``NvDsInferLayerInfo.buffer``)
    or an array of such addresses (``NvDsInferTensorMeta.out_buf_ptrs_host``).

    Apps hand it to ``pyds.get_ptr`` and then to ctypes/numpy (``ctypes.cast(address,
    POINTER(c_float))``, ``np.ctypeslib.as_array``), which read the memory directly, so the address
    must be the real one, not a heap-emulation handle. ``target`` is the numpy array owning the
    bytes; the pointer keeps it alive, and so does the meta it was read from.
    """

    __slots__ = ()

    @property
    def address(self) -> int:
        return int(self.target.ctypes.data)

    @property
    def nbytes(self) -> int:
        return int(self.target.nbytes)


def pointer_to(value: object) -> Pointer | None:
    """The ``void *`` read back for ``value`` (None stays NULL)."""
    return None if value is None else Pointer(value)


class _Heap:
    """Blocks by address. Byte buffers and copied structs are owned here until freed (only their
    integer address may be left in Python); objects whose address was merely taken are tracked
    weakly, as their owner (a pool, the app) keeps them alive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = _FIRST_ADDRESS
        self._owned: dict[int, Any] = {}
        self._borrowed: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self._freed: set[int] = set()

    def _new_address(self, size: int) -> int:
        address = self._next
        self._next += max(_ALIGN, (size + _ALIGN - 1) // _ALIGN * _ALIGN)
        return address

    def own(self, block: Any, size: int) -> int:
        with self._lock:
            address = self._new_address(size)
            self._owned[address] = block
            if not isinstance(block, bytearray):
                block.__dict__["_c_address"] = address
            return address

    def address_of(self, obj: Any) -> int:
        address = obj.__dict__.get("_c_address")
        if address is not None:
            return address
        with self._lock:
            address = self._new_address(256)
            self._borrowed[address] = obj
            obj.__dict__["_c_address"] = address
            return address

    def block(self, address: int, what: str) -> Any:
        if not isinstance(address, int) or isinstance(address, bool):
            raise PointerTypeError(f"{what}: expected an address (int), got {type(address).__name__}")
        if address == 0:
            raise MemoryFault(f"{what}: NULL pointer")
        with self._lock:
            block = self._owned.get(address)
            if block is None:
                block = self._borrowed.get(address)
        if block is not None:
            return block
        if address in self._freed:
            raise MemoryFault(f"{what}: address 0x{address:x} was freed already (use after free)")
        raise MemoryFault(f"{what}: 0x{address:x} is not an address pyds handed out")

    def free(self, address: int, what: str) -> None:
        block = self.block(address, what) if address not in self._freed else None
        if block is None:
            raise MemoryFault(f"{what}: address 0x{address:x} was freed already (double free)")
        with self._lock:
            self._owned.pop(address, None)
            self._borrowed.pop(address, None)
            self._freed.add(address)
        if not isinstance(block, bytearray):
            mark_freed(block)

    def __len__(self) -> int:
        with self._lock:
            return len(self._owned)


HEAP = _Heap()


def mark_freed(obj: Any) -> None:
    """Mark a metadata object as freed: a later ``cast`` or address lookup of it fails."""
    obj.__dict__["_c_freed"] = True


def alloc(size: int) -> int:
    """``g_malloc0(size)``: a zeroed byte block."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise PointerTypeError(f"alloc_buffer(size): size must be a non-negative int, got {size!r}")
    return HEAP.own(bytearray(size), size)


def free(address: int, what: str = "free_buffer") -> None:
    """``g_free``: NULL is a no-op; freeing twice or an unknown address is a :class:`MemoryFault`."""
    if address == 0:
        return
    HEAP.free(address, what)


def new_string(text: str) -> int:
    """``calloc(len + 1)`` + copy: the block a ``char *`` setter of pyds allocates."""
    data = text.encode("utf-8")
    block = bytearray(data) + b"\0"
    return HEAP.own(block, len(block))


def string_at(address: int, what: str = "get_string") -> str | None:
    """The NUL-terminated string at ``address`` (None for NULL, as pyds returns for a NULL char *)."""
    if address == 0:
        return None
    block = HEAP.block(address, what)
    if not isinstance(block, bytearray):
        raise PointerTypeError(
            f"{what}: 0x{address:x} holds a {type(block).__name__}, not a character buffer"
        )
    end = block.find(0)
    if end < 0:
        raise MemoryFault(
            f"{what}: the {len(block)}-byte buffer at 0x{address:x} has no terminating NUL "
            "(reading on would run past its end)"
        )
    return block[:end].decode("utf-8", errors="replace")


def write_string(address: int, text: str, limit: int, what: str) -> None:
    """Write ``text`` + NUL into the buffer at ``address``, at most ``limit`` bytes in all."""
    block = HEAP.block(address, what)
    if not isinstance(block, bytearray):
        raise PointerTypeError(f"{what}: 0x{address:x} holds a {type(block).__name__}, not a buffer")
    data = text.encode("utf-8")[: max(0, limit - 1)] + b"\0"
    if len(data) > len(block):
        raise MemoryFault(
            f"{what}: {len(data)} bytes do not fit the {len(block)}-byte buffer at 0x{address:x}",
            hint="allocate the buffer with alloc_buffer(MAX_TIME_STAMP_LEN + 1) as NVIDIA's samples do",
        )
    block[: len(data)] = data


def memdup(address: int, size: int) -> int:
    """``g_memdup``: a copy of ``size`` bytes of a buffer, or a member-wise copy of a struct.

    A struct copy is shallow as in C: ``char *`` and ``void *`` members still point at the
    source's blocks (NVIDIA's copy callbacks duplicate them one by one afterwards). ``size`` is
    not checked for structs, since apps pass ``sys.getsizeof`` of the Python class.
    """
    if address == 0:
        return 0
    block = HEAP.block(address, "memdup")
    if isinstance(block, bytearray):
        if size > len(block):
            raise MemoryFault(
                f"memdup: {size} bytes asked from the {len(block)}-byte buffer at 0x{address:x}"
            )
        return HEAP.own(bytearray(block[:size]), size)
    copy = block._c_memcpy()
    return HEAP.own(copy, 256)


def strdup(address: int) -> int:
    """``g_strdup`` of the string at ``address`` (NULL stays NULL)."""
    text = string_at(address, "strdup")
    return 0 if text is None else new_string(text)


def address_of(obj: Any) -> int:
    """``get_ptr``: the address of a metadata object (stable for its lifetime)."""
    if obj is None:
        return 0
    if isinstance(obj, HostPointer):
        return obj.address
    if isinstance(obj, Pointer):
        obj = obj.target
    if not hasattr(obj, "_c_memcpy"):
        raise PointerTypeError(f"get_ptr: a {type(obj).__name__} is not a pyds object")
    if obj.__dict__.get("_c_freed"):
        raise MemoryFault(f"get_ptr: the {type(obj).__name__} was freed already (use after free)")
    return HEAP.address_of(obj)


def object_at(address: int, what: str) -> Any:
    """The struct at ``address``."""
    block = HEAP.block(address, what)
    if isinstance(block, bytearray):
        raise PointerTypeError(f"{what}: 0x{address:x} holds a {len(block)}-byte buffer, not a pyds object")
    return block


def owned_blocks() -> int:
    """How many blocks are allocated and not freed (for leak checks in tests)."""
    return len(HEAP)
