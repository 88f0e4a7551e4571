"""The EN 16931 rules checked in Python before any XML is built.

:func:`check` returns one finding per broken rule, each starting with the rule's id
(``BR-CO-10: …``); an empty tuple means the document may be issued. The renderers refuse a
document with findings (:class:`~juston.errors.EInvoiceError`), so no invalid XML leaves
juston. What is checked:

* the calculation rules BR-CO-10 … BR-CO-17 (exactly, no tolerance), the breakdown bases
  per category and rate (BR-S-08, BR-Z-08, BR-E-08, BR-AE-08, BR-IC-08, BR-G-08, BR-O-08),
  amounts with at most two decimals (BR-DEC-*);
* the document: a number (BR-02, so no drafts), at least one line (BR-16), one breakdown
  row (BR-CO-18), prices not negative (BR-27);
* each VAT category: its rate and tax, its exemption reason (required for E, AE, K, G, O;
  forbidden for S and Z), the VATEX code belonging to it (BR-CL-22), the VAT ids it needs
  (BR-S-02, BR-AE-02, BR-IC-02, BR-G-02 …), O alone (BR-O-11), the delivery period and
  country of K (BR-IC-11, BR-IC-12);
* the seller's identification (BR-CO-26), VAT id prefixes (BR-CO-09), electronic address
  schemes (BR-CL-25);
* what the profile adds: XRechnung's BR-DE-1 … -4, -6 … -11, -15, -16, -19, -20, -27, -28,
  -30, -31 and the electronic addresses; Peppol's R003, R010, R020, and for German sellers
  its national rules DE-R-001 … (the same as XRechnung's); both: the line arithmetic R120
  and a direct debit's mandate reference R061.

What only the Schematron can see (syntax rules, code lists beyond these) is left to it; the
tests run the CEN Schematron over the output.

    >>> from datetime import date
    >>> import attrs, juston
    >>> from .profiles import PROFILES
    >>> from .semantic import business_terms
    >>> store = juston.testing.sample_store(accounts=1)
    >>> (doc,) = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    >>> check(business_terms(doc), PROFILES["cii"])
    ()
    >>> check(business_terms(doc), PROFILES["xrechnung-cii"])[0]
    'BR-DE-15: the buyer reference BT-10 (Leitweg-ID) is missing: set Account.buyer_reference'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal

from stdnum import ean
from stdnum import iban as iban_check

from ...rounding import round_tax
from .codes import (
    EAS_CODES,
    EXEMPT_CATEGORIES,
    PAYMENT_SEPA_CREDIT_TRANSFER,
    PAYMENT_SEPA_DIRECT_DEBIT,
    VAT_CATEGORIES,
    VATEX_CODES,
    vatex_category,
)
from .profiles import Profile
from .semantic import BusinessTerms, Party

__all__ = ["check"]

ZERO = Decimal(0)
R120_TOLERANCE = Decimal("0.02")
#: The rule-id prefix of each category (K's rules are BR-IC-n).
_PREFIX = {
    "S": "S",
    "Z": "Z",
    "E": "E",
    "AE": "AE",
    "K": "IC",
    "G": "G",
    "O": "O",
    "L": "IG",
    "M": "IP",
}
_NAMES = {
    "S": "standard rated",
    "Z": "zero rated",
    "E": "exempt",
    "AE": "reverse charge",
    "K": "intra-community supply",
    "G": "export outside the EU",
    "O": "not subject to VAT",
    "L": "IGIC (Canary Islands)",
    "M": "IPSI (Ceuta and Melilla)",
}
#: XRechnung's XR-EMAIL-REGEX (BR-DE-28).
_EMAIL = re.compile(r"^[^@\s]+@([^@.\s]+\.)+[^@.\s]+$")
_VAT_PREFIX = re.compile(r"^[A-Z]{2}")


def _cents(value: Decimal) -> bool:
    """At most two decimals (BR-DEC-*)."""
    return value * 100 % 1 == 0


def _decimals(terms: BusinessTerms) -> Iterable[str]:
    t = terms.totals
    for rule, term, value in (
        ("BR-DEC-09", "BT-106", t.line_total),
        ("BR-DEC-12", "BT-109", t.tax_exclusive),
        ("BR-DEC-13", "BT-110", t.tax_total),
        ("BR-DEC-14", "BT-112", t.tax_inclusive),
        ("BR-DEC-18", "BT-115", t.payable),
    ):
        if not _cents(value):
            yield f"{rule}: {term} {value} has more than two decimals"
    for row in terms.vat:
        if not _cents(row.basis):
            yield f"BR-DEC-19: BT-116 {row.basis} of {row.category} has more than two decimals"
        if not _cents(row.tax):
            yield f"BR-DEC-20: BT-117 {row.tax} of {row.category} has more than two decimals"
    for ln in terms.lines:
        if not _cents(ln.net):
            yield f"BR-DEC-23: line {ln.id} net amount {ln.net} has more than two decimals"
        if not _cents(ln.allowance):
            yield f"BR-DEC-24: line {ln.id} discount {ln.allowance} has more than two decimals"


def _calculation(terms: BusinessTerms, currency: str) -> Iterable[str]:
    t = terms.totals
    lines = sum([ln.net for ln in terms.lines], ZERO)
    if lines != t.line_total:
        yield f"BR-CO-10: BT-106 {t.line_total} is not the sum of the line net amounts {lines}"
    # BR-CO-11, BR-CO-12: juston has no document allowances or charges (BT-107 = BT-108 = 0).
    if t.tax_exclusive != t.line_total:
        yield f"BR-CO-13: BT-109 {t.tax_exclusive} is not BT-106 {t.line_total}"
    taxes = sum([row.tax for row in terms.vat], ZERO)
    if taxes != t.tax_total:
        yield f"BR-CO-14: BT-110 {t.tax_total} is not the sum of the breakdown taxes {taxes}"
    if t.tax_inclusive != t.tax_exclusive + t.tax_total:
        yield (
            f"BR-CO-15: BT-112 {t.tax_inclusive} is not BT-109 {t.tax_exclusive} "
            f"+ BT-110 {t.tax_total}"
        )
    if t.payable != t.tax_inclusive:
        yield f"BR-CO-16: BT-115 {t.payable} is not BT-112 {t.tax_inclusive}"
    for row in terms.vat:
        expected = round_tax(row.basis, row.rate, currency)
        if row.tax != expected:
            yield (
                f"BR-CO-17: {row.category} {row.rate_text} %: tax {row.tax} is not "
                f"{row.basis} × {row.rate_text} % rounded ({expected})"
            )
    bases: dict[tuple[str, Decimal], Decimal] = {}
    for ln in terms.lines:
        key = (ln.category, ln.rate if ln.rate is not None else ZERO)
        bases[key] = bases.get(key, ZERO) + ln.net
    rows: dict[tuple[str, Decimal], Decimal] = {}
    for row in terms.vat:
        key = (row.category, row.rate)
        prefix = _PREFIX.get(row.category, row.category)
        if key in rows or (
            row.category not in ("S", "L", "M") and any(k[0] == row.category for k in rows)
        ):
            yield f"BR-{prefix}-08: the breakdown has more than one row for {row.category} {row.rate_text} %"
        rows[key] = row.basis
        if bases.get(key, ZERO) != row.basis:
            yield (
                f"BR-{prefix}-08: the {row.category} {row.rate_text} % basis {row.basis} is not "
                f"the sum of its lines {bases.get(key, ZERO)}"
            )
    for key in bases.keys() - rows.keys():
        prefix = _PREFIX.get(key[0], key[0])
        yield f"BR-{prefix}-01: lines of {key[0]} {key[1]} % have no VAT breakdown row"


def _has_seller_tax_id(seller: Party) -> bool:
    return bool(seller.vat_id or seller.tax_number)


def _categories(terms: BusinessTerms) -> Iterable[str]:
    seller, buyer = terms.seller, terms.buyer
    for ln in terms.lines:
        category = ln.category
        if category not in VAT_CATEGORIES:
            yield f"BR-CL-18: line {ln.id} VAT category {category!r} is not in UNCL 5305"
        elif category == "S" and (ln.rate is None or ln.rate <= 0):
            yield f"BR-S-05: line {ln.id} is standard rated with rate {ln.rate_text}"
        elif category in ("Z", "E", "AE", "K", "G") and ln.rate != 0:
            yield f"BR-{_PREFIX[category]}-05: line {ln.id} of category {category} has rate {ln.rate_text}, not 0"
    categories = terms.categories
    for row in terms.vat:
        category, prefix = row.category, _PREFIX.get(row.category, row.category)
        if category not in VAT_CATEGORIES:
            yield f"BR-CL-17: VAT category {category!r} is not in UNCL 5305"
            continue
        if category not in ("S", "L", "M") and row.tax != 0:
            yield f"BR-{prefix}-09: the {_NAMES[category]} VAT amount must be 0, not {row.tax}"
        if category in EXEMPT_CATEGORIES:
            if not (row.reason or row.reason_code):
                yield (
                    f"BR-{prefix}-10: the {_NAMES[category]} row needs an exemption reason "
                    "(TaxResult.exemption_code or exemption_reason)"
                )
        elif row.reason or row.reason_code:
            yield (
                f"BR-{prefix}-10: a {_NAMES[category]} row must not have an exemption reason "
                f"({row.reason_code or row.reason})"
            )
        code = row.reason_code
        if code is not None:
            if code not in VATEX_CODES:
                yield f"BR-CL-22: exemption code {code!r} is not in the VATEX code list"
            elif category in EXEMPT_CATEGORIES and vatex_category(code) != category:
                yield (
                    f"BR-CL-22: exemption code {code} belongs to category "
                    f"{vatex_category(code)}, not {category}"
                )
    if categories & {"S", "Z", "E", "L", "M"}:
        for category in sorted(categories & {"S", "Z", "E", "L", "M"}):
            if not _has_seller_tax_id(seller):
                yield (
                    f"BR-{_PREFIX[category]}-02: {_NAMES[category]} needs the seller's VAT id "
                    "BT-31 or tax number BT-32"
                )
    if "AE" in categories and not (_has_seller_tax_id(seller) and buyer.vat_id):
        yield "BR-AE-02: reverse charge needs the seller's VAT id or tax number and the buyer's VAT id"
    if "K" in categories:
        if not (seller.vat_id and buyer.vat_id):
            yield "BR-IC-02: an intra-community supply needs the seller's and the buyer's VAT ids"
        if terms.period_start is None and terms.delivery_date is None:
            yield "BR-IC-11: an intra-community supply needs a delivery date or invoicing period"
        if terms.ship_to is None:
            yield "BR-IC-12: an intra-community supply needs the deliver-to country"
    if "G" in categories and not seller.vat_id:
        yield "BR-G-02: an export needs the seller's VAT id BT-31"
    if "O" in categories and len(categories) > 1:
        others = ", ".join(sorted(categories - {"O"}))
        yield f"BR-O-11: category O must be the only one in a document, not with {others}"


def _parties(terms: BusinessTerms) -> Iterable[str]:
    seller, buyer = terms.seller, terms.buyer
    if not (seller.identifier or seller.vat_id):
        yield (
            "BR-CO-26: the seller needs an identifier BT-29, legal registration BT-30 or VAT "
            "id BT-31 (under category O: a tax number, shown as BT-29)"
        )
    for who, party in (("seller", seller), ("buyer", buyer)):
        if party.vat_id and not _VAT_PREFIX.match(party.vat_id):
            yield f"BR-CO-09: the {who}'s VAT id {party.vat_id} has no country prefix"
        scheme = party.endpoint_scheme
        if scheme is not None and scheme not in EAS_CODES:
            yield (
                f"BR-CL-25: the {who}'s electronic address scheme {scheme!r} "
                "is not in the EAS code list"
            )


def _document(terms: BusinessTerms) -> Iterable[str]:
    if not terms.number:
        yield "BR-02: the document has no number: finalize the draft first"
    if not terms.lines:
        yield "BR-16: the document has no lines"
    if not terms.vat:
        yield "BR-CO-18: the document has no VAT breakdown"
    for ln in terms.lines:
        if ln.price < 0:
            yield f"BR-27: line {ln.id} net price {ln.price} is negative"


def _german(terms: BusinessTerms, rule: Callable[[int], str]) -> Iterable[str]:
    """The German rules: XRechnung's BR-DE-n, which Peppol applies to German sellers as
    DE-R-0nn."""
    seller, buyer = terms.seller, terms.buyer
    if not terms.buyer_reference:
        yield f"{rule(15)}: the buyer reference BT-10 (Leitweg-ID) is missing: set Account.buyer_reference"
    payment = terms.payment
    if payment is None:
        yield f"{rule(1)}: payment instructions BG-16 are missing: set Company.bank_account"
    elif payment.means_code == PAYMENT_SEPA_CREDIT_TRANSFER and not iban_check.is_valid(
        payment.iban or ""
    ):
        yield f"{rule(19)}: the IBAN {payment.iban} is not valid"
    elif payment.means_code == PAYMENT_SEPA_DIRECT_DEBIT:
        if not payment.creditor_id:
            yield f"{rule(30)}: the direct debit BG-19 has no creditor identifier BT-90"
        if not payment.debited_iban:
            yield f"{rule(31)}: the direct debit BG-19 has no debited account BT-91"
        elif not iban_check.is_valid(payment.debited_iban):
            yield f"{rule(20)}: the debited IBAN {payment.debited_iban} is not valid"
    if seller.contact_name is None:
        yield f"{rule(2)}: the seller contact BG-6 is missing: set Company.contact"
    else:
        phone, email = seller.contact_phone, seller.contact_email
        if not phone:
            yield f"{rule(6)}: the seller contact has no telephone number BT-42"
        elif sum(c.isdigit() for c in phone) < 3:
            yield f"{rule(27)}: the seller's telephone number {phone!r} has fewer than 3 digits"
        if not email:
            yield f"{rule(7)}: the seller contact has no e-mail address BT-43"
        elif not _EMAIL.match(email):
            yield f"{rule(28)}: the seller's e-mail address {email!r} is not valid"
    if terms.categories - {"O"} and not _has_seller_tax_id(seller):
        yield f"{rule(16)}: the seller needs a VAT id BT-31 or a tax number BT-32"
    for who, party, city, postcode in (
        ("seller", seller, 3, 4),
        ("buyer", buyer, 8, 9),
        ("deliver-to", terms.ship_to, 10, 11),
    ):
        if party is not None and not party.city:
            yield f"{rule(city)}: the {who} city is missing"
        if party is not None and not party.postcode:
            yield f"{rule(postcode)}: the {who} post code is missing"


def _profile(terms: BusinessTerms, profile: Profile) -> Iterable[str]:
    seller, buyer = terms.seller, terms.buyer
    payment = terms.payment
    if (
        profile.cius in ("xrechnung", "peppol")
        and payment is not None
        and payment.means_code == PAYMENT_SEPA_DIRECT_DEBIT
        and not payment.mandate_reference
    ):
        yield "PEPPOL-EN16931-R061: the direct debit has no mandate reference BT-89"
    if profile.cius == "xrechnung":
        yield from _german(terms, "BR-DE-{}".format)
    elif profile.cius == "peppol":
        if not terms.buyer_reference:
            yield (
                "PEPPOL-EN16931-R003: the buyer reference BT-10 is missing (juston has no "
                "order reference): set Account.buyer_reference"
            )
        for who, party in (("seller", seller), ("buyer", buyer)):
            if party.endpoint_scheme == "0088" and not ean.is_valid(party.endpoint_value or ""):
                yield f"PEPPOL-COMMON-R040: the {who}'s GLN {party.endpoint_value} is not valid"
        if seller.country == "DE":  # Peppol's national rules for German sellers
            german = [
                f for f in _german(terms, "DE-R-{:03d}".format) if not f.startswith("DE-R-015")
            ]
            yield from german
    if profile.requires_electronic_addresses:
        if seller.endpoint_value is None:
            yield (
                "PEPPOL-EN16931-R020: the seller's electronic address BT-34 is missing: "
                "set Company.electronic_address"
            )
        if buyer.endpoint_value is None:
            yield (
                "PEPPOL-EN16931-R010: the buyer's electronic address BT-49 is missing: "
                "set Account.electronic_address"
            )
    if profile.checks_line_arithmetic:
        for ln in terms.lines:
            base = ln.base_quantity or 1
            expected = ln.quantity * ln.price / base - ln.allowance
            if abs(expected - ln.net) > R120_TOLERANCE:
                yield (
                    f"PEPPOL-EN16931-R120: line {ln.id} net amount {ln.net} is not quantity × "
                    f"price − discount ({expected})"
                )


def check(terms: BusinessTerms, profile: Profile) -> tuple[str, ...]:
    """Every rule *terms* break under *profile*, as ``"RULE-ID: what is wrong"`` texts."""
    return (
        *_document(terms),
        *_calculation(terms, terms.currency),
        *_decimals(terms),
        *_categories(terms),
        *_parties(terms),
        *_profile(terms, profile),
    )
