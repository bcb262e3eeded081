"""Immutable value classes without ``@dataclass``'s cost at import.

``@dataclass(frozen=True, slots=True)`` writes the source of six methods per class
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``,
``__delattr__``) and compiles each one when the module is imported: about 0.35 ms a
class, on every start of every command, for classes that are declared once and never
change.  :class:`Frozen` gives the same behaviour, written once: a subclass lists its
fields, in order, as ``__slots__ = _fields = (...)`` and writes its own
``__init__``, which sets them with :data:`init_field`.  What it keeps from the dataclass, exactly:

* equality: only with an instance of the very same class, field by field (but those
  in ``_uncompared``), ``NotImplemented`` otherwise;
* hash: ``hash`` of the tuple of the compared fields (so sets and dicts of values
  iterate in the same order as before);
* repr: ``Name(field=value!r, ...)`` over every field (but those in ``_unshown``);
* no assignment or deletion after ``__init__`` (:class:`dataclasses.FrozenInstanceError`);
* pickling and copying through the fields (``__getstate__``/``__setstate__``), as
  ``run --deep`` sends values between its processes.

tests/test_plain.py holds every subclass to the dataclass it replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from operator import attrgetter
from typing import Any, ClassVar

init_field = object.__setattr__
"""``init_field(self, "name", value)``: how an ``__init__`` sets a field."""


class Frozen:
    """Base of immutable value classes; see the module's description."""

    __slots__ = ()
    _uncompared: ClassVar[frozenset[str]] = frozenset()
    """Fields left out of equality and hash (``field(compare=False)``)."""
    _unshown: ClassVar[frozenset[str]] = frozenset()
    """Fields left out of the repr (``field(repr=False)``)."""
    _fields: ClassVar[tuple[str, ...]] = ()
    """The fields in order: the ``__init__``'s and the repr's (and the hash's)."""
    _key: ClassVar[staticmethod[[Any], tuple[Any, ...]]]
    """The compared fields' values as a tuple (a static method: ``self._key(self)``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_fields" not in cls.__dict__:
            raise TypeError(f"{cls.__name__}: list the fields, in order, as "
                            "__slots__ = _fields = (...)")
        compared = [name for name in cls._fields if name not in cls._uncompared]
        key: Callable[[Any], tuple[Any, ...]]
        if len(compared) > 1:
            key = attrgetter(*compared)  # a tuple, in C
        elif compared:
            one = attrgetter(compared[0])
            key = lambda value: (one(value),)  # noqa: E731
        else:
            key = lambda value: ()  # noqa: E731
        cls._key = staticmethod(key)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key(self) == self._key(other)

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields
                           if name not in self._unshown)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return [getattr(self, name) for name in self._fields]

    def __setstate__(self, state: list[Any]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            init_field(self, name, value)
