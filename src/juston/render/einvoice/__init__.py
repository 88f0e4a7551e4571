"""EN 16931 e-invoices as XML: UN/CEFACT CII D16B and UBL 2.1, plain or as a CIUS.

Profiles (see :mod:`.profiles`): ``cii`` and ``ubl`` (EN 16931), ``xrechnung-cii`` and
``xrechnung-ubl`` (XRechnung 3.0), ``peppol`` (Peppol BIS Billing 3.0, UBL), and
``factur-x-en16931`` (the CII a Factur-X PDF embeds, through :func:`cii_xml`).

A document is mapped once to its business terms (:mod:`.semantic`), checked against the
EN 16931 rules and the profile's (:mod:`.rules`), and only then built (:mod:`.cii`,
:mod:`.ubl`): a document that breaks a rule raises
:class:`~juston.errors.EInvoiceError` with every finding, and no XML is made.

    >>> from datetime import date
    >>> import juston
    >>> store = juston.testing.sample_store(accounts=1)
    >>> (doc,) = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    >>> [r.name for r in renderers()]
    ['cii', 'ubl', 'xrechnung-cii', 'xrechnung-ubl', 'peppol']
    >>> ubl_xml(doc).count(b"<cac:InvoiceLine>")
    4
"""

from __future__ import annotations

from .profiles import PROFILES, Profile, profile
from .renderer import EInvoiceRenderer, check, cii_xml, renderers, ubl_xml, xml
from .semantic import BusinessTerms, business_terms

__all__ = [
    "PROFILES",
    "BusinessTerms",
    "EInvoiceRenderer",
    "Profile",
    "business_terms",
    "check",
    "cii_xml",
    "profile",
    "renderers",
    "ubl_xml",
    "xml",
]
