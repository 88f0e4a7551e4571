"""Code lists the e-invoices use: type codes, VAT categories, VATEX, EAS, payment means.

Only the values juston emits or checks are here, each with the list it comes from:
UNTDID 1001 (document type), UNCL 5305 (VAT category), the CEF VATEX list (exemption
reasons), the CEF EAS list (electronic address schemes), UNCL 4461 (payment means) and
UNCL 5189 (allowance reasons).

    >>> exemption_text("VATEX-EU-132-1C")
    'Exempt based on article 132, section 1 (c) of Council Directive 2006/112/EC'
    >>> default_exemption_code("K"), vatex_category("VATEX-EU-IC")
    ('VATEX-EU-IC', 'K')
"""

from __future__ import annotations

import re

__all__ = [
    "ALLOWANCE_DISCOUNT",
    "CATEGORIES_WITH_RATE",
    "CREDIT_NOTE",
    "EAS_CODES",
    "EXEMPT_CATEGORIES",
    "INVOICE",
    "PAYMENT_CREDIT_TRANSFER",
    "PAYMENT_SEPA_CREDIT_TRANSFER",
    "PAYMENT_SEPA_DIRECT_DEBIT",
    "VATEX_CODES",
    "VAT_CATEGORIES",
    "XRECHNUNG_TYPE_CODES",
    "default_exemption_code",
    "exemption_text",
    "vatex_category",
]

#: UNTDID 1001: commercial invoice and credit note.
INVOICE = "380"
CREDIT_NOTE = "381"
#: The type codes XRechnung 3.0 admits (BR-DE-17).
XRECHNUNG_TYPE_CODES = frozenset({"326", "380", "384", "389", "381", "875", "876", "877"})

#: UNCL 5305 as EN 16931 uses it (B, Italian split payment, is left out).
VAT_CATEGORIES = frozenset({"S", "Z", "E", "AE", "K", "G", "O", "L", "M"})
#: One breakdown row per rate for these; exactly one row for each of the others.
CATEGORIES_WITH_RATE = frozenset({"S", "L", "M"})
#: Categories whose breakdown row needs an exemption reason (text BT-120 or code BT-121).
EXEMPT_CATEGORIES = frozenset({"E", "AE", "K", "G", "O"})

#: UNCL 4461: credit transfer, SEPA credit transfer (EUR only), SEPA direct debit.
PAYMENT_CREDIT_TRANSFER = "30"
PAYMENT_SEPA_CREDIT_TRANSFER = "58"
PAYMENT_SEPA_DIRECT_DEBIT = "59"
#: UNCL 5189 code and text of a line discount (BG-27 BT-140 / BT-139).
ALLOWANCE_DISCOUNT = ("95", "Discount")

_CATEGORY_CODES = {
    "AE": "VATEX-EU-AE",
    "K": "VATEX-EU-IC",
    "G": "VATEX-EU-G",
    "O": "VATEX-EU-O",
}
_FIXED_TEXTS = {
    "VATEX-EU-AE": "Reverse charge",
    "VATEX-EU-D": "Intra-Community acquisition from second hand means of transport",
    "VATEX-EU-F": "Intra-Community acquisition of second hand goods",
    "VATEX-EU-G": "Export outside the EU",
    "VATEX-EU-I": "Intra-Community acquisition of works of art",
    "VATEX-EU-IC": "Intra-Community supply",
    "VATEX-EU-J": "Intra-Community acquisition of collectors items and antiques",
    "VATEX-EU-O": "Not subject to VAT",
    "VATEX-FR-AE": "Exempt based on 2 of article 283 of the CGI (Reverse charge operation)",
    "VATEX-FR-FRANCHISE": "France domestic VAT franchise in base",
    "VATEX-FR-CNWVAT": "France domestic Credit Notes without VAT, due to supplier forfeit of VAT for discount",
}
_ARTICLES = (
    ["79-C", "132", "135-1", "143", "144", "146-1E", "148", "151", "153", "159", "309"]
    + [f"132-1{c}" for c in "ABCDEFGHIJKLMNOPQ"]
    + [f"143-1{c}" for c in ["A", "B", "C", "D", "E", "F", "FA", "G", "H", "I", "J", "K", "L"]]
    + [f"148-{c}" for c in "ABCDEFG"]
    + [f"151-1{c}" for c in ["A", "AA", "B", "C", "D", "E"]]
)
#: The CEF VATEX codes the CEN rules accept (BR-CL-22), EU and French ones.
VATEX_CODES = frozenset(
    [f"VATEX-EU-{a}" for a in _ARTICLES]
    + list(_FIXED_TEXTS)
    + [
        "VATEX-FR-298SEXDECIESA",
        "VATEX-FR-CGI261-1",
        "VATEX-FR-CGI261-2",
        "VATEX-FR-CGI261-3",
        "VATEX-FR-CGI261-4",
        "VATEX-FR-CGI261-5",
        "VATEX-FR-CGI261-7",
        "VATEX-FR-CGI261-8",
        "VATEX-FR-CGI261A",
        "VATEX-FR-CGI261B",
        "VATEX-FR-CGI261C-1",
        "VATEX-FR-CGI261C-2",
        "VATEX-FR-CGI261C-3",
        "VATEX-FR-CGI261D-1",
        "VATEX-FR-CGI261D-1BIS",
        "VATEX-FR-CGI261D-2",
        "VATEX-FR-CGI261D-3",
        "VATEX-FR-CGI261D-4",
        "VATEX-FR-CGI261E-1",
        "VATEX-FR-CGI261E-2",
        "VATEX-FR-CGI275",
        "VATEX-FR-CGI277A",
        "VATEX-FR-CGI295",
    ]
)
_VATEX_CATEGORY = {
    "VATEX-EU-AE": "AE",
    "VATEX-FR-AE": "AE",
    "VATEX-EU-IC": "K",
    "VATEX-EU-G": "G",
    "VATEX-EU-O": "O",
}

