"""Dunning: levels, the configuration of a ladder, dunning documents and blocks.

A :class:`DunningLevel` says when an invoice reaches it (days overdue ≥ its grace
period, and the invoice's current level is lower), what the customer is given (days to
pay, a fixed fee that is never taxed, late-fee interest), which template the notice uses,
and whether it is sent or handed over to collection. :class:`DunningConfig` orders the
levels and adds the minimum amount and the interest method.

    >>> from juston import money
    >>> config = DunningConfig.default("EUR")
    >>> [(lv.number, lv.name, lv.grace_days, lv.fee) for lv in config.levels]  # doctest: +NORMALIZE_WHITESPACE
    [(1, 'reminder', 30, Money('0.00', 'EUR')), (2, '1st notice', 60, Money('5.00', 'EUR')),
     (3, '2nd notice', 90, Money('10.00', 'EUR'))]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
from moneyed import Money

from .._enum import Enum
from .._fields import as_decimal, as_money, check_date, check_optional_date, check_text
from ..errors import ValidationError
from ..money import currency
from .parties import Account, Company

__all__ = [
    "BASE_RATES",
    "BaseRate",
    "Dunning",
    "DunningBlock",
    "DunningConfig",
    "DunningDetail",
    "DunningLevel",
    "DunningStatus",
    "InterestMethod",
]


class InterestMethod(Enum):
    """How late-fee interest is computed."""

    #: JustOn: open amount × the level's monthly rate × whole months since the due date.
    MONTHLY = "monthly"
    #: German statutory default interest (§ 288 BGB): base rate + 5 points (consumers) or
    #: + 9 points (businesses) a year, per day over the actual days (days / 365).
    STATUTORY = "statutory"


def _fee(value: object) -> Money:
    fee = as_money(value, "fee")
    if fee.amount < 0:
        raise ValidationError("fee", fee, "must not be negative")
    return fee


def _rate(value: object) -> Decimal:
    rate = as_decimal(value, "monthly_rate")
    if rate < 0:
        raise ValidationError("monthly_rate", rate, "must not be negative")
    return rate


def _non_negative(instance: object, field: attrs.Attribute[Any], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(field.name, value, "must be a whole number ≥ 0")


@attrs.frozen(kw_only=True)
class DunningLevel:
    """One step of a ladder; *number* 1 is the first."""

    number: int = attrs.field(validator=_non_negative)
    name: str = attrs.field(validator=check_text)
    #: Days after the due date before an invoice reaches this level.
    grace_days: int = attrs.field(validator=_non_negative)
    fee: Money = attrs.field(converter=_fee)
    #: Days the notice gives to pay (its due date is the dunning date + this).
    days_to_pay: int = attrs.field(default=0, validator=_non_negative)
    #: Late-fee interest in percent a month (MONTHLY method); 0 for none.
    monthly_rate: Decimal = attrs.field(default=Decimal(0), converter=_rate)
    #: The template kind of its notice (``dunning-1`` …); default ``dunning-<number>``.
    template: str | None = None
    #: Made and booked, but not sent (no notice is rendered).
    do_not_send: bool = False
    #: The account is handed over to a collection agency at this level.
    collection: bool = False

    @property
    def kind(self) -> str:
        return self.template or f"dunning-{min(self.number, 3)}"


def _levels(value: Iterable[DunningLevel]) -> tuple[DunningLevel, ...]:
    levels = tuple(value)
    if not levels:
        raise ValidationError("levels", levels, "needs at least one level")
    numbers = [lv.number for lv in levels]
    if numbers != list(range(1, len(levels) + 1)):
        raise ValidationError("levels", numbers, "must be numbered 1, 2, 3 … in order")
    graces = [lv.grace_days for lv in levels]
    if graces != sorted(graces) or len(set(graces)) != len(graces):
        raise ValidationError("levels", graces, "must have strictly increasing grace periods")
    if len({lv.fee.currency for lv in levels}) != 1:
        raise ValidationError("levels", levels, "must all charge fees in one currency")
    return levels


def _percent(value: object) -> Decimal:
    return as_decimal(value, "percent")


def _minimum(value: object) -> Decimal:
    return as_decimal(value, "minimum")


@attrs.frozen(kw_only=True)
class BaseRate:
    """The German base rate (Basiszinssatz, § 247 BGB) in percent from *since* on."""

    since: date = attrs.field(validator=check_date)
    percent: Decimal = attrs.field(converter=_percent)


#: Published by the Deutsche Bundesbank (changes on 1 January and 1 July). A period after
#: the last entry's half year is unknown: pass newer rates as ``DunningConfig.base_rates``.
BASE_RATES: tuple[BaseRate, ...] = (
    BaseRate(since=date(2023, 1, 1), percent=Decimal("1.62")),
    BaseRate(since=date(2023, 7, 1), percent=Decimal("3.12")),
    BaseRate(since=date(2024, 1, 1), percent=Decimal("3.62")),
    BaseRate(since=date(2024, 7, 1), percent=Decimal("3.37")),
    BaseRate(since=date(2025, 1, 1), percent=Decimal("2.27")),
    BaseRate(since=date(2025, 7, 1), percent=Decimal("1.27")),
    BaseRate(since=date(2026, 1, 1), percent=Decimal("1.27")),
)


def _base_rates(value: Iterable[BaseRate]) -> tuple[BaseRate, ...]:
    rates = tuple(value)
    days = [r.since for r in rates]
    if days != sorted(days) or len(set(days)) != len(days):
        raise ValidationError("base_rates", days, "must have strictly increasing dates")
    return rates


@attrs.frozen(kw_only=True)
class DunningConfig:
    """A dunning ladder and its rules; :meth:`default` is JustOn's example."""

    levels: tuple[DunningLevel, ...] = attrs.field(converter=_levels)
    #: Below this net overdue amount an account is not dunned (in the fees' currency;
    #: accounts in other currencies are compared by amount).
    minimum: Decimal = attrs.field(default=Decimal(0), converter=_minimum)
    interest: InterestMethod = attrs.field(default=InterestMethod.MONTHLY, converter=InterestMethod)
    #: STATUTORY only: the € 40 flat fee between businesses (§ 288 (5) BGB), once per invoice.
    flat_fee: bool = False
    base_rates: tuple[BaseRate, ...] = attrs.field(default=BASE_RATES, converter=_base_rates)

    @classmethod
    def default(cls, code: str = "EUR") -> DunningConfig:
        """Reminder after 30 days, 1st notice after 60 (fee 5.00), 2nd after 90 (10.00)."""
        unit = currency(code)
        return cls(
            levels=(
                DunningLevel(number=1, name="reminder", grace_days=30, fee=Money("0.00", unit), days_to_pay=7),
                DunningLevel(number=2, name="1st notice", grace_days=60, fee=Money("5.00", unit), days_to_pay=7),
                DunningLevel(number=3, name="2nd notice", grace_days=90, fee=Money("10.00", unit), days_to_pay=7),
            )
        )  # fmt: skip

    def level(self, number: int) -> DunningLevel:
        return self.levels[number - 1]


