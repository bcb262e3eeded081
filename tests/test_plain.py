"""Every :class:`bpfexplain.plain.Frozen` class behaves as the frozen dataclass it
replaced: same fields in the same order, equality, hash, repr, no assignment,
pickling (``run --deep`` sends values between processes)."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
from typing import Any

import pytest

import bpfexplain
from bpfexplain.plain import Frozen


def _subclasses() -> list[type[Frozen]]:
    for module in pkgutil.walk_packages(bpfexplain.__path__, "bpfexplain."):
        if module.name.startswith(("bpfexplain.deep", "bpfexplain.__main__")):
            continue  # deep needs python-ptrace's libc lookups; __main__ runs the CLI
        importlib.import_module(module.name)
    found: list[type[Frozen]] = []
    todo = list(Frozen.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return sorted(found, key=lambda cls: cls.__module__ + "." + cls.__qualname__)


CLASSES = _subclasses()


def _twin(cls: type[Frozen]) -> type[Any]:
    """The ``@dataclass(frozen=True, slots=True)`` with the same fields."""
    fields = [(name, Any, dataclasses.field(compare=name not in cls._uncompared,
                                            repr=name not in cls._unshown))
              for name in cls._fields]
    return dataclasses.make_dataclass(cls.__qualname__, fields, frozen=True, slots=True)


def _values(cls: type[Frozen], tag: str) -> dict[str, Any]:
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
