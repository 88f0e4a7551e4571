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

import functools
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
_FIELD = re.compile(r"\[(Year|Month|Day|AccountNo)\]|\{(0+)\}")


class Reset(Enum):
    """When a counter starts again (France forbids monthly and daily resets)."""

    NEVER = "never"
    YEARLY = "yearly"
    MONTHLY = "monthly"


@functools.lru_cache(maxsize=4096)
def _template(pattern: str, day: date) -> str:
    """*pattern* on *day* as a ``str.format`` template with fields for the account number
    and the sequence, worked out once per day: finalizing formats a number per document."""
    dated = {"Year": f"{day.year:04d}", "Month": f"{day.month:02d}", "Day": f"{day.day:02d}"}
    parts = []
    position = 0
    for match in _FIELD.finditer(pattern):
        parts.append(_escape(pattern[position : match.start()]))
        name, mask = match.groups()
        if name == "AccountNo":
            parts.append("{AccountNo}")
        elif name:
            parts.append(dated[name])
        else:
            parts.append(f"{{sequence:0{len(mask)}d}}")
        position = match.end()
    parts.append(_escape(pattern[position:]))
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


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
        """The number for *sequence* on *day*.

        >>> Counter(series="x", pattern="INV-[Year]/[AccountNo]-{0000}").format(
        ...     7, date(2026, 3, 5), account_id="C-9")
        'INV-2026/C-9-0007'
        """
        return _template(self.pattern, day).format(AccountNo=account_id, sequence=sequence)


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
