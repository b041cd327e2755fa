"""C structs as pyds exposes them: typed members, embedded structs, ``char *`` and ``void *``.

DeepStream's metadata are C structs behind pybind11. What an app can observe through pyds is
reproduced here, so a probe that misuses a member fails as it would on a Jetson rather than
working by accident:

* integer members take ints only (a float is a TypeError, as pybind11 refuses it), unsigned
  ones no negatives, every one within its C width;
* ``gfloat`` members keep the double they are given (pyds rounds to 32 bits: there ``0.9``
  reads back as ``0.8999999761581421``; the elements round where DeepStream's output shows it);
* embedded structs are members: ``obj.rect_params.left = 1`` changes the object, and assigning
  ``obj.rect_params = other`` copies ``other``'s members in;
* ``char[N]`` members (``obj_label``) are overwritten without a terminating NUL, as pyds's
  setter does; ``char *`` members read as an address (use ``pyds.get_string``) and allocate a
  new block on assignment;
* ``void *`` members read as an opaque :class:`~.cmemory.Pointer` to pass to ``cast``;
* assigning an attribute the struct does not have is an AttributeError, and members pyds has
  but the emulation does not fill raise an AttributeError that says so.

Reads are plain instance-dictionary lookups (the descriptors define ``__set__`` only), so the
elements' hot loops pay nothing for the checks.
"""

from __future__ import annotations

import enum
import operator
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from fake_device.deepstream import cmemory
from fake_device.deepstream.cmemory import MemoryFault, Pointer, PointerTypeError

SUPPORTED_DOCS = "docs/deepstream/supported.md"


def _owner(obj: Any) -> str:
    return type(obj).__name__


class _Member:
    """Base of member descriptors: knows its name and contributes a default."""

    name = ""
    ctype = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def default(self) -> Any:
        raise NotImplementedError


class Int(_Member):
    """An integer member of ``bits`` width (``signed`` or not)."""

    def __init__(self, ctype: str, bits: int = 32, *, signed: bool = False, default: int = 0) -> None:
        self.ctype = ctype
        self.low = -(1 << (bits - 1)) if signed else 0
        self.high = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        self._default = default

    def default(self) -> int:
        return self._default

    def convert(self, obj: Any, value: Any) -> int:
        if isinstance(value, float) or not hasattr(value, "__index__"):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} is a {self.ctype}: it takes an int, "
                f"not {type(value).__name__} {value!r}",
                hint="convert explicitly, e.g. int(x), as pybind11 does not",
            )
        number = operator.index(value)
        if not self.low <= number <= self.high:
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} is a {self.ctype}: {number} is out of its range "
                f"[{self.low}, {self.high}]"
            )
        return number

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = self.convert(obj, value)


class Float(_Member):
    """A ``gfloat`` or ``gdouble`` member (both stored as Python floats, see the module docstring)."""

    def __init__(self, *, double: bool = False) -> None:
        self.double = double
        self.ctype = "gdouble" if double else "gfloat"

    def default(self) -> float:
        return 0.0

    def __set__(self, obj: Any, value: Any) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number is None or isinstance(value, str | bytes):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} is a {self.ctype}: it takes a number, not {type(value).__name__}"
            )
        obj.__dict__[self.name] = number


class Enum(_Member):
    """An enum member: takes a member of ``enum_type`` (or its int value), reads as a member."""

    def __init__(self, enum_type: type[enum.IntEnum], default: int = 0) -> None:
        self.enum_type = enum_type
        self.ctype = enum_type.__name__
        self._default = default

    def default(self) -> enum.IntEnum:
        return self.enum_type(self._default)

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, float) or not hasattr(value, "__index__"):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} takes a {self.ctype} value, not {type(value).__name__}"
            )
        obj.__dict__[self.name] = self.enum_type(operator.index(value))


class Plain(_Member):
    """A member holding any Python value (the emulation's own extras, documented per struct)."""

    def __init__(self, default: Any = None, factory: Callable[[], Any] | None = None) -> None:
        self._default = default
        self.factory = factory

    def default(self) -> Any:
        return self.factory() if self.factory is not None else self._default

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


