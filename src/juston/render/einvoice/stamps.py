"""Stamps: a prototype subtree built once per shape, then copied and filled in.

Building an element from Python costs about a microsecond; copying a prototype subtree is
done in C and costs a tenth of that per element. Documents repeat a few shapes (the same
elements in the same order, with different texts), so each shape is built once by the
ordinary builder function from a *probe*, a copy of the values whose texts are replaced by
markers; the places where the markers land are the slots. Each use then copies the
prototype and writes the slots. The builder function stays the one description of the
structure: a stamp only learns from it.

    >>> from lxml import etree
    >>> class Row:
    ...     __slots__ = ("code", "amount")
    ...     def __init__(self, code, amount):
    ...         self.code, self.amount = code, amount
    >>> def build(parent, row):
    ...     element = etree.SubElement(parent, "row", code=row.code)
    ...     etree.SubElement(element, "amount").text = row.amount
    >>> stamp = Stamp(build, probe(Row("S", "1.00"), ("code", "amount")))
    >>> parent = etree.Element("rows")
    >>> stamp.add(parent, Row("S", "19.00"))
    >>> etree.tostring(parent)
    b'<rows><row code="S"><amount>19.00</amount></row></rows>'

A :class:`Skeleton` does the same for a whole document, leaving *places* where the parts
that repeat a varying number of times (lines, VAT rows, notes) are put afterwards.

The shape of the values (which optional parts are there) is the caller's key: a stamp
made for one shape must only be used for values of that shape. A slot whose value is
missing raises, so a wrong key cannot make an empty element silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter, truth
from typing import Any, Generic, TypeVar

from lxml import etree

__all__ = ["Anchors", "Skeleton", "Stamp", "marker", "probe", "shape"]

T = TypeVar("T")
_OPEN, _CLOSE = "\u27e6", "\u27e7"
Plan = tuple[tuple[int, str | None, Callable[[Any], Any]], ...]


def marker(name: str) -> str:
    """The placeholder a probe carries in slot *name* (dotted for nested values)."""
    return f"{_OPEN}{name}{_CLOSE}"


def probe(
    values: T,
    names: Iterable[str] | None = None,
    nested: tuple[type, ...] = (),
    prefix: str = "",
    fixed: Iterable[str] = (),
) -> T:
    """A copy of *values* (a class with ``__slots__``) with markers for its set texts.

    Only the slots in *names* (all string slots when ``None``) are marked; empty or
    ``None`` ones stay so, as they decide the shape. Values of the *nested* classes are
    probed in turn, their markers named ``outer.inner``, except the slots named in *fixed*:
    their texts become part of the prototype (and so must be part of its key).
    """
    kept = frozenset(fixed)
    chosen = None if names is None else frozenset(names)
    cls = type(values)
    copy = cls.__new__(cls)
    slots: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
    for name in slots:
        value = getattr(values, name)
        if isinstance(value, str):
            if value and (chosen is None or name in chosen):
                value = marker(prefix + name)
        elif nested and isinstance(value, nested) and name not in kept:
            value = probe(value, None, nested, f"{prefix}{name}.")
        setattr(copy, name, value)
    return copy


_SHAPES: dict[type, tuple[Callable[[Any], Any], tuple[str, ...]]] = {}


def shape(values: object) -> tuple[object, ...]:
    """Which slots of *values* are set (truthy), and so on for the slots its class names in
    ``__shape__``: a key for the stamps of values like it.

        >>> class Pair:
        ...     __slots__ = ("a", "b")
        ...     def __init__(self, a, b):
        ...         self.a, self.b = a, b
        >>> shape(Pair("x", None)), shape(Pair("", "y"))
        ((True, False), (False, True))
    """
    cls = type(values)
    found = _SHAPES.get(cls)
    if found is None:
        slots: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
        found = _SHAPES[cls] = (attrgetter(*slots), getattr(cls, "__shape__", ()))
    getter, inner = found
    flags = tuple(map(truth, getter(values)))
    if not inner:
        return flags
    parts: list[object] = [flags]
    for name in inner:
        value = getattr(values, name)
        parts.append(None if value is None else shape(value))
    return tuple(parts)


def _slot(text: object) -> str | None:
    if isinstance(text, str) and text.startswith(_OPEN) and text.endswith(_CLOSE):
        return text[1:-1]
    return None


def _plan(root: etree._Element) -> Plan:
    """Where the markers of *root* are: (element number in document order, attribute or
    None, getter)."""
    plan: list[tuple[int, str | None, Callable[[Any], Any]]] = []
    for position, element in enumerate(root.iter()):
        name = _slot(element.text)
        if name is not None:
            plan.append((position, None, attrgetter(name)))
        for attribute, value in element.attrib.items():
            name = _slot(value)
            if name is not None:
                plan.append((position, str(attribute), attrgetter(name)))
    return tuple(plan)


def _fill(element: etree._Element, plan: Plan, values: object) -> None:
    nodes = list(element.iter())  # one pass in C beats walking a path per slot
    for position, attribute, get in plan:
        value = get(values)
        if value is None:
            raise AssertionError(f"a stamp slot has no value: the shape key is wrong ({get})")
        if attribute is None:
            nodes[position].text = value
        else:
            nodes[position].set(attribute, value)


def _copy(element: etree._Element) -> etree._Element:
    # lxml's __copy__ copies the whole subtree in C (copy.copy would add a lookup).
    return element.__copy__()  # type: ignore[attr-defined,no-any-return]


class Stamp(Generic[T]):
    """Copies of the one element ``build(parent, probe)`` appends, with slots filled in."""

    __slots__ = ("plan", "prototype")

    def __init__(
        self,
        build: Callable[[etree._Element, T], object],
        probe: T,
        nsmap: Mapping[Any, str] | None = None,
    ) -> None:
        holder = etree.Element("stamp", nsmap=nsmap)
        build(holder, probe)
        if len(holder) != 1:
            raise ValueError(f"a stamp needs exactly one element, the builder made {len(holder)}")
        self.prototype = holder[0]
        self.plan = _plan(self.prototype)

    def add(self, parent: etree._Element, values: T) -> None:
        """Append a filled copy to *parent*."""
        element = _copy(self.prototype)
        _fill(element, self.plan, values)
        parent.append(element)

    def insert(self, parent: etree._Element, index: int, values: T) -> None:
        """Insert a filled copy into *parent* at *index*."""
        element = _copy(self.prototype)
        _fill(element, self.plan, values)
        parent.insert(index, element)


class Anchors:
    """The places a skeleton leaves for repeated parts, noted while its builder runs."""

    __slots__ = ("places",)

    def __init__(self) -> None:
        self.places: dict[str, tuple[etree._Element, int]] = {}

    def mark(self, name: str, parent: etree._Element) -> None:
        """The part *name* goes into *parent*, after its present children."""
        self.places[name] = (parent, len(parent))


def _path(root: etree._Element, element: etree._Element) -> tuple[int, ...]:
    path: list[int] = []
    while element is not root:
        parent = element.getparent()
        assert parent is not None, "an anchor outside the skeleton"
        path.append(parent.index(element))
        element = parent
    return tuple(reversed(path))


class Skeleton(Generic[T]):
    """A whole document of one shape: ``build(probe, anchors)`` returns its root."""

    __slots__ = ("places", "plan", "prototype")

    def __init__(self, build: Callable[[T, Anchors], etree._Element], probe: T) -> None:
        anchors = Anchors()
        root = build(probe, anchors)
        self.prototype = root
        self.plan = _plan(root)
        places = [
            (name, _path(root, parent), index) for name, (parent, index) in anchors.places.items()
        ]
        # Filled from the end of the document backwards, so no insertion moves a place
        # that is still to be filled.
        #: (name, path of the parent, index) of each place, last in the document first.
        self.places = tuple(sorted(places, key=lambda p: (p[1], p[2]), reverse=True))

    def make(self, values: T) -> tuple[etree._Element, list[tuple[str, etree._Element, int]]]:
        """A filled copy and its places, last first: (name, parent element, index)."""
        root = _copy(self.prototype)
        _fill(root, self.plan, values)
        places = []
        for name, path, index in self.places:
            node = root
            for step in path:
                node = node[step]
            places.append((name, node, index))
        return root, places
