"""Receivables: balances, payment entries, imported files, installment plans.

A :class:`Balance` is one dated movement of what an account owes, on one document or
(with ``document_id=None``) on the account itself. Balances are only ever added, never
changed: a document's open amount, its paid state and an account's balance at any date
are sums over them (``juston.receivables.ledger``).

Sign convention (JustOn): positive means the customer owes more (an invoice, a
chargeback, a refund or payout sent to the customer); negative means money in or value
given (a payment, a credit, a write-off).

    >>> from datetime import date
    >>> from juston import money
    >>> Balance(id="pay:E1:0", account_id="C-1", document_id="D1", type=BalanceType.PAYMENT,
    ...         amount=money("-119.00", "EUR"), date=date(2026, 2, 3)).amount
    Money('-119.00', 'EUR')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import attrs
from moneyed import Money

from .._enum import Enum
from .._fields import (
    as_money,
    as_optional_money,
    check_date,
    check_optional_date,
    check_optional_text,
    check_text,
)
from ..errors import ValidationError
from ..rounding import minor_digits

__all__ = [
    "Balance",
    "BalanceType",
    "EntryStatus",
    "ImportedFile",
    "Installment",
    "InstallmentPlan",
    "OpenAmount",
    "PaymentEntry",
]


class BalanceType(Enum):
    """What a balance records (JustOn's balance types)."""

    #: A finalized document's total (a credit's is negative).
    INVOICE = "invoice"
    #: Money received (negative); also a payment moved between a document and the account.
    PAYMENT = "payment"
    #: Zeroes a cancelled document and its cancellation.
    CLEARING = "clearing"
    #: A credit used against an invoice: a pair that sums to zero.
    SETTLEMENT = "settlement"
    #: An open amount given up (negative on an invoice).
    WRITE_OFF = "write_off"
    #: A payment the payer took back (a returned direct debit, a card dispute); reopens.
    CHARGEBACK = "chargeback"
    #: What the bank or provider charged for a chargeback, passed on to the customer.
    CHARGEBACK_FEE = "chargeback_fee"
    #: Money paid back to the customer for a payment (positive).
    REFUND = "refund"
    #: A credit or money on the account paid out to the customer (positive).
    PAYOUT = "payout"
    #: Money received before there is an invoice for it (negative, on the account).
    PREPAYMENT = "prepayment"
    #: A dunning's fee (and the € 40 flat fee), booked when the dunning is closed; untaxed.
    DUNNING_FEE = "dunning_fee"
    #: Late-fee interest a dunning charged on an invoice.
    INTEREST = "interest"


def _amount(value: object) -> Money:
    """Money at the currency's minor unit: the ledger adds amounts, it never rounds them."""
    amount = as_money(value, "amount")
    if amount.amount.as_tuple().exponent < -minor_digits(amount.currency.code):  # type: ignore[operator]
        raise ValidationError(
            "amount", amount, f"has more decimals than {amount.currency.code} has minor units"
        )
    return amount


@attrs.frozen(kw_only=True)
class Balance:
    """One movement of what an account owes; see the module docs for the sign.

    *id* is deterministic from its cause (``payment:<entry>:<n>``, ``invoice:<document>``
    …), so a cause applied twice is recognised. *pair* links the two halves of a move
    (money moved from a document to the account, a settlement).
    """

    id: str = attrs.field(validator=check_text)
    account_id: str = attrs.field(validator=check_text)
    document_id: str | None = attrs.field(validator=check_optional_text)
    type: BalanceType = attrs.field(converter=BalanceType)
    amount: Money = attrs.field(converter=_amount)
    date: date = attrs.field(validator=check_date)
    #: What caused it: a payment entry id, a provider event, a document id.
    cause: str | None = None
    pair: str | None = None
    note: str | None = None

    @property
    def is_free(self) -> bool:
        """Whether it sits on the account rather than on a document."""
        return self.document_id is None


@attrs.frozen
class OpenAmount:
    """A document whose balances do not sum to zero: what is open on it, the date of its
    first balance (its invoice date), by which "oldest first" orders, and its number
    (the cause of its invoice balance)."""

    document_id: str
    account_id: str
    amount: Money
    since: date
    number: str | None = None


class EntryStatus(Enum):
    """Where a payment entry is: waiting, assigned to documents/account, or set aside."""

    #: Registered, not matched yet, or matched to nothing: waits in the queue with a reason.
    OPEN = "open"
    #: Turned into payment balances (JustOn: Converted).
    ASSIGNED = "assigned"
    #: Set aside by hand; never matched.
    IGNORED = "ignored"


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _foreign_amount(value: object) -> Money | None:
    return as_optional_money(value, "foreign_amount")


def _check_iban_text(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(field.name, value, "must be an IBAN or None")


@attrs.frozen(kw_only=True)
class PaymentEntry:
    """A payment as the bank or provider reported it.

    *amount* is what came in (JustOn: credit − debit): positive for money received,
    negative for money that left (a returned direct debit, a bank charge).

        >>> from datetime import date
        >>> from juston import money
        >>> PaymentEntry(id="E1", amount=money("119.00", "EUR"), booking_date=date(2026, 2, 3),
        ...              reference="INV-2026-00001").status
        <EntryStatus.OPEN: 'open'>
    """

    id: str = attrs.field(validator=check_text)
    amount: Money = attrs.field(converter=_amount)
    booking_date: date = attrs.field(validator=check_date)
    reference: str = ""
    payer_name: str | None = None
    payer_iban: str | None = attrs.field(default=None, validator=_check_iban_text)
    #: How it was paid: ``bank_transfer``, ``sepa_direct_debit`` or a provider's name.
    method: str = "bank_transfer"
    value_date: date | None = attrs.field(default=None, validator=check_optional_date)
    mandate_reference: str | None = None
    end_to_end_id: str | None = None
    #: The bank's reason code when a direct debit came back (ISO 20022, e.g. ``MD06``).
    return_reason: str | None = None
    #: The amount in the currency the payer paid, when that differs.
    foreign_amount: Money | None = attrs.field(default=None, converter=_foreign_amount)
    #: The file or channel it came from.
    source: str | None = None
    status: EntryStatus = attrs.field(default=EntryStatus.OPEN, converter=EntryStatus)
    #: Why it waits in the queue (when open), or how it was matched (when assigned).
    reason: str | None = None
    #: The account it was assigned to.
    account_id: str | None = None
    #: The documents it paid, in order.
    document_ids: tuple[str, ...] = attrs.field(default=(), converter=_ids)

    @property
    def is_open(self) -> bool:
        return self.status is EntryStatus.OPEN


@attrs.frozen(kw_only=True)
class ImportedFile:
    """A bank file already imported: by its name and by a digest of its content."""

    name: str = attrs.field(validator=check_text)
    digest: str = attrs.field(validator=check_text)
    imported_on: date = attrs.field(validator=check_date)
    entries: int = 0


def _positive(value: object) -> Money:
    amount = as_money(value, "amount")
    if amount.amount <= 0:
        raise ValidationError("amount", amount, "must be greater than zero")
    return amount


@attrs.frozen(kw_only=True)
class Installment:
    """A part of a document's total that falls due on *due_date*."""

    due_date: date = attrs.field(validator=check_date)
    amount: Money = attrs.field(converter=_positive)


def _installments(value: Iterable[Installment]) -> tuple[Installment, ...]:
    return tuple(value)


def _check_installments(
    instance: InstallmentPlan, field: attrs.Attribute[Any], value: tuple[Installment, ...]
) -> None:
    if not value:
        raise ValidationError(field.name, value, "needs at least one installment")
    days = [i.due_date for i in value]
    if days != sorted(days) or len(set(days)) != len(days):
        raise ValidationError(field.name, days, "must have strictly increasing due dates")
    if len({i.amount.currency for i in value}) != 1:
        raise ValidationError(field.name, value, "must all be in one currency")


@attrs.frozen(kw_only=True)
class InstallmentPlan:
    """A document paid in parts: only the installments due are collected and dunned.

    Payments pay the earliest installments first.

        >>> from datetime import date
        >>> from juston import money
        >>> plan = InstallmentPlan(document_id="D1", installments=[
        ...     Installment(due_date=date(2026, 2, 1), amount=money(60, "EUR")),
        ...     Installment(due_date=date(2026, 3, 1), amount=money(59, "EUR"))])
        >>> plan.total
        Money('119', 'EUR')
    """

    document_id: str = attrs.field(validator=check_text)
    installments: tuple[Installment, ...] = attrs.field(
        converter=_installments, validator=_check_installments
    )

    @property
    def total(self) -> Money:
        total = self.installments[0].amount
        for installment in self.installments[1:]:
            total = total + installment.amount
        return total

    def due_by(self, day: date) -> Money:
        """The sum of the installments due on or before *day*."""
        first = self.installments[0].amount
        total = first - first
        for installment in self.installments:
            if installment.due_date <= day:
                total = total + installment.amount
        return total