class Ref(_Member):
    """A pointer to a pyds struct (``NvDsObjectMeta *parent``): reads as the object or None."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.ctype = f"{type_name} *"

    def default(self) -> None:
        return None

    def check(self, obj: Any, value: Any) -> None:
        if value is not None and not any(c.__name__ == self.type_name for c in type(value).__mro__):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} is a {self.ctype}: it takes a {self.type_name} or None, "
                f"not {type(value).__name__}"
            )

    def __set__(self, obj: Any, value: Any) -> None:
        self.check(obj, value)
        obj.__dict__[self.name] = value


class WeakRef(Ref):
    """A pointer back to an owner (``NvDsBaseMeta.batch_meta``), held weakly so that a batch and
    its metas form no reference cycle and are freed as soon as the batch is dropped."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_w_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        ref = obj.__dict__.get(self.slot)
        return None if ref is None else ref()

    def __set__(self, obj: Any, value: Any) -> None:
        self.check(obj, value)
        obj.__dict__[self.slot] = None if value is None else weakref.ref(value)


class VoidPointer(_Member):
    """A ``void *`` member: takes a pyds object, a pointer read elsewhere, or None; reads as a
    :class:`~.cmemory.Pointer` (or None). An int is refused, as pybind11 refuses it."""

    ctype = "void *"

    def default(self) -> None:
        return None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_p_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        target = obj.__dict__.get(self.slot)
        return None if target is None else Pointer(target)

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, int):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} is a void *: it takes a pyds object or None, not an int address",
                hint=f"cast the address first, e.g. pyds.NvDsVehicleObject.cast({value})",
            )
        obj.__dict__[self.slot] = value.target if isinstance(value, Pointer) else value

    @staticmethod
    def target(obj: Any, name: str) -> Any:
        """The object a ``void *`` member points to (for the emulated elements)."""
        return obj.__dict__.get(f"_p_{name}")


class CharArray(_Member):
    """A ``gchar name[size]`` member: reads as str (up to the first NUL); assignment copies the
    string's bytes over the start of the array WITHOUT a terminating NUL, as pyds's setter does
    (a shorter string leaves the tail of the previous one). The array always holds the visible
    string followed by zeros, so the string is all that is stored."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.ctype = f"gchar[{size}]"

    def default(self) -> str:
        return ""

    def __set__(self, obj: Any, value: Any) -> None:
        if not isinstance(value, str):
            raise PointerTypeError(f"{_owner(obj)}.{self.name} takes a str, not {type(value).__name__}")
        data = value.encode("utf-8")
        if len(data) > self.size:
            raise MemoryFault(
                f"{_owner(obj)}.{self.name}: {len(data)} bytes do not fit the {self.ctype} array",
                hint=f"keep it under {self.size} bytes",
            )
        d = obj.__dict__
        old = d[self.name]
        if old:
            data += old.encode("utf-8")[len(data) :]
        d[self.name] = data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


class CString(_Member):
    """A ``gchar *`` member as pyds binds it: reads as the address of the string (0 for NULL;
    ``pyds.get_string`` gives the text); assigning a str allocates a new block with a copy.
    ``free_existing`` frees the previous block first (``NvOSD_TextParams.display_text``)."""

    ctype = "gchar *"

    def __init__(self, *, free_existing: bool = False) -> None:
        self.free_existing = free_existing

    def default(self) -> int:
        return 0

    def __set__(self, obj: Any, value: Any) -> None:
        if not isinstance(value, str):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} takes a str (pyds copies it into a new buffer), "
                f"not {type(value).__name__}",
                hint="to store an address, use a buffer member such as NvDsEventMsgMeta.ts",
            )
        d = obj.__dict__
        if self.free_existing and d.get(self.name):
            cmemory.free(d[self.name], f"{_owner(obj)}.{self.name}")
        d[self.name] = cmemory.new_string(value)


class InternedString(_Member):
    """``NvOSD_FontParams.font_name``: reads as an address; assignment stores a process-wide copy
    of the string that is never freed (pyds keeps one per distinct name)."""

    ctype = "gchar *"
    _interned: ClassVar[dict[str, int]] = {}

    def default(self) -> int:
        return 0

    def __set__(self, obj: Any, value: Any) -> None:
        if not isinstance(value, str):
            raise PointerTypeError(f"{_owner(obj)}.{self.name} takes a str, not {type(value).__name__}")
        address = self._interned.get(value)
        if address is None:
            address = self._interned[value] = cmemory.new_string(value)
        obj.__dict__[self.name] = address


class Buffer(_Member):
    """A ``gchar *`` member bound as a raw address (``NvDsEventMsgMeta.ts``): takes and reads an
    int from ``alloc_buffer``/``memdup``; the block is checked when it is used, not here."""

    ctype = "gchar *"

    def default(self) -> int:
        return 0

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} takes an address from pyds.alloc_buffer(), "
                f"not {type(value).__name__} {value!r}"
            )
        obj.__dict__[self.name] = value


class CharPointer(_Member):
    """A ``gchar *`` member pybind11 converts to and from str (``NvDsLabelInfo.pResult_label``)."""

    ctype = "gchar *"

    def default(self) -> None:
        return None

    def __set__(self, obj: Any, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} takes a str or None, not {type(value).__name__}"
            )
        obj.__dict__[self.name] = value


class Embedded(_Member):
    """A struct member: read gives the member itself (created on first use, then a plain
    instance-dict read), assignment copies the other struct's members into it."""

    def __init__(self, struct_type: Callable[[], Any], **initial: Any) -> None:
        self.struct_type = struct_type
        self.initial = initial

    def default(self) -> Any:
        return _LAZY

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        # a non-data descriptor: called only until the member exists in the instance dict
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.struct_type(**self.initial)
        return value

    def assign(self, obj: Any, value: Any) -> None:
        target = getattr(obj, self.name)
        if type(value) is not type(target):
            raise PointerTypeError(
                f"{_owner(obj)}.{self.name} is a {type(target).__name__}: it takes a "
                f"{type(target).__name__}, not {type(value).__name__}"
            )
        target._c_assign(value)


