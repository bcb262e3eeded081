"""Every :class:`bpfexplain.plain.Frozen` class behaves as the frozen dataclass it
replaced: same fields in the same order, equality, hash, repr, no assignment,
pickling (``run --deep`` sends values between processes); every
:class:`bpfexplain.plain.Record` as the plain dataclass it replaced."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from typing import Any, TypeVar

import pytest

import bpfexplain
from bpfexplain.plain import Frozen, Record

T = TypeVar("T")


def _subclasses(base: type[T]) -> list[type[T]]:
    """Every subclass of ``base`` in the package, every module imported first."""
    for module in pkgutil.walk_packages(bpfexplain.__path__, "bpfexplain."):
        if module.name == "bpfexplain.__main__":
            continue  # it runs the CLI
        importlib.import_module(module.name)
    found: list[type[T]] = []
    todo = list(base.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return sorted(found, key=lambda cls: cls.__module__ + "." + cls.__qualname__)


CLASSES = _subclasses(Frozen)


def _twin(cls: type[Frozen]) -> type[Any]:
    """The ``@dataclass(frozen=True, slots=True)`` with the same fields."""
    fields = [(name, Any, dataclasses.field(compare=name not in cls._uncompared,
                                            repr=name not in cls._unshown))
              for name in cls._fields]
    return dataclasses.make_dataclass(cls.__qualname__, fields, frozen=True, slots=True)


def _values(cls: type[Frozen] | type[Record], tag: str) -> dict[str, Any]:
    # Distinct, hashable values, so that a field set from the wrong argument shows.
    return {name: f"{tag}{index}" for index, name in enumerate(cls._fields)}


def test_there_are_frozen_classes() -> None:
    names = {cls.__qualname__ for cls in CLASSES}
    assert {"Call", "Fd", "Origin"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__qualname__)
def test_behaves_as_its_dataclass(cls: type[Frozen]) -> None:
    # __init__ takes exactly the fields, in order, and sets each from its argument.
    assert list(inspect.signature(cls).parameters) == list(cls._fields)
    assert set(cls.__slots__) == set(cls._fields)
    values = _values(cls, "a")
    value = cls(**values)
    twin_class = _twin(cls)
    twin = twin_class(**values)
    for name, expected in values.items():
        assert getattr(value, name) == expected

    assert repr(value) == repr(twin)
    assert hash(value) == hash(twin)
    assert value == cls(**values)
    assert value != twin  # another class: never equal, as a dataclass
    for name in cls._fields:
        changed = cls(**{**values, name: "other"})
        assert (changed == value) is (name in cls._uncompared), name
        assert (changed == value) == (twin_class(**{**values, name: "other"}) == twin)

    for name in cls._fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, "x")
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(value, name)

    for clone in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
        assert clone.__class__ is cls
        assert repr(clone) == repr(value)
        assert clone == value


# --------------------------------------------------------------------------------
# Record: the mutable counterpart (a plain @dataclass, eq=True or eq=False)

RECORDS = _subclasses(Record)


def _compares(cls: type[Record]) -> bool:
    return cls.__eq__ is not object.__eq__


def _record_twin(cls: type[Record]) -> type[Any]:
    """The plain ``@dataclass`` with the same fields (``eq`` as the class has it)."""
    fields = [(name, Any, dataclasses.field(repr=name not in cls._unshown))
              for name in cls._fields]
    return dataclasses.make_dataclass(cls.__qualname__, fields, eq=_compares(cls))


def test_there_are_records() -> None:
    names = {cls.__qualname__ for cls in RECORDS}
    assert {"Obj", "Action", "Lifecycle", "Frame"} <= names


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__qualname__)
def test_record_behaves_as_its_dataclass(cls: type[Record]) -> None:
    assert list(inspect.signature(cls).parameters) == list(cls._fields)
    assert set(cls.__slots__) == set(cls._fields)
    values = _values(cls, "a")
    value = cls(**values)
    twin_class = _record_twin(cls)
    twin = twin_class(**values)
    for name, expected in values.items():
        assert getattr(value, name) == expected
    assert repr(value) == repr(twin)

    same = cls(**values)
    assert value == value
    if _compares(cls):
        assert value == same and twin == twin_class(**values)
        assert cls.__hash__ is None and twin_class.__hash__ is None
        for name in cls._fields:
            assert cls(**{**values, name: "other"}) != value, name
    else:
        assert value != same and twin != twin_class(**values)
        assert hash(value) == object.__hash__(value)

    # mutable, and nothing else can be set (slots)
    for name in cls._fields:
        setattr(value, name, "changed")
        assert getattr(value, name) == "changed"
    with pytest.raises(AttributeError):
        value.not_a_field = 1  # type: ignore[attr-defined]

    for clone in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
        assert clone.__class__ is cls
        assert repr(clone) == repr(value)
        assert [getattr(clone, n) for n in cls._fields] == [getattr(value, n) for n in cls._fields]


def test_record_factory_fields_are_new_each_time() -> None:
    from bpfexplain.tracking.records import Obj

    one, two = (Obj("prog-1", "prog", 1, 3, 1, 0, "BPF_PROG_LOAD") for _ in range(2))
    one.maps.append(two)
    one.ops["LOOKUP_ELEM"] += 1
    assert two.maps == [] and not two.ops and one.attrs is not two.attrs


def test_record_repr_of_a_cycle() -> None:
    from bpfexplain.tracking.records import Attachment, Obj

    prog = Obj("prog-1", "prog", 1, 3, 1, 0, "BPF_PROG_LOAD")
    prog.attachments.append(Attachment(prog, None, "BPF_LINK_CREATE", 2, 0))
    assert "Attachment(prog=..., target=None" in repr(prog)


def test_a_record_must_list_its_fields() -> None:
    with pytest.raises(TypeError, match="list the fields"):
        class NoFields(Record):
            __slots__ = ("x",)
