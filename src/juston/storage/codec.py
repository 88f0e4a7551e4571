"""Domain objects to and from JSON text, exactly: the storage format of the SQL backend.

Built on cattrs: every attrs class is unstructured field by field and structured back
through its ``__init__``, so stored data passes the same validation as new data, with
one exception: the values an invoice run reads by the million (accounts with their
addresses, subscriptions with their items) were checked by their constructors before
they were written, and are built from their stored fields without running the checks
again (``_trusted_hook``); what does not read that way goes through ``__init__``.
Decimals keep their exponent (``"12.50"`` stays ``12.50``), dates are ISO text, money is
``"<amount> <currency>"``, timestamps ISO text with their UTC offset (a named time zone
comes back as its fixed offset at that instant). Defaults are always written out, so changing a default in a
later version never changes what a stored object means.

    >>> from juston.testing import sample_company
    >>> company = sample_company()
    >>> loads(dumps(company), Company) == company
    True
"""

from __future__ import annotations

import enum
import functools
import operator
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn
from moneyed import Currency, Money

from ..errors import StorageError
from ..model._trusted import trusted
from ..model.documents import Line, LineContent, Term
from ..model.parties import Account, Address, Company
from ..model.receivables import Balance
from ..model.subscriptions import Item, Pricing, Subscription
from ..model.terms import PaymentTerms
from ..model.usage import UsageRecord
from ..money import currency
from ..periods import BillingPeriod, Period
from ..pricing.models import (
    Flat,
    Graduated,
    MinimumFee,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    PriceSchedule,
    Volume,
)
from ..tax.result import TaxResult

__all__ = [
    "dumps",
    "dumps_balance",
    "dumps_usage_record",
    "loads",
    "structure",
    "unstructure",
]

T = TypeVar("T")

#: Price models by the tag they are stored under; the tag is the class name, so it must
#: never change for a class once released.
_PRICE_MODELS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (Flat, PerUnit, Graduated, Volume, Package, Percentage, MinimumFee, PriceSchedule)
}


def _money_text(value: Money) -> str:
    return f"{value.amount} {value.currency.code}"


def _same(value: T, _: object) -> T:
    return value


def _itself(value: T) -> T:
    return value


@functools.cache
def _currency(code: str) -> Currency:
    return currency(code)


def _money(value: str, _: object) -> Money:
    amount, code = value.split(" ")
    return Money(Decimal(amount), _currency(code))


def _passing(cls: type[T], built: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    def structure(value: Any, hint: Any) -> T:
        return value if isinstance(value, cls) else built(value, hint)

    return structure


def _make_converter() -> cattrs.Converter:
    # Without detailed validation the generated functions are twice as fast; errors still
    # name the field through the classes' own validators.
    conv = cattrs.Converter(detailed_validation=False)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(v))
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    # A datetime is a date too: without hooks of its own it would lose its time.
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
    conv.register_unstructure_hook(Currency, lambda c: c.code)
    conv.register_structure_hook(Currency, lambda v, _: _currency(v))
    # cattrs' generic optional handling costs more than the plain values it passes on.
    for plain in (str, int):
        conv.register_structure_hook(plain | None, _same)
        conv.register_unstructure_hook(plain | None, _itself)
    conv.register_unstructure_hook(Money, _money_text)
    conv.register_structure_hook(Money, _money)

    def unstructure_price(model: object) -> dict[str, Any]:
        tag = type(model).__name__
        if _PRICE_MODELS.get(tag) is not type(model):
            raise StorageError(f"price: {model!r} is not a price model the store knows")
        return {"type": tag, **conv.unstructure(model, type(model))}

    def structure_price(value: dict[str, Any], _: object) -> Any:
        fields = dict(value)
        tag = fields.pop("type", None)
        if tag not in _PRICE_MODELS:
            raise StorageError(f"price: stored type {tag!r} is not a known price model")
        return conv.structure(fields, _PRICE_MODELS[tag])

    def structure_optional_price(value: dict[str, Any] | None, hint: object) -> Any:
        return None if value is None else structure_price(value, hint)

    # Snapshots a caller has already built (a store's shared seller) pass through.
    conv.register_structure_hook(Company, _passing(Company, make_dict_structure_fn(Company, conv)))

    for hint in (Pricing, PriceModel):
        conv.register_unstructure_hook(hint, unstructure_price)
        conv.register_structure_hook(hint, structure_price)
    conv.register_structure_hook(Pricing | None, structure_optional_price)
    conv.register_unstructure_hook(
        Pricing | None, lambda model: None if model is None else unstructure_price(model)
    )
    _line_hooks(conv)
    conv.register_structure_hook_factory(
        lambda hint: isinstance(hint, type) and issubclass(hint, enum.Enum), _enum_hook
    )
    for shared in (PaymentTerms, BillingPeriod):
        conv.register_structure_hook(shared, _shared(shared, make_dict_structure_fn(shared, conv)))
    # Last: the hooks of their fields are looked up once, here.
    conv.register_structure_hook(Address, _trusted_hook(conv, Address))
    conv.register_structure_hook(Account, _trusted_hook(conv, Account))
    conv.register_structure_hook(Item, _shared(Item, _trusted_hook(conv, Item, Item._derive)))
    conv.register_structure_hook(
        Subscription, _trusted_hook(conv, Subscription, Subscription._derive)
    )
    return conv