class DunningStatus(Enum):
    """Draft (recomputed by each run), Closed (numbered, booked: legally effective),
    Cancelled (its bookings reversed)."""

    DRAFT = "draft"
    CLOSED = "closed"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class DunningDetail:
    """One invoice of a dunning: what of it is overdue, since when, at which level."""

    document_id: str
    number: str
    invoice_date: date
    due_date: date
    #: The invoice's whole open amount (incl. earlier fees and interest on it).
    open: Money
    #: What of it is overdue: the due installments of a plan, plus fees and interest of
    #: earlier dunnings still open.
    overdue: Money
    days_overdue: int
    #: The level it had from earlier dunnings (0: none) and the one it has with this one.
    previous_level: int
    level: int
    #: Late-fee interest added by this dunning.
    interest: Money
    #: The € 40 flat fee added by this dunning (STATUTORY, businesses, once per invoice).
    flat_fee: Money

    @property
    def escalated(self) -> bool:
        return self.level > self.previous_level


@attrs.frozen(kw_only=True)
class Dunning:
    """A dunning of one account: a detail per overdue invoice, the fee, the interest.

    Amounts never carry tax: a dunning fee and interest are not a supply. *credits* is
    what the account has to its good (open credits, money on the account, as a negative
    amount), taken off the total.
    """

    id: str | None
    account: Account
    company: Company
    status: DunningStatus
    number: str | None
    dunning_date: date
    due_date: date
    level: int
    details: tuple[DunningDetail, ...]
    fee: Money
    credits: Money
    do_not_send: bool = False
    collection: bool = False
    kind: str = "dunning-1"
    #: The document the fee is booked on (the oldest invoice that reached a new level).
    fee_document_id: str | None = None
    cancelled_on: date | None = attrs.field(default=None, validator=check_optional_date)

    @property
    def account_id(self) -> str:
        return self.account.id

    @property
    def currency(self) -> Any:
        return self.fee.currency

    @property
    def interest(self) -> Money:
        return sum((d.interest for d in self.details), self.fee - self.fee)

    @property
    def flat_fees(self) -> Money:
        return sum((d.flat_fee for d in self.details), self.fee - self.fee)

    @property
    def overdue(self) -> Money:
        return sum((d.overdue for d in self.details), self.fee - self.fee)

    @property
    def total(self) -> Money:
        """What the customer is asked to pay now: overdue + fee + interest + flat fees −
        credits on the account."""
        return self.overdue + self.fee + self.interest + self.flat_fees + self.credits


@attrs.frozen(kw_only=True)
class DunningBlock:
    """No dunning for an account or one invoice (disputed), until a date or for good."""

    #: ``account:<id>`` or ``document:<id>``.
    key: str = attrs.field(validator=check_text)
    reason: str = attrs.field(validator=check_text)
    until: date | None = attrs.field(default=None, validator=check_optional_date)

    def active_on(self, day: date) -> bool:
        return self.until is None or day < self.until
