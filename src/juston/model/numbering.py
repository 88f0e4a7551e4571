"""Document numbers: counters with patterns, resets and one sequence per company and kind.

A pattern holds placeholders ``[Year]``, ``[Month]``, ``[Day]``, ``[AccountNo]`` and one
zero-padded sequence mask such as ``{00000}``. ``start=N`` makes the first number N+1
(after every reset too). Numbers are drawn only when a document is finalized, inside the
transaction that stores it, so they are gapless and unique within a counter.

    >>> from datetime import date
    >>> c = Counter(series="invoice", pattern="INV-[Year]-{00000}")
    >>> c.format(42, date(2026, 3, 1), account_id="C-7")
    'INV-2026-00042'
    >>> c.bucket(date(2026, 3, 1))
    '2026'
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import attrs

from .._enum import Enum
from .._fields import check_text
from ..errors import ValidationError
from .status import DocumentKind

__all__ = ["Counter", "Numbering", "Reset"]

_MASK = re.compile(r"\{(0+)\}")
_PLACEHOLDER = re.compile(r"\[(Year|Month|Day|AccountNo)\]")


class Reset(Enum):
    """When a counter starts again (France forbids monthly and daily resets)."""

    NEVER = "never"
    YEARLY = "yearly"
    MONTHLY = "monthly"


def _check_pattern(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or len(_MASK.findall(value)) != 1:
        raise ValidationError(field.name, value, "needs exactly one sequence mask such as {00000}")
    unknown = re.findall(r"\[([^\]]*)\]", value)
    for name in unknown:
        if name not in ("Year", "Month", "Day", "AccountNo"):
            raise ValidationError(field.name, value, f"has an unknown placeholder [{name}]")


def _check_start(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(field.name, value, "must be a whole number ≥ 0")


@attrs.frozen(kw_only=True)
class Counter:
    """A number series: pattern, reset rule and start count."""

    series: str = attrs.field(validator=check_text)
    pattern: str = attrs.field(default="[Year]-{00000}", validator=_check_pattern)
    reset: Reset = attrs.field(default=Reset.YEARLY, converter=Reset)
    start: int = attrs.field(default=0, validator=_check_start)

    def bucket(self, day: date) -> str:
        """The part of the sequence key that changes with each reset."""
        if self.reset is Reset.YEARLY:
            return f"{day.year:04d}"
        if self.reset is Reset.MONTHLY:
            return f"{day.year:04d}-{day.month:02d}"
        return ""

    def format(self, sequence: int, day: date, *, account_id: str) -> str:
        """The number for *sequence* on *day*."""
        values = {
            "Year": f"{day.year:04d}",
            "Month": f"{day.month:02d}",
            "Day": f"{day.day:02d}",
            "AccountNo": account_id,
        }
        text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.pattern)
        return _MASK.sub(lambda m: f"{sequence:0{len(m.group(1))}d}", text)


@attrs.frozen(kw_only=True)
class Numbering:
    """The counters of a company per document kind; cancellations share the credit series."""

    invoice: Counter = Counter(series="invoice", pattern="INV-[Year]-{00000}")
    credit: Counter = Counter(series="credit", pattern="CR-[Year]-{00000}")
    cancellation: Counter | None = None

    def counter_for(self, kind: DocumentKind) -> Counter:
        if kind is DocumentKind.INVOICE:
            return self.invoice
        if kind is DocumentKind.CANCELLATION and self.cancellation is not None:
            return self.cancellation
        return self.credit