def _enum_hook(cls: type[enum.Enum]) -> Callable[[Any, Any], enum.Enum]:
    """A member by its value: a dictionary lookup instead of calling the enum (its error
    for an unknown value)."""
    members = cls._value2member_map_

    def structure(value: Any, _: object) -> enum.Enum:
        member = members.get(value)
        return cls(value) if member is None else member

    return structure


#: Field types whose JSON value is the value itself.
_PLAIN = (str, int, bool)


def _field_hook(conv: cattrs.Converter, hint: Any) -> Callable[[Any, Any], Any] | None:
    """The structure hook of a non-optional field type (``None`` for a plain one), with
    tuples of one type handled without cattrs' dispatch per value."""
    if hint in _PLAIN:
        return None
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        each = args[0]
        member = _field_hook(conv, each) or _same

        def members(value: Any, _: object) -> tuple[Any, ...]:
            return tuple([member(v, each) for v in value])

        return members
    return conv.get_structure_hook(hint)


def _one(name: str) -> Callable[[Any], tuple[Any]]:
    def get(value: Any) -> tuple[Any]:
        return (value[name],)

    return get


def _trusted_hook(
    conv: cattrs.Converter, cls: type[T], derive: Callable[[T], None] | None = None
) -> Callable[[Any, Any], T]:
    """*cls* from stored data without its validators (:mod:`juston.model._trusted`).

    Only what was written through the codec, from a value its constructor had checked,
    reaches this hook, so the checks are not repeated: each field is made from its JSON
    (nested values likewise) and set as it is; *derive* computes the class's own fields.
    Data that does not read this way (a row written before a field existed, a value of
    the wrong type) goes through the constructor instead, with its defaults and errors.
    Built values pass through.
    """
    build = trusted(cls, derive)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in attrs.fields(cls) if f.init]  # type: ignore[arg-type]
    get: Callable[[Any], Any] = operator.itemgetter(*names)
    if len(names) == 1:  # itemgetter of one name gives the value, not a tuple of one
        get = _one(names[0])
    # By position: the fields whose JSON must be turned into their value, and those that
    # may be None (null) and are turned into their value otherwise.
    required: list[tuple[int, Callable[[Any, Any], Any], Any]] = []
    optional: list[tuple[int, Callable[[Any, Any], Any], Any]] = []
    for n, name in enumerate(names):
        hint = hints[name]
        args = typing.get_args(hint)
        nullable = type(None) in args and len(args) == 2
        if nullable:
            hint = next(a for a in args if a is not type(None))
        hook = _field_hook(conv, hint)
        if hook is not None:
            (optional if nullable else required).append((n, hook, hint))
    checked = make_dict_structure_fn(cls, conv)

    def structure(value: Any, hint: Any) -> T:
        if isinstance(value, cls):
            return value
        try:
            raw = list(get(value))
            for n, hook, kind in required:
                raw[n] = hook(raw[n], kind)
            for n, hook, kind in optional:
                if raw[n] is not None:
                    raw[n] = hook(raw[n], kind)
            return build(*raw)
        except Exception:
            return checked(value, hint)

    return structure


_TERMS = tuple[Term, ...]


