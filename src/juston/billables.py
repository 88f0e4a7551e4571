"""Billing records of the host application: declarative mappings and ad-hoc charges.

A :class:`BillableMapping` says how a record of your application (a dict, a dataclass,
an ORM row) becomes a :class:`~juston.Billable`: each field by attribute or key name, or
by a function of the record. A :class:`ParentMapping` turns a parent record (an order,
a project) into one document whose lines are its child records.

    >>> from datetime import date
    >>> from juston import money
    >>> entries = [{"id": 7, "client": "C-1", "task": "Workshop", "hours": "3.5",
    ...             "day": date(2026, 3, 2)}]
    >>> time = BillableMapping(source="time", key="id", account_id="client",
    ...     description="task", quantity="hours", service_date="day", unit_code="HUR",
    ...     unit_price=lambda entry: money(120, "EUR"))
    >>> [(b.key, b.total) for b in time.billables(entries)]
    [('7', Money('420.00', 'EUR'))]

Hand the billables to a run through the ``juston_billables`` hook. Ad-hoc charges (a
setup fee, a service call) are billables kept in the store: :func:`add_charge`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import Any

import attrs
from moneyed import Money

from .errors import ValidationError
from .model.billables import Billable
from .storage.base import Store

__all__ = ["BillableMapping", "ParentMapping", "add_charge", "remove_charge"]

#: A field of the record by name, a function of the record, or (for the optional
#: fields) a constant.
Field = str | Callable[[Any], object]
_REQUIRED = ("key", "account_id", "description", "unit_price", "service_date")
_OPTIONAL = ("quantity", "service_end", "unit_code", "tax_class", "product_code", "invoice")


def _get(record: object, field: Field, name: str) -> object:
    if callable(field):
        return field(record)
    try:
        if isinstance(record, Mapping):
            return record[field]
        return getattr(record, field)
    except (KeyError, AttributeError):
        raise ValidationError(name, field, f"is not a field of the record {record!r}") from None


#: A constant, or a function of the record.
Constant = str | Callable[[Any], object]


@attrs.frozen(kw_only=True)
class BillableMapping:
    """How one kind of record becomes a billable.

    *key*, *description*, *unit_price* and *service_date* (and *account_id*, unless a
    :class:`ParentMapping` supplies it) name a field of the record (an attribute, or a
    key of a mapping) or give a function of it; *key* must be stable (it is how the run
    knows the record was billed) and is turned into text. *quantity*, *service_end* and
    *invoice* are optional and read the same way. *unit_code*, *tax_class* and
    *product_code* are constants, or functions of the record (a tax class per expense).
    """

    source: str
    key: Field
    description: Field
    unit_price: Field
    service_date: Field
    account_id: Field | None = None
    quantity: Field | None = None
    service_end: Field | None = None
    invoice: Field | None = None
    unit_code: Constant = "C62"
    tax_class: Constant = "standard"
    product_code: Constant | None = None

    def billable(self, record: object, **fixed: object) -> Billable:
        """The billable of one record; *fixed* fields take the place of the mapping's."""
        values: dict[str, object] = {}
        for name in (
            "key",
            "account_id",
            "description",
            "unit_price",
            "service_date",
            "quantity",
            "service_end",
            "invoice",
        ):
            field = getattr(self, name)
            if name not in fixed and field is not None:
                values[name] = _get(record, field, name)
        for name in ("unit_code", "tax_class", "product_code"):
            constant = getattr(self, name)
            if name not in fixed and constant is not None:
                values[name] = constant(record) if callable(constant) else constant
        values.update(fixed)
        if values.get("account_id") is None:
            raise ValidationError("account_id", None, f"is neither mapped nor given for {record!r}")
        values["key"] = str(values["key"])
        if values.get("invoice") is not None:
            values["invoice"] = str(values["invoice"])
        return Billable(source=self.source, **values)  # type: ignore[arg-type]

    def billables(self, records: Iterable[object]) -> Iterator[Billable]:
        """One billable per record."""
        for record in records:
            yield self.billable(record)


@attrs.frozen(kw_only=True)
class ParentMapping:
    """A parent record (an order, a project) → one document, its child records → lines.

    *lines* gives the children of a parent (a field name or a function); *line* maps
    each child. Every child's billable gets the parent's account (*account_id*) and the
    invoice key ``"<source>:<parent key>"``, so the children of one parent share a
    document of their own.
    """

    source: str
    key: Field
    account_id: Field
    lines: Field
    line: BillableMapping

    def billables(self, parents: Iterable[object]) -> Iterator[Billable]:
        for parent in parents:
            invoice = f"{self.source}:{_get(parent, self.key, 'key')}"
            account_id = _get(parent, self.account_id, "account_id")
            children = _get(parent, self.lines, "lines")
            if not isinstance(children, Iterable):
                raise ValidationError("lines", children, "is not a collection of records")
            for child in children:
                yield self.line.billable(child, account_id=account_id, invoice=invoice)


def add_charge(
    store: Store,
    account_id: str,
    description: str,
    unit_price: Money,
    service_date: date,
    *,
    quantity: object = 1,
    key: str | None = None,
    **fields: Any,
) -> Billable:
    """Keep an ad-hoc one-time charge (a setup fee, a service call) for the next run.

    The charge is a :class:`~juston.Billable` of source ``"charge"``, billed once by the
    first run on or after *service_date*, and again only if its document is cancelled.
    *key* (default: a new random one) makes adding the same charge twice harmless.

        >>> from juston import money
        >>> from juston.testing import sample_store
        >>> store = sample_store(accounts=1)
        >>> fee = add_charge(store, "C0000001", "Setup fee", money(99, "EUR"),
        ...                  date(2026, 1, 1), key="setup")
        >>> [c.key for c in store.charges_of(["C0000001"])["C0000001"]]
        ['setup']
        >>> remove_charge(store, "setup")
    """
    charge = Billable(
        source="charge",
        key=key or uuid.uuid4().hex,
        account_id=account_id,
        description=description,
        unit_price=unit_price,
        service_date=service_date,
        quantity=quantity,
        **fields,
    )
    with store.transaction() as tx:
        tx.put_charge(charge)
    return charge


def remove_charge(store: Store, key: str) -> None:
    """Remove an ad-hoc charge added by :func:`add_charge` (NotFound if there is none).

    What a run billed for it stays billed; cancel that document to take it back.
    """
    with store.transaction() as tx:
        tx.delete_charge("charge", key)
