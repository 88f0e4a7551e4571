"""VAT rates by country, kind and date, loaded from data files.

juston ships ``data/vat_rates.toml`` (every EU member state's rates in force, Germany's
history, each with its source). A user file adds rates or replaces shipped ones; an
entry replaces the shipped entry with the same country, kind and start date.

    >>> table = RateTable.default()
    >>> table.rate("DE", "standard", date(2020, 8, 1)), table.rate("DE", "standard", date(2026, 1, 1))
    (Decimal('16'), Decimal('19'))
    >>> table.changes("DE", "reduced")
    (datetime.date(2020, 7, 1), datetime.date(2021, 1, 1))
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from ..errors import TaxError, ValidationError

__all__ = ["KINDS", "Rate", "RateTable"]

#: The rate kinds a data file may name.
KINDS = frozenset({"standard", "reduced", "reduced2", "super_reduced", "parking"})


@attrs.frozen(kw_only=True)
class Rate:
    """One rate: *rate* percent of *kind* in *country* from *start* until *end* (exclusive)."""

    country: str
    kind: str
    rate: Decimal
    start: date
    end: date | None = None
    source: str = ""

    def applies_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


def _entry(raw: Mapping[str, Any], origin: str) -> Rate:
    where = f"{origin}: rate entry {dict(raw)!r}"
    try:
        country, kind, start = raw["country"], raw["kind"], raw["from"]
        value = raw["rate"]
    except KeyError as exc:
        raise ValidationError(exc.args[0], None, f"is missing in {where}") from None
    if not (isinstance(country, str) and len(country) == 2 and country.isupper()):
        raise ValidationError("country", country, f"is not an ISO alpha-2 code in {origin}")
    if kind not in KINDS:
        raise ValidationError("kind", kind, f"is not one of {sorted(KINDS)} in {origin}")
    if not isinstance(value, str):
        raise ValidationError("rate", value, f"must be a string such as '19' in {origin}")
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise ValidationError("rate", value, f"is not a number in {origin}") from None
    end = raw.get("to")
    if not isinstance(start, date) or (end is not None and not isinstance(end, date)):
        raise ValidationError("from", start, f"from/to must be dates in {where}")
    if end is not None and end <= start:
        raise ValidationError("to", end, f"must be after from={start} in {origin}")
    return Rate(
        country=country, kind=kind, rate=rate, start=start, end=end, source=raw.get("source", "")
    )


@attrs.frozen
class RateTable:
    """Rates indexed by (country, kind), each list sorted by start date."""

    rates: Mapping[tuple[str, str], tuple[Rate, ...]]
    version: str = ""

    @classmethod
    def from_rates(cls, rates: Iterable[Rate], version: str = "") -> RateTable:
        by_key: dict[tuple[str, str], dict[date, Rate]] = {}
        for rate in rates:
            by_key.setdefault((rate.country, rate.kind), {})[rate.start] = rate
        return cls(
            {
                key: tuple(sorted(entries.values(), key=lambda r: r.start))
                for key, entries in by_key.items()
            },
            version,
        )

    @classmethod
    def default(cls) -> RateTable:
        """The rates shipped with juston."""
        return _shipped()

    @classmethod
    def load(cls, path: str | Path, base: RateTable | None = None) -> RateTable:
        """Read a rate file; its entries add to or replace those of *base* (default: shipped)."""
        with open(path, "rb") as handle:
            return cls.parse(
                tomllib.load(handle), str(path), base=cls.default() if base is None else base
            )

    @classmethod
    def parse(
        cls, data: Mapping[str, Any], origin: str, base: RateTable | None = None
    ) -> RateTable:
        """Build a table from parsed TOML (``version`` and a ``rate`` array), over *base*."""
        entries = [_entry(raw, origin) for raw in data.get("rate", [])]
        old = [r for rates in base.rates.values() for r in rates] if base is not None else []
        return cls.from_rates(
            [*old, *entries], str(data.get("version", base.version if base else ""))
        )

    def rate(self, country: str, kind: str, day: date) -> Decimal:
        """The rate of *kind* in *country* on *day*; :class:`TaxError` if the data has none."""
        for entry in self.rates.get((country, kind), ()):
            if entry.applies_on(day):
                return entry.rate
        raise TaxError(f"rates: no {kind} VAT rate for {country} on {day} in the rate data")

    def changes(self, country: str, kind: str) -> tuple[date, ...]:
        """The dates on which the rate of *kind* in *country* changes."""
        entries = self.rates.get((country, kind), ())
        days = {e.start for e in entries[1:]} | {e.end for e in entries if e.end is not None}
        return tuple(sorted(days))


@functools.cache
def _shipped() -> RateTable:
    text = resources.files("juston.tax").joinpath("data/vat_rates.toml").read_text("utf-8")
    return RateTable.parse(tomllib.loads(text), "juston/tax/data/vat_rates.toml")