class Array(_Member):
    """``T name[n]`` of embedded structs, read-only as in pyds: reading gives a new list of the
    ``n`` elements (writing into that list changes nothing, as with pyds)."""

    def __init__(self, struct_type: Callable[[], Any], count: int) -> None:
        self.struct_type = struct_type
        self.count = count

    def default(self) -> Any:
        return _LAZY

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_a_{name}"

    def elements(self, obj: Any) -> list[Any]:
        d = obj.__dict__
        items = d.get(self.slot)
        if items is None:
            items = d[self.slot] = [self.struct_type() for _ in range(self.count)]
        return items

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return list(self.elements(obj))

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{_owner(obj)}.{self.name} is read-only: set its elements' members instead")


class IntArray(_Member):
    """``gint64 name[4]`` (misc_*_info, reserved): reads as a numpy view that writes through;
    assigning the attribute itself is ignored, as pyds's setter does nothing."""

    def __init__(self, count: int) -> None:
        self.count = count

    def default(self) -> Any:
        return _LAZY

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        array = d.get(self.name)
        if array is None:
            import numpy as np

            array = d[self.name] = np.zeros(self.count, dtype=np.int64)
        return array

    def __set__(self, obj: Any, value: Any) -> None:
        return None


class _Lazy:
    """Default marker of members created on first read (never stored)."""


_LAZY = _Lazy()


