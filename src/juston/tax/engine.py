"""The built-in tax engine: ordered rules matched on seller, buyer, product and date.

Each line's tax is decided by the first rule that matches (see :func:`default_rules`):

========================  =========================================================
situation                 result
========================  =========================================================
exempt class              E, 0 %, with the exemption reason (VATEX code and text)
zero class                Z, 0 %
buyer outside the EU      goods: G (export), services: O (not subject to EU VAT)
EU business, other state  goods: K (intra-community supply), services: AE (reverse
                          charge, buyer's VAT id); both with their legal notice
EU consumer, other state  digital services and goods: the buyer country's rate (OSS);
                          other services: the seller country's rate
same country              S at the seller country's standard or reduced rate
========================  =========================================================

A rule's validity is compared with the line's service period: the run splits a prorated
line where a rule or a rate changes, and otherwise takes the rate of the last day served.

    >>> from juston.testing import sample_company
    >>> from juston import Account, Address, Product
    >>> buyer = Account(id="C-1", name="Client SARL", currency="EUR", vat_id="FR40303265045",
    ...     billing_address=Address(street="1 rue X", postcode="75001", city="Paris", country="FR"))
    >>> result = TaxEngine.default().resolve(company=sample_company(), account=buyer,
    ...     product=Product(code="P", name="Consulting"), day=date(2026, 3, 1))
    >>> result.category, result.rate, result.exemption_code
    ('AE', Decimal('0'), 'VATEX-EU-AE')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import attrs

from .._enum import Enum
from ..errors import TaxError, ValidationError
from ..model.catalog import Product, Supply
from ..model.parties import Account, Company
from .rates import KINDS, RateTable
from .result import CATEGORIES, TaxResult

__all__ = ["EU", "Region", "TaxContext", "TaxEngine", "TaxRule", "default_rules"]

#: EU member states (ISO 3166 alpha-2; Greece is GR).
EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
ZERO_RATE = Decimal(0)


class Region(Enum):
    """Where the buyer is, seen from the seller."""

    DOMESTIC = "domestic"
    EU = "eu"
    NON_EU = "non_eu"


@attrs.frozen(cache_hash=True)
class TaxContext:
    """What a tax decision depends on, taken from the seller, buyer and product of a line."""

    seller: str
    seller_country: str
    buyer_country: str
    business: bool
    tax_class: str
    supply: Supply

    @classmethod
    def of(cls, company: Company, account: Account, product: Product) -> TaxContext:
        # Goods go where they are shipped; services to where the buyer is billed.
        address = account.shipping_address if product.supply is Supply.GOODS else None
        return cls(
            seller=company.id,
            seller_country=company.address.country,
            buyer_country=(address or account.billing_address).country,
            business=account.vat_id is not None,
            tax_class=product.tax_class,
            supply=product.supply,
        )

    @property
    def region(self) -> Region:
        if self.buyer_country == self.seller_country:
            return Region.DOMESTIC
        return Region.EU if self.buyer_country in EU else Region.NON_EU

    def describe(self) -> str:
        who = "business" if self.business else "consumer"
        return (
            f"seller {self.seller_country}, {who} in {self.buyer_country} "
            f"({self.region.value}), {self.supply.value}, class {self.tax_class}"
        )


def _frozenset(value: Iterable[Any] | None) -> frozenset[Any] | None:
    return None if value is None else frozenset(value)


def _regions(value: Iterable[Any] | None) -> frozenset[Region] | None:
    return None if value is None else frozenset(Region(v) for v in value)


def _supplies(value: Iterable[Any] | None) -> frozenset[Supply] | None:
    return None if value is None else frozenset(Supply(v) for v in value)


def _check_category(instance: TaxRule, field: attrs.Attribute[Any], value: str) -> None:
    if value not in CATEGORIES:
        raise ValidationError(
            field.name, value, f"is not an EN 16931 VAT category {sorted(CATEGORIES)}"
        )


@attrs.frozen(kw_only=True, cache_hash=True)
class TaxRule:
    """A rule: when it matches (``None`` matches anything) and what it decides.

    The rate is either *rate_kind* looked up in the rate table for the seller's or the
    buyer's country (*rate_country*), or a fixed *rate*. Validity ``[valid_from,
    valid_to)`` is compared with the service day.
    """

    name: str
    category: str = attrs.field(validator=_check_category)
    rate_kind: str | None = None
    rate_country: str = "seller"
    rate: Decimal = ZERO_RATE
    sellers: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    regions: frozenset[Region] | None = attrs.field(default=None, converter=_regions)
    business: bool | None = None
    tax_classes: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    supplies: frozenset[Supply] | None = attrs.field(default=None, converter=_supplies)
    valid_from: date | None = None
    valid_to: date | None = None
    exemption_code: str | None = None
    exemption_reason: str | None = None
    notice: str | None = None
    why: str = ""

    def __attrs_post_init__(self) -> None:
        if self.rate_kind is not None and self.rate_kind not in KINDS:
            raise ValidationError("rate_kind", self.rate_kind, f"is not one of {sorted(KINDS)}")
        if self.rate_country not in ("seller", "buyer"):
            raise ValidationError("rate_country", self.rate_country, "must be 'seller' or 'buyer'")

    def matches(self, context: TaxContext) -> bool:
        """True when the rule applies to *context*, whatever the date."""
        return (
            (self.sellers is None or context.seller in self.sellers)
            and (self.regions is None or context.region in self.regions)
            and (self.business is None or context.business is self.business)
            and (self.tax_classes is None or context.tax_class in self.tax_classes)
            and (self.supplies is None or context.supply in self.supplies)
        )

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day < self.valid_to
        )


_NOT_EXEMPT = ("standard", "reduced", "reduced2", "super_reduced", "parking")


def default_rules() -> tuple[TaxRule, ...]:
    """The rules a seller in the EU needs out of the box, in the order they are tried."""
    return (
        TaxRule(
            name="exempt-medical",
            category="E",
            tax_classes={"exempt-medical"},
            exemption_code="VATEX-EU-132-1C",
            exemption_reason="Exempt from VAT: medical care (Art. 132(1)(c) Directive 2006/112/EC)",
            why="medical care is exempt",
        ),
        TaxRule(
            name="exempt",
            category="E",
            tax_classes={"exempt"},
            exemption_code="VATEX-EU-132",
            exemption_reason="Exempt from VAT (Art. 132 Directive 2006/112/EC)",
            why="the product's tax class is exempt",
        ),
        TaxRule(name="zero-rated", category="Z", tax_classes={"zero"}, why="zero-rated class"),
        TaxRule(
            name="export-goods",
            category="G",
            regions={"non_eu"},
            supplies={"goods"},
            exemption_code="VATEX-EU-G",
            exemption_reason="Export outside the EU",
            notice="Tax-free export delivery (Art. 146 Directive 2006/112/EC).",
            why="goods shipped outside the EU",
            tax_classes=_NOT_EXEMPT,
        ),
        TaxRule(
            name="non-eu-services",
            category="O",
            regions={"non_eu"},
            exemption_code="VATEX-EU-O",
            exemption_reason="Not subject to VAT",
            notice="Service not subject to VAT in the EU (place of supply outside the EU).",
            why="services to a buyer outside the EU are supplied where the buyer is",
            tax_classes=_NOT_EXEMPT,
        ),
        TaxRule(
            name="intra-community-goods",
            category="K",
            regions={"eu"},
            business=True,
            supplies={"goods"},
            exemption_code="VATEX-EU-IC",
            exemption_reason="Intra-community supply",
            notice="Tax-free intra-community supply (Art. 138 Directive 2006/112/EC).",
            why="goods to a business with a VAT id in another member state",
            tax_classes=_NOT_EXEMPT,
        ),
        TaxRule(
            name="reverse-charge",
            category="AE",
            regions={"eu"},
            business=True,
            exemption_code="VATEX-EU-AE",
            exemption_reason="Reverse charge",
            notice="Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC).",
            why="services to a business with a VAT id in another member state",
            tax_classes=_NOT_EXEMPT,
        ),
        TaxRule(
            name="oss",
            category="S",
            rate_country="buyer",
            regions={"eu"},
            business=False,
            supplies={"digital", "goods"},
            why="digital services and distance sales to consumers are taxed where the buyer is (OSS)",
            tax_classes=_NOT_EXEMPT,
        ),
        TaxRule(
            name="domestic",
            category="S",
            why="taxed where the seller is",
            tax_classes=_NOT_EXEMPT,
        ),
    )


def _rules(value: Iterable[TaxRule]) -> tuple[TaxRule, ...]:
    rules = tuple(value)
    for rule in rules:
        if not isinstance(rule, TaxRule):
            raise ValidationError("rules", rule, "is not a TaxRule")
    return rules


@attrs.frozen
class TaxEngine:
    """Rules tried in order, rates from a :class:`RateTable`; a :class:`TaxResolver`.

    Decisions are cached per engine: they depend only on what a :class:`TaxContext` holds
    and the day.
    """

    rules: tuple[TaxRule, ...] = attrs.field(converter=_rules)
    rates: RateTable = attrs.field(factory=RateTable.default)
    _decisions: dict[tuple[tuple[object, ...], date], TaxResult] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )
    _changes: dict[tuple[object, ...], tuple[date, ...]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )

    @classmethod
    def default(cls, rates: RateTable | None = None) -> TaxEngine:
        """The built-in rules over the shipped rates (or *rates*)."""
        return cls(default_rules(), RateTable.default() if rates is None else rates)

    def resolve(
        self, *, company: Company, account: Account, product: Product, day: date
    ) -> TaxResult:
        """The tax of *product* sold by *company* to *account* for a service on *day*."""
        key = (_key(company, account, product), day)
        result = self._decisions.get(key)
        if result is None:
            context = TaxContext.of(company, account, product)
            result = self._decisions[key] = self._decide(context, day)
        return result

    def account_key(self, *, company: Company, account: Account) -> tuple[object, ...]:
        """What the engine's decisions read of the seller and the buyer.

        Two accounts with equal keys get equal decisions for every product and day, so an
        invoice run lets them share taxed lines (a resolver without this method is asked
        line by line).

            >>> from juston.testing import sample_company, sample_store
            >>> a = next(sample_store(accounts=1).accounts())
            >>> b = attrs.evolve(a, id="C-2", name="Someone else")
            >>> engine, company = TaxEngine.default(), sample_company()
            >>> engine.account_key(company=company, account=a) == engine.account_key(
            ...     company=company, account=b)
            True
        """
        return _key(company, account, None)

    def changes(self, *, company: Company, account: Account, product: Product) -> tuple[date, ...]:
        """Every date on which the decision for this seller, buyer and product may change."""
        key = _key(company, account, product)
        found = self._changes.get(key)
        if found is None:
            context = TaxContext.of(company, account, product)
            days: set[date] = set()
            for rule in self.rules:
                if rule.matches(context):
                    days.update(d for d in (rule.valid_from, rule.valid_to) if d is not None)
                    kind = _kind(rule, context)
                    if kind is not None:
                        days.update(self.rates.changes(self._country(rule, context), kind))
            found = self._changes[key] = tuple(sorted(days))
        return found

    def _decide(self, context: TaxContext, day: date) -> TaxResult:
        for rule in self.rules:
            if rule.matches(context) and rule.valid_on(day):
                return self._result(rule, context, day)
        raise TaxError(f"tax: no rule matches {context.describe()} on {day}")

    def _result(self, rule: TaxRule, context: TaxContext, day: date) -> TaxResult:
        kind = _kind(rule, context)
        if kind is not None:
            country = self._country(rule, context)
            rate = self.rates.rate(country, kind, day)
            how = f"{country} {kind} rate"
        else:
            rate, how = rule.rate, f"{rule.category} at {rule.rate} %"
        return TaxResult(
            rate=rate,
            category=rule.category,
            rule=rule.name,
            exemption_code=rule.exemption_code,
            exemption_reason=rule.exemption_reason,
            notice=rule.notice,
            explanation=f"{context.describe()}: {rule.why or rule.name}, {how}",
        )

    @staticmethod
    def _country(rule: TaxRule, context: TaxContext) -> str:
        return context.buyer_country if rule.rate_country == "buyer" else context.seller_country


def _kind(rule: TaxRule, context: TaxContext) -> str | None:
    """The rate kind to look up: the rule's, else (for S, L, M) the product's tax class."""
    if rule.rate_kind is None and rule.category in ("S", "L", "M"):
        return context.tax_class if context.tax_class in KINDS else "standard"
    return rule.rate_kind


def _key(company: Company, account: Account, product: Product | None) -> tuple[object, ...]:
    """What :meth:`TaxContext.of` reads, as a cheap cache key (a run asks once per line)."""
    shipping = account.shipping_address
    return (
        company.id,
        company.address.country,
        account.billing_address.country,
        None if shipping is None else shipping.country,
        account.vat_id is not None,
        None if product is None else product.tax_class,
        None if product is None else product.supply,
    )