#: The CEF EAS code list (BR-CL-25): schemes of electronic addresses (BT-34, BT-49).
EAS_CODES = frozenset(
    {
        "0002",
        "0007",
        "0009",
        "0037",
        "0060",
        "0088",
        "0096",
        "0097",
        "0106",
        "0130",
        "0135",
        "0142",
        "0147",
        "0151",
        "0154",
        "0158",
        "0170",
        "0177",
        "0183",
        "0184",
        "0188",
        "0190",
        "0191",
        "0192",
        "0193",
        "0194",
        "0195",
        "0196",
        "0198",
        "0199",
        "0200",
        "0201",
        "0202",
        "0203",
        "0204",
        "0205",
        "0208",
        "0209",
        "0210",
        "0211",
        "0212",
        "0213",
        "0215",
        "0216",
        "0217",
        "0218",
        "0219",
        "0220",
        "0221",
        "0225",
        "0230",
        "0235",
        "0240",
        "0242",
        "0244",
        "0245",
        "0246",
        "0248",
        "9910",
        "9913",
        "9914",
        "9915",
        "9918",
        "9919",
        "9920",
        "9922",
        "9923",
        "9924",
        "9925",
        "9926",
        "9927",
        "9928",
        "9929",
        "9930",
        "9931",
        "9932",
        "9933",
        "9934",
        "9935",
        "9936",
        "9937",
        "9938",
        "9939",
        "9940",
        "9941",
        "9942",
        "9943",
        "9944",
        "9945",
        "9946",
        "9947",
        "9948",
        "9949",
        "9950",
        "9951",
        "9952",
        "9953",
        "9957",
        "9959",
        "AN",
        "AQ",
        "AS",
        "AU",
        "EM",
    }
)

_ARTICLE = re.compile(r"^VATEX-EU-(\d+)(?:-(\d)?([A-Z]*))?$")


def default_exemption_code(category: str) -> str | None:
    """The VATEX code a category implies (AE, K, G, O), or ``None`` (E needs its own)."""
    return _CATEGORY_CODES.get(category)


def vatex_category(code: str) -> str:
    """The VAT category a VATEX code belongs to: AE, K, G, O, or E for the exemptions."""
    return _VATEX_CATEGORY.get(code, "E")


def exemption_text(code: str) -> str | None:
    """The standard English text of a VATEX code (BT-120 from BT-121), or ``None``.

    >>> exemption_text("VATEX-EU-AE"), exemption_text("VATEX-EU-79-C")
    ('Reverse charge', 'Exempt based on article 79, point c of Council Directive 2006/112/EC')
    """
    text = _FIXED_TEXTS.get(code)
    if text is not None or code not in VATEX_CODES:
        return text
    if code == "VATEX-EU-79-C":
        return "Exempt based on article 79, point c of Council Directive 2006/112/EC"
    match = _ARTICLE.match(code)
    if match is None:
        return f"Exempt from VAT ({code})"
    article, section, point = match.groups()
    where = f"article {article}"
    if point:
        where += f", section {section} ({point.lower()})" if section else f", point {point.lower()}"
    elif section:
        where += f", section {section}"
    return f"Exempt based on {where} of Council Directive 2006/112/EC"
