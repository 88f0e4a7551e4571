"""The PDF renderer: PDF/A-3b, one file per document with the right content, attachments,
the template folders as the only source of resources, and the missing-WeasyPrint error."""

from __future__ import annotations

import re
import sys
import zlib
from datetime import date
from pathlib import Path

import attrs
import pypdfium2 as pdfium
import pytest
import weasyprint  # the test extra installs it: fail, never skip, without it

import juston
from juston.errors import RenderError
from juston.model.documents import Invoice
from juston.render import pdf as pdf_module
from juston.render.base import Renderer
from juston.render.pdf import PdfAttachment, PdfRenderer, pdf_bytes
from juston.render.templates import PACKAGE_TEMPLATES, Templates
from juston.testing import sample_store


@pytest.fixture(scope="module")
def documents() -> list[Invoice]:
    store = sample_store(accounts=8, realistic=True)
    return juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)


def page_texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        texts = [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()
    return [t.replace("\xa0", " ").replace("\r\n", "\n") for t in texts]


def xmp(pdf: bytes) -> str:
    """The XMP metadata packet of *pdf* (decompressed when it is)."""
    for match in re.finditer(rb"<<(.{0,400}?)>>\s*stream\r?\n", pdf, re.S):
        if b"/Type /Metadata" not in match.group(1):
            continue
        end = pdf.index(b"endstream", match.end())
        data = pdf[match.end() : end]
        if b"/FlateDecode" in match.group(1):
            data = zlib.decompress(data)
        return data.decode("utf-8")
    raise AssertionError("no XMP metadata stream")


def structure(pdf: bytes) -> bytes:
    """The PDF's bytes with every compressed stream (object streams too) inflated."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n", pdf):
        try:
            parts.append(zlib.decompressobj().decompress(pdf[match.end() :]))
        except zlib.error:
            continue
    return b"\n".join(parts)


def test_the_pdf_is_pdf_a_3b(documents: list[Invoice]) -> None:
    pdf = PdfRenderer().render(documents[0])
    assert pdf.startswith(b"%PDF-1.7")
    metadata = xmp(pdf)
    assert 'pdfaid:part="3"' in metadata and 'pdfaid:conformance="B"' in metadata
    assert f"Rechnung {documents[0].number}" in metadata  # dc:title
    assert "<xmp:CreateDate>2026-02-01</xmp:CreateDate>" in metadata
    objects = structure(pdf)
    assert b"/OutputIntents" in objects and b"/GTS_PDFA1" in objects  # sRGB output intent
    assert b"/FontFile2" in objects  # fonts embedded (Inter, TrueType)
    assert b"Inter" in objects


def test_each_document_of_a_batch_is_its_own_pdf(documents: list[Invoice]) -> None:
    batch = documents[:5]
    renderer = PdfRenderer()
    assert isinstance(renderer, Renderer)
    assert (renderer.name, renderer.media_type, renderer.suffix) == (
        "pdf",
        "application/pdf",
        ".pdf",
    )
    pdfs = list(renderer.render_many(batch))
    assert len(pdfs) == len(batch)
    for document, pdf in zip(batch, pdfs, strict=True):
        text = "\n".join(page_texts(pdf))
        assert document.number and document.number in text
        others = {d.number for d in batch} - {document.number}
        assert not any(number and number in text for number in others)
        assert document.buyer.name in text


def test_the_text_of_the_pdf_is_the_documents(documents: list[Invoice]) -> None:
    german = next(d for d in documents if d.buyer.language == "de" and d.tax_delta.amount)
    first, *rest = page_texts(PdfRenderer().render(german))
    text = "\n".join([first, *rest])
    for expected in [
        f"Rechnung {german.number}",
        "Gesamtbetrag 182,07 €",  # amounts extract as they print (tabular figures mapped)
        "USt. 19 % auf 153,00 €",
        "IBAN DE02 1203 0000 0000 2020 51",
        "Nordwind Software GmbH",
        german.buyer.billing_address.street,
    ]:
        assert expected in text, expected
    assert "Seite 1 / " in first


def test_a_long_document_has_running_heads_on_later_pages(documents: list[Invoice]) -> None:
    document = documents[0]
    long = attrs.evolve(document, lines=document.lines * 6)
    pages = page_texts(PdfRenderer().render(long))
    assert len(pages) >= 2
    assert f"Rechnung {document.number} · 01.02.2026" in pages[1]
    assert f"Seite 2 / {len(pages)}" in pages[1]


def test_a_batch_gives_each_document_its_own_file_pages_and_metadata(
    documents: list[Invoice],
) -> None:
    german = next(d for d in documents if d.buyer.language == "de")
    english = next(d for d in documents if d.buyer.language == "en")
    long = attrs.evolve(german, number="INV-LONG-1", lines=german.lines * 6)
    batch = [german, long, english]
    pdfs = list(PdfRenderer().render_many(batch))
    counts = []
    for document, pdf in zip(batch, pdfs, strict=True):
        metadata = xmp(pdf)
        assert 'pdfaid:part="3"' in metadata and 'pdfaid:conformance="B"' in metadata
        assert f"{document.number}</rdf:li>" in metadata  # dc:title: this document's number
        pages = page_texts(pdf)
        counts.append(len(pages))
        word = "Seite" if document.buyer.language == "de" else "Page"
        for number, page in enumerate(pages, start=1):  # numbered within its own file
            assert f"{word} {number} / {len(pages)}" in page
        assert document.number in pages[0]
        assert all(d.number not in "\n".join(pages) for d in batch if d is not document)
    assert counts[0] == counts[2] == 1 and counts[1] >= 2


def test_factur_x_pdfs_of_a_batch_embed_each_their_own_xml(documents: list[Invoice]) -> None:
    import facturx

    from juston.render.facturx import FacturXRenderer

    batch = [d for d in documents if d.kind.value == "invoice"][:3]
    pdfs = list(FacturXRenderer().render_many(batch))
    assert len(pdfs) == len(batch)
    for document, pdf in zip(batch, pdfs, strict=True):
        name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
        assert name == "factur-x.xml"
        assert f"<ram:ID>{document.number}</ram:ID>".encode() in xml
        assert all(f">{d.number}<".encode() not in xml for d in batch if d is not document)
        objects = structure(pdf)  # factur-x rewrites the XMP packet: PDF/A-3 + Factur-X
        assert b"pdfaid" in objects and b"<fx:ConformanceLevel>EN 16931<" in objects
        assert document.number in page_texts(pdf)[0]


def test_fonts_are_subset_per_document_unless_asked_to_embed_them_whole(
    documents: list[Invoice],
) -> None:
    subset = PdfRenderer().render(documents[0])
    whole = PdfRenderer(subset_fonts=False).render(documents[0])
    assert b"/FontFile2" in structure(subset) and b"/FontFile2" in structure(whole)
    assert len(subset) < len(whole) - 40_000  # whole: two Inter files, 66 KB each uncompressed
    assert page_texts(subset) == page_texts(whole)


def test_lists_in_user_templates_keep_their_markers(documents: list[Invoice]) -> None:
    # The renderer's user-agent stylesheet styles markers on list items only; the bullet
    # (U+2022) is drawn, so the embedded font subset maps a glyph to it.
    templates = Templates(
        strings={
            "de/invoice.html": '{% extends "default/de/invoice.html" %}'
            "{% block intro %}<ul><li>Erstens</li><li>Zweitens</li></ul>{% endblock %}"
        }
    )
    german = next(d for d in documents if d.buyer.language == "de")
    with_list = PdfRenderer(templates).render(german)
    assert "Erstens" in page_texts(with_list)[0]
    assert b"<2022>" in structure(with_list)
    assert b"<2022>" not in structure(PdfRenderer().render(german))


def test_pdf_bytes_embeds_attachments_for_factur_x(documents: list[Invoice]) -> None:
    xml = b'<?xml version="1.0"?><rsm:CrossIndustryInvoice xmlns:rsm="urn:x"/>'
    pdf = pdf_bytes(
        documents[0],
        attachments=[PdfAttachment("factur-x.xml", xml, description="Factur-X")],
        xmp_metadata=[
            b'<rdf:Description xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" '
            b'rdf:about="" fx:DocumentType="INVOICE"/>'
        ],
    )
    objects = structure(pdf)
    assert b"/EmbeddedFile" in objects and b"factur-x.xml" in objects and xml in objects
    assert b"/AFRelationship /Data" in objects
    metadata = xmp(pdf)
    assert 'fx:DocumentType="INVOICE"' in metadata and 'pdfaid:part="3"' in metadata


def test_user_templates_render_to_pdf(tmp_path: Path, documents: list[Invoice]) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "invoice.html").write_text(
        '{% extends "default/de/invoice.html" %}{% block intro %}<p>Eigene Vorlage</p>{% endblock %}',
        encoding="utf-8",
    )
    german = next(d for d in documents if d.buyer.language == "de")
    text = page_texts(PdfRenderer(Templates(tmp_path)).render(german))[0]
    assert "Eigene Vorlage" in text and f"Rechnung {german.number}" in text


def test_only_the_template_folders_and_data_urls_are_read(tmp_path: Path) -> None:

    fetch = pdf_module._url_fetcher(weasyprint, [PACKAGE_TEMPLATES.resolve()])
    font = (PACKAGE_TEMPLATES / "fonts" / "Inter-Regular.ttf").resolve().as_uri()
    assert fetch.fetch(font) is not None
    assert fetch.fetch("data:text/plain,hello") is not None
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    for url in [secret.as_uri(), "file:///etc/passwd", "http://127.0.0.1:1/x.png"]:
        with pytest.raises(ValueError, match="outside the template folders"):
            fetch.fetch(url)
    escape = (PACKAGE_TEMPLATES / ".." / ".." / "errors.py").resolve().as_uri()
    with pytest.raises(ValueError):
        fetch.fetch(escape)


def test_a_template_cannot_pull_local_files_into_the_pdf(
    tmp_path: Path, documents: list[Invoice]
) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("h1::after { content: 'LEAKED-SECRET'; }")
    templates = Templates(
        strings={
            "de/invoice.html": '{% extends "default/de/invoice.html" %}'
            f'{{% block meta %}}<link rel="stylesheet" href="{secret.as_uri()}">{{% endblock %}}'
        }
    )
    german = next(d for d in documents if d.buyer.language == "de")
    text = page_texts(PdfRenderer(templates).render(german))[0]
    assert f"Rechnung {german.number}" in text and "LEAKED-SECRET" not in text


def test_without_weasyprint_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, documents: list[Invoice]
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(RenderError, match=r"pip install 'juston\[pdf\]'"):
        PdfRenderer(Templates()).render(documents[0])
