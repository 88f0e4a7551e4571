"""Factur-X / ZUGFeRD: a PDF/A-3 invoice with its EN 16931 CII XML embedded.

The readable PDF comes from :class:`~juston.render.pdf.PdfRenderer`, the XML from
:func:`~juston.render.einvoice.cii_xml` with the Factur-X EN 16931 profile; the
`factur-x <https://pypi.org/project/factur-x/>`_ package embeds the XML as the associated
file ``factur-x.xml`` (relationship ``Data``, MIME ``text/xml``) and writes the XMP
metadata (``fx:DocumentType INVOICE``, ``fx:ConformanceLevel EN 16931``). Needs
``juston[pdf]``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..errors import RenderError
from ..model.documents import Invoice

__all__ = ["FacturXRenderer"]


class FacturXRenderer:
    """Factur-X EN 16931 PDFs (``facturx``), one per document."""

    name = "facturx"
    media_type = "application/pdf"
    suffix = ".pdf"

    def render(self, document: Invoice) -> bytes:
        return next(self.render_many([document]))

    def render_many(self, documents: Sequence[Invoice]) -> Iterator[bytes]:
        try:
            from facturx import generate_from_binary
        except ImportError as exc:  # pragma: no cover - the pdf extra is missing
            raise RenderError(
                "format facturx: needs the factur-x package; pip install 'juston[pdf]'"
            ) from exc
        from .einvoice import cii_xml
        from .pdf import PdfRenderer

        # The XML first: a document that breaks EN 16931 is refused before any PDF work.
        xmls = [cii_xml(document, profile="factur-x-en16931") for document in documents]
        pdfs = PdfRenderer().render_many(documents)
        for document, xml, pdf in zip(documents, xmls, pdfs, strict=True):
            yield generate_from_binary(
                pdf,
                xml,
                flavor="factur-x",
                level="en16931",
                check_xsd=True,
                pdf_metadata={
                    "author": document.seller.name,
                    "keywords": "Factur-X, Invoice",
                    "title": f"{document.seller.name}: {document.number or 'draft'}",
                    "subject": f"Factur-X {document.kind.value} {document.number or ''} "
                    f"of {document.invoice_date.isoformat()}",
                },
                lang=document.buyer.language,
            )