class Struct:
    """Base of every emulated pyds type.

    Subclasses declare members with the descriptors above; ``_not_emulated`` maps member names pyds
    has but the emulation does not fill to a reason. ``cast`` is pyds's pointer cast, checked.
    """

    _members: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}
    _not_emulated: ClassVar[dict[str, str]] = {}
    _inline: ClassVar[frozenset[str]] = frozenset()  # members stored in the struct itself
    _setters: ClassVar[dict[str, Callable[[Any, Any], None]]] = {}
    _kinds: ClassVar[dict[str, tuple[str, int, int]]] = {}  # int and float members, for fill()
    _c_freed: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        members: dict[str, _Member] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, _Member):
                    members[name] = value
        cls._members = tuple(members)
        defaults: dict[str, Any] = {}
        factories: dict[str, Callable[[], Any]] = {}
        for name, member in members.items():
            if isinstance(member, Plain) and member.factory is not None:
                factories[name] = member.factory
            elif isinstance(member, VoidPointer | WeakRef):
                continue
            else:
                value = member.default()
                if value is not _LAZY:
                    defaults[name] = value
        cls._defaults = defaults
        cls._factories = factories
        cls._inline = frozenset(name for name, m in members.items() if isinstance(m, Embedded | IntArray))
        setters: dict[str, Callable[[Any, Any], None]] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Embedded):
                    setters[name] = value.assign
                elif isinstance(value, _Member | property) and hasattr(value, "__set__"):
                    setters[name] = value.__set__
        cls._setters = setters
        kinds: dict[str, tuple[str, int, int]] = {}
        for name, member in members.items():
            if type(member) is Int:
                kinds[name] = ("i", member.low, member.high)
            elif type(member) is Float:
                kinds[name] = ("f", 0, 0)
        cls._kinds = kinds

    def __init__(self, **members: Any) -> None:
        d = self.__dict__
        d.update(self._defaults)
        for name, factory in self._factories.items():
            d[name] = factory()
        if members:
            fill(self, members)

    def __setattr__(self, name: str, value: Any) -> None:
        setter = self._setters.get(name)
        if setter is None:
            self._missing(name, "has no member")
        setter(self, value)  # type: ignore[misc]

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup failed
        if name.startswith("__"):
            raise AttributeError(name)
        self._missing(name, "has no attribute")

    @classmethod
    def _missing(cls, name: str, what: str) -> None:
        reason = cls._not_emulated.get(name)
        if reason is not None:
            raise AttributeError(
                f"pyds.{cls.__name__}.{name} is part of NVIDIA's pyds but not emulated here: {reason} "
                f"(see {SUPPORTED_DOCS})",
                name=name,
            )
        raise AttributeError(f"'pyds.{cls.__name__}' object {what} {name!r}", name=name)

    def __repr__(self) -> str:
        return f"<pyds.{type(self).__name__} object at 0x{id(self):x}>"

    @classmethod
    def cast(cls, data: Any) -> Any:
        """pyds's ``cast``: the object a ``void *`` (or an int address) points to, as ``cls``.

        None stays None (a NULL pointer). A pointer to another type is a TypeError here; on a
        device it would silently reinterpret the memory.
        """
        if data is None:
            return None
        if isinstance(data, Pointer):
            target = data.target
        elif isinstance(data, int) and not isinstance(data, bool):
            target = cmemory.object_at(data, f"{cls.__name__}.cast({data:#x})")
        else:
            target = data
        if not isinstance(target, cls):
            held = type(target).__name__
            raise PointerTypeError(
                f"{cls.__name__}.cast(): the pointer is to {held}, not to {cls.__name__}",
                hint=(
                    "cast a list's .data to the type of its elements (frame_meta_list → NvDsFrameMeta, "
                    "obj_meta_list → NvDsObjectMeta, *_user_meta_list → NvDsUserMeta), and a user "
                    "meta's user_meta_data to the type its base_meta.meta_type says"
                ),
            )
        if target.__dict__.get("_c_freed"):
            raise MemoryFault(f"{cls.__name__}.cast(): the {cls.__name__} was freed already (use after free)")
        return target

    # -- copies --------------------------------------------------------------------------------
    def _c_memcpy(self) -> Any:
        """A member-wise copy, as C's struct assignment or memcpy: embedded structs and arrays are
        copied, pointers and lists are shared (the same ``char *``/``void *``/GList/parent)."""
        clone = type(self).__new__(type(self))
        d = clone.__dict__
        d.update(self.__dict__)
        d.pop("_c_address", None)
        d.pop("_c_freed", None)
        for key, value in list(d.items()):
            if key in self._inline and isinstance(value, Struct):
                d[key] = value._c_memcpy()
            elif key.startswith("_a_"):
                d[key] = [element._c_memcpy() for element in value]
            elif key in self._inline:
                d[key] = value.copy()
        return clone

    __copy__ = _c_memcpy

    def _c_assign(self, other: Struct) -> None:
        """``*self = *other``: copy ``other``'s members into this struct in place."""
        clone = other._c_memcpy()
        d = self.__dict__
        keep = {k: d[k] for k in ("_c_address",) if k in d}
        d.clear()
        d.update(clone.__dict__)
        d.update(keep)


def fill(obj: Struct, values: dict[str, Any]) -> None:
    """Set several members as assignments do; a Python int within range or a float goes straight
    into the struct (the elements create thousands of metas a second)."""
    d = obj.__dict__
    kinds = obj._kinds
    for name, value in values.items():
        kind = kinds.get(name)
        if kind is not None:
            t = type(value)
            if kind[0] == "i":
                if t is int and kind[1] <= value <= kind[2]:
                    d[name] = value
                    continue
            elif t is float or t is int:
                d[name] = float(value)
                continue
        obj.__setattr__(name, value)


class CEnum(enum.IntEnum):
    """A C enum as pybind11 binds it: compares equal to ints, prints as ``Type.NAME``, and holds
    values it has no name for (a user meta type from ``nvds_get_user_meta_type`` reads back as
    ``NvDsMetaType.???``)."""

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int):
            return None
        member = int.__new__(cls, value)
        member._name_ = "???"
        member._value_ = value
        return member
