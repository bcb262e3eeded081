"""Value and record classes without ``@dataclass``'s cost at import.

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

:class:`Record` is the mutable counterpart, for what tracking and ``run`` fill in as
they go (a plain ``@dataclass``): a subclass lists its fields the same way and sets
them in its own ``__init__`` by plain assignment; a field whose dataclass default was
a ``default_factory`` takes ``None`` for "a new one".  What it keeps:

* equality as the dataclass's ``eq=True`` (field by field, same class only, and so
  unhashable), or, with ``class X(Record, eq=False)``, identity as ``eq=False``;
* repr: ``Name(field=value!r, ...)`` over every field (but those in ``_unshown``),
  ``...`` for an object already being shown (records point at each other);
* assignment, copying and pickling as usual (slots, so no other attribute).

tests/test_plain.py holds every subclass to the dataclass it replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from reprlib import recursive_repr
from typing import Any, ClassVar

init_field = object.__setattr__
"""``init_field(self, "name", value)``: how an ``__init__`` sets a field."""


class _Fielded:
    """What :class:`Frozen` and :class:`Record` share: each subclass lists its fields,
    and the repr shows them (``...`` for an object already being shown, as a
    dataclass's does)."""

    __slots__ = ()
    _unshown: ClassVar[frozenset[str]] = frozenset()
    """Fields left out of the repr (``field(repr=False)``)."""
    _fields: ClassVar[tuple[str, ...]] = ()
    """The fields in order: the ``__init__``'s, the repr's and equality's."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_fields" not in cls.__dict__:
            raise TypeError(f"{cls.__name__}: list the fields, in order, as "
                            "__slots__ = _fields = (...)")

    @recursive_repr()
    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields
                           if name not in self._unshown)
        return f"{self.__class__.__qualname__}({fields})"


class Frozen(_Fielded):
    """Base of immutable value classes; see the module's description."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()  # a base, with no fields of its own
    _uncompared: ClassVar[frozenset[str]] = frozenset()
    """Fields left out of equality and hash (``field(compare=False)``)."""
    _key: ClassVar[staticmethod[[Any], tuple[Any, ...]]]
    """The compared fields' values as a tuple (a static method: ``self._key(self)``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._key = staticmethod(_key_of(
            [name for name in cls._fields if name not in cls._uncompared]))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key(self) == self._key(other)

    def __hash__(self) -> int:
        return hash(self._key(self))

    # dataclasses is imported only here, on a misuse: with the inspect module it brings,
    # it costs a process that needs neither (run --deep's tracer) about 10 ms.
    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return [getattr(self, name) for name in self._fields]

    def __setstate__(self, state: list[Any]) -> None:
        for name, value in zip(self._fields, state, strict=True):
            init_field(self, name, value)


def _key_of(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the values of ``names`` as a tuple."""
    if len(names) > 1:
        return attrgetter(*names)  # a tuple, in C
    if names:
        one = attrgetter(names[0])
        return lambda value: (one(value),)
    return lambda value: ()


class Record(_Fielded):
    """Base of mutable record classes; see the module's description."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()  # a base, with no fields of its own
    _key: ClassVar[staticmethod[[Any], tuple[Any, ...]]]

    def __init_subclass__(cls, *, eq: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if eq:
            cls._key = staticmethod(_key_of(list(cls._fields)))
            cls.__eq__ = Record._equal  # type: ignore[method-assign,assignment]
            cls.__hash__ = None  # type: ignore[assignment]

    def _equal(self, other: object) -> bool:
        # becomes __eq__, where mypy knows NotImplemented; here it is only Any to it
        if other.__class__ is not self.__class__:
            return NotImplemented  # type: ignore[no-any-return]
        return bool(self._key(self) == self._key(other))
