"""The XML renderers and the functions behind them: check, then build, then serialize.

>>> from datetime import date
>>> import juston
>>> store = juston.testing.sample_store(accounts=1)
>>> (doc,) = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
>>> from lxml import etree
>>> etree.fromstring(cii_xml(doc)).tag
'{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice'
>>> [finding.split(":")[0] for finding in check(doc, "xrechnung-ubl")]
['BR-DE-15', 'PEPPOL-EN16931-R020', 'PEPPOL-EN16931-R010']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lxml import etree

from ...errors import EInvoiceError
from ...model.documents import Invoice
from ..base import Renderer
from . import cii, ubl
from .profiles import PROFILES, RENDERED, Profile, Syntax, profile
from .rules import check as check_terms
from .semantic import BusinessTerms, business_terms

__all__ = ["EInvoiceRenderer", "check", "cii_xml", "renderers", "ubl_xml", "xml"]

_BUILDERS = {"cii": cii.build, "ubl": ubl.build}


def check(document: Invoice, profile_name: str | Profile = "cii") -> tuple[str, ...]:
    """The EN 16931 (and the profile's) rules *document* breaks; empty when it may be issued.

    Works on drafts too, which break BR-02 (no number) and whatever else is wrong.
    """
    return check_terms(business_terms(document), profile(profile_name))


def _issue(document: Invoice, chosen: Profile) -> BusinessTerms:
    terms = business_terms(document)
    findings = check_terms(terms, chosen)
    if findings:
        label = document.number or f"draft {document.id}"
        raise EInvoiceError(f"{label} cannot be issued as {chosen.name}", findings)
    return terms


def xml(document: Invoice, profile_name: str | Profile) -> bytes:
    """*document* as EN 16931 XML of *profile_name*, after the rules (UTF-8, with declaration).

    Raises :class:`~juston.errors.EInvoiceError` naming every broken rule, and builds no
    XML then.
    """
    chosen = profile(profile_name)
    tree = _BUILDERS[chosen.syntax](_issue(document, chosen), chosen)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _xml_of(document: Invoice, profile_name: str | Profile, syntax: Syntax) -> bytes:
    return xml(document, profile(profile_name, syntax))


def cii_xml(document: Invoice, profile: str | Profile = "factur-x-en16931") -> bytes:
    """*document* as UN/CEFACT CII D16B XML (``rsm:CrossIndustryInvoice``).

    *profile* is ``"factur-x-en16931"`` (BT-24 ``urn:cen.eu:en16931:2017``, the XML a
    Factur-X EN 16931 PDF embeds), ``"cii"`` (plain EN 16931, the same BT-24) or
    ``"xrechnung-cii"``. Raises :class:`~juston.errors.EInvoiceError` with the findings
    when a rule fails.
    """
    return _xml_of(document, profile, "cii")


def ubl_xml(document: Invoice, profile: str | Profile = "ubl") -> bytes:
    """*document* as UBL 2.1 ``Invoice`` or ``CreditNote`` (``"ubl"``, ``"xrechnung-ubl"``,
    ``"peppol"``)."""
    return _xml_of(document, profile, "ubl")


class EInvoiceRenderer:
    """Renders documents as EN 16931 XML of one profile (its name is the profile's)."""

    media_type = "application/xml"
    suffix = ".xml"

    def __init__(self, profile_name: str | Profile) -> None:
        self.profile = profile(profile_name)
        self.name = self.profile.name
        self._build = _BUILDERS[self.profile.syntax]

    def __repr__(self) -> str:
        return f"EInvoiceRenderer({self.name!r})"

    def render(self, document: Invoice) -> bytes:
        """One document; :class:`~juston.errors.EInvoiceError` when it breaks a rule."""
        chosen = self.profile
        tree = self._build(_issue(document, chosen), chosen)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")

    def render_many(self, documents: Sequence[Invoice]) -> Iterator[bytes]:
        """Each document in turn; stops at the first that breaks a rule."""
        for document in documents:
            yield self.render(document)


def renderers() -> list[Renderer]:
    """One renderer per XML profile: ``cii``, ``ubl``, ``xrechnung-cii``, ``xrechnung-ubl``,
    ``peppol``."""
    return [EInvoiceRenderer(PROFILES[name]) for name in RENDERED]