def _line_hooks(conv: cattrs.Converter) -> None:
    """Lines are stored flat, each with its terms whole, as before they shared contents."""
    unstructure_content = conv.get_unstructure_hook(LineContent)

    def unstructure_line(line: Line) -> dict[str, Any]:
        data: dict[str, Any] = unstructure_content(line.content)
        del data["period_start"], data["term_parts"]
        data["source_key"] = line.source_key
        data["subscription"] = line.subscription
        data["item_id"] = line.item_id
        data["terms"] = conv.unstructure(line.terms, _TERMS)
        return data

    def structure_line(value: dict[str, Any], _: object) -> Line:
        data = dict(value)
        del data["source_key"]  # derived from the rest
        data["terms"] = conv.structure(data["terms"], _TERMS)
        if data["period"] is not None:
            data["period"] = conv.structure(data["period"], Period)
        data["vat"] = conv.structure(data["vat"], TaxResult)
        for name in _DECIMALS:
            data[name] = Decimal(data[name])
        data["currency"] = _currency(data["currency"])
        return Line.build(**data)

    conv.register_unstructure_hook(Line, unstructure_line)
    conv.register_structure_hook(Line, structure_line)


_DECIMALS = (
    "quantity",
    "unit_price_amount",
    "billing_factor",
    "discount_amount",
    "net_amount",
    "tax_amount",
)


#: Distinct values kept per class by :func:`_shared` (cleared when full).
SHARED_CACHE = 4096


def _shared(cls: type[T], built: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    """*cls* structured once per distinct stored form.

    Most subscriptions are made from a small price book, so most stored items are the
    same JSON (their ids are per subscription, not global), and a few payment terms and
    billing periods serve every account: reading one costs up to tens of microseconds,
    looking its JSON up costs one. The values are frozen, so their owners can share
    them. Built values pass through.
    """
    cache: dict[bytes, T] = {}

    def structure(value: Any, hint: Any) -> T:
        if isinstance(value, cls):
            return value
        key = orjson.dumps(value)
        found = cache.get(key)
        if found is None:
            found = built(value, hint)
            if len(cache) >= SHARED_CACHE:
                cache.clear()
            cache[key] = found
        return found

    return structure


_CONVERTER = _make_converter()


def unstructure(obj: object, cls: type[Any] | None = None) -> Any:
    """*obj* as plain JSON-ready data (dicts, lists, strings, numbers)."""
    return _CONVERTER.unstructure(obj, cls or type(obj))


def structure(data: Any, cls: type[T]) -> T:
    """Rebuild a *cls* from :func:`unstructure` output; bad data raises :class:`StorageError`."""
    try:
        return _CONVERTER.structure(data, cls)
    except StorageError:
        raise
    except Exception as exc:  # cattrs wraps validator errors in exception groups
        reasons = "; ".join(cattrs.transform_error(exc)) if isinstance(exc, ExceptionGroup) else exc
        raise StorageError(f"stored {cls.__name__}: cannot be read back ({reasons})") from exc


def dumps(obj: object, cls: type[Any] | None = None) -> str:
    """*obj* as compact JSON text."""
    return orjson.dumps(unstructure(obj, cls)).decode()


def loads(text: str, cls: type[T]) -> T:
    """The *cls* that :func:`dumps` wrote as *text*."""
    return structure(orjson.loads(text), cls)


def dumps_balance(balance: Balance) -> str:
    """``dumps(balance, Balance)``, the same text, several times faster: finalizing books
    a balance per document.

        >>> from datetime import date
        >>> from juston import money
        >>> from juston.model.receivables import BalanceType
        >>> balance = Balance(id="invoice:D1", account_id="C-1", document_id="D1",
        ...                   type=BalanceType.INVOICE, amount=money("119.00", "EUR"),
        ...                   date=date(2026, 2, 1), cause="INV-1")
        >>> dumps_balance(balance) == dumps(balance, Balance)
        True
    """
    return orjson.dumps(
        {
            "id": balance.id,
            "account_id": balance.account_id,
            "document_id": balance.document_id,
            "type": balance.type.value,
            "amount": _money_text(balance.amount),
            "date": balance.date.isoformat(),
            "cause": balance.cause,
            "pair": balance.pair,
            "note": balance.note,
        }
    ).decode()


def dumps_usage_record(record: UsageRecord) -> str:
    """``dumps(record, UsageRecord)``, the same text, several times faster: usage records
    come by the million.

        >>> from datetime import datetime, timezone
        >>> record = UsageRecord(id="r-1", item="S-1/api", quantity="1.50",
        ...                      timestamp=datetime(2026, 3, 2, 9, 14, tzinfo=timezone.utc))
        >>> dumps_usage_record(record) == dumps(record, UsageRecord)
        True
    """
    price = record.unit_price
    return orjson.dumps(
        {
            "id": record.id,
            "item": record.item,
            "timestamp": record.timestamp.isoformat(),
            "quantity": str(record.quantity),
            "unit_price": None if price is None else _money_text(price),
            "criterion": record.criterion,
            "invoice_criterion": record.invoice_criterion,
            "properties": record.properties,
        }
    ).decode()
