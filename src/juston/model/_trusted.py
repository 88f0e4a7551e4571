"""Building model values from data that passed their validation once already.

A store writes only values that were built through their classes' constructors, so what
it reads back was validated when it was written. Reading it through the constructors
again (converters, validators, cross-field checks) costs more than everything else a
read does: for a subscription of three items, three quarters of it. :func:`trusted`
gives a constructor that takes the fields as they are, already of their types, and only
computes what the class derives from them (its ``init=False`` fields).

It is private on purpose: the public constructors keep validating whatever they are
given, and only a reader of stored data that built every field itself (the codec) may
use this path. A value built here is equal to the one the public constructor builds
from the same fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["trusted"]

T = TypeVar("T")


def trusted(cls: type[T], derive: Callable[[T], None] | None = None) -> Callable[..., T]:
    """A constructor of the slotted attrs class *cls* that takes every ``init`` field
    positionally, in field order, and sets it as given: no converter, validator or
    ``__attrs_post_init__`` runs; *derive* (if given) then fills the fields the class
    computes itself.

        >>> from juston.model.parties import Address
        >>> make = trusted(Address)
        >>> make("Ring 2", "80331", "München", "DE", None, None) == Address(
        ...     street="Ring 2", postcode="80331", city="München", country="DE")
        True
    """
    if "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: trusted construction needs a slotted attrs class")
    names = [f.name for f in attrs.fields(cls) if f.init]  # type: ignore[arg-type]
    # The slots' own descriptors: setting through them skips the frozen __setattr__.
    slots = tuple(cls.__dict__[name].__set__ for name in names)
    if "_attrs_cached_hash" in cls.__slots__:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: trusted construction does not fill a cached hash")
    # Written out as attrs writes an __init__, one statement per field: a loop over the
    # slots costs about twice as much, and a store builds a million values in a run.
    fields = [f"_v{n}" for n in range(len(names))]
    source = [
        f"def build({', '.join(fields)}):",
        "    instance = _new(cls)",
        *[f"    _set{n}(instance, {value})" for n, value in enumerate(fields)],
        *(["    derive(instance)"] if derive is not None else []),
        "    return instance",
    ]
    scope: dict[str, Any] = {"_new": object.__new__, "cls": cls, "derive": derive}
    scope.update({f"_set{n}": put for n, put in enumerate(slots)})
    exec("\n".join(source), scope)  # the source is made above from field positions only
    build: Callable[..., T] = scope["build"]
    build.__qualname__ = f"trusted({cls.__name__})"
    return build
