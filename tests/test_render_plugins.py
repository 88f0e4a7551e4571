"""The renderer seam, Factur-X, and ``juston render``.

Renderers are found through the ``juston_renderers`` hook, the built-in ones exactly like a
plugin's; a third-party renderer plugs in (or restyles a built-in one) without touching
juston. Factur-X puts the CII of the EN 16931 profile into a PDF/A-3.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import attrs
import facturx
import pypdf
import pytest
from click.testing import CliRunner
from lxml import etree

import juston
from juston import Invoice, PluginError, Plugins, hookimpl
from juston.cli import main
from juston.render.base import Renderer
from juston.render.einvoice import cii_xml
from juston.storage.sql import SqlStore
from juston.testing import populate

BUILT_IN = {"html", "pdf", "cii", "ubl", "xrechnung-cii", "xrechnung-ubl", "peppol", "facturx"}


class Csv:
    name = "csv"
    media_type = "text/csv"
    suffix = ".csv"

    def render(self, document: Invoice) -> bytes:
        return f"{document.number};{document.total.amount}\n".encode()

    def render_many(self, documents: Sequence[Invoice]) -> Iterator[bytes]:
        return (self.render(d) for d in documents)


class Plain(Csv):
    name = "html"
    media_type = "text/html"
    suffix = ".html"

    def render(self, document: Invoice) -> bytes:
        return f"<p>{document.number}</p>".encode()


class Renderers:
    def __init__(self, *renderers: object) -> None:
        self.renderers = renderers

    @hookimpl
    def juston_renderers(self) -> list[object]:
        return list(self.renderers)


@pytest.fixture(scope="module")
def invoice() -> Invoice:
    store = juston.testing.sample_store(accounts=2)
    return juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)[0]


def test_the_built_in_renderers_come_through_the_hook() -> None:
    renderers = Plugins.load(entry_points=False).renderers()
    assert set(renderers) == BUILT_IN
    assert all(isinstance(r, Renderer) for r in renderers.values())
    assert renderers["facturx"].media_type == "application/pdf"
    assert {renderers[n].suffix for n in ("cii", "ubl", "peppol")} == {".xml"}


def test_a_plugin_adds_a_renderer_and_replaces_a_built_in_one(invoice: Invoice) -> None:
    plugins = Plugins.load(entry_points=False)
    plugins.register(Renderers(Csv(), Plain()))
    renderers = plugins.renderers()
    assert set(renderers) == BUILT_IN | {"csv"}
    assert (
        plugins.renderer("csv").render(invoice)
        == f"{invoice.number};{invoice.total.amount}\n".encode()
    )
    assert plugins.renderer("html").render(invoice) == f"<p>{invoice.number}</p>".encode()
    # The built-in one is still what a plugin manager without the plugin gives.
    assert b"<html" in Plugins.load(entry_points=False).renderer("html").render(invoice)


def test_an_unknown_format_names_the_ones_there_are() -> None:
    with pytest.raises(PluginError, match="no renderer 'docx'; there are cii, facturx, html"):
        Plugins.load(entry_points=False).renderer("docx")


def test_a_plugin_returning_something_else_is_a_plugin_error() -> None:
    plugins = Plugins.load(entry_points=False)
    plugins.register(Renderers("not a renderer"))
    with pytest.raises(PluginError, match="is not a Renderer"):
        plugins.renderers()


def test_factur_x_embeds_the_en16931_cii_in_a_pdf_a_3(invoice: Invoice) -> None:
    pdf = Plugins.load(entry_points=False).renderer("facturx").render(invoice)
    assert pdf.startswith(b"%PDF-")
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert name == "factur-x.xml"
    assert xml == cii_xml(invoice, profile="factur-x-en16931")
    xmp = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_data()
    assert re.search(rb"pdfaid:part(>|=\")3", xmp)
    assert re.search(rb"fx:ConformanceLevel(>|=\")EN 16931", xmp)
    assert re.search(rb"fx:DocumentFileName(>|=\")factur-x.xml", xmp)
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"


def test_factur_x_refuses_a_document_that_breaks_en16931(invoice: Invoice) -> None:
    broken = attrs.evolve(invoice, number=None)  # BR-02: an invoice needs a number
    with pytest.raises(juston.EInvoiceError, match="BR-02"):
        Plugins.load(entry_points=False).renderer("facturx").render(broken)


# --- juston render --------------------------------------------------------------------------


@pytest.fixture
def billed_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    monkeypatch.chdir(tmp_path)
    store = SqlStore.open(f"sqlite:///{tmp_path / 'juston.db'}")
    populate(store, accounts=3)
    result = juston.invoice_run(store, date(2026, 2, 1))
    juston.finalize(store, result.documents)
    store.close()
    assert result.run_id is not None
    return tmp_path / "juston.db", result.run_id


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args), env={"NO_COLOR": "1", "COLUMNS": "120"})


def test_render_one_invoice_to_each_format(billed_db: tuple[Path, str]) -> None:
    db, _ = billed_db
    for name, start in [
        ("pdf", b"%PDF-"),
        ("html", b"<!DOCTYPE html"),
        ("ubl", b"<?xml"),
        ("cii", b"<?xml"),
        ("facturx", b"%PDF-"),
    ]:
        result = invoke("render", "--db", str(db), "--invoice", "INV-2026-00001", "--format", name)
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        suffix = ".xml" if name in ("ubl", "cii") else f".{name}".replace(".facturx", ".pdf")
        written = Path(f"INV-2026-00001{suffix}")
        assert written.read_bytes().startswith(start), name
        written.unlink()


def test_render_to_stdout_and_to_a_named_file(billed_db: tuple[Path, str]) -> None:
    db, _ = billed_db
    out = invoke(
        "render", "--db", str(db), "--invoice", "INV-2026-00002", "--format", "cii", "-o", "-"
    )
    assert out.exit_code == 0  # type: ignore[attr-defined]
    assert b"INV-2026-00002" in out.stdout_bytes  # type: ignore[attr-defined]
    named = invoke("render", "--db", str(db), "--invoice", "INV-2026-00002", "-o", "x.pdf")
    assert named.exit_code == 0 and Path("x.pdf").read_bytes().startswith(b"%PDF-")  # type: ignore[attr-defined]


def test_render_a_whole_run_one_file_per_document(billed_db: tuple[Path, str]) -> None:
    db, run_id = billed_db
    Path("out").mkdir()
    result = invoke("render", "--db", str(db), "--run", run_id, "--format", "ubl", "-o", "out")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert sorted(p.name for p in Path("out").iterdir()) == [
        "INV-2026-00001.xml",
        "INV-2026-00002.xml",
        "INV-2026-00003.xml",
    ]


def test_a_run_that_breaks_xrechnung_names_the_rule_and_exits_3(
    billed_db: tuple[Path, str],
) -> None:
    db, run_id = billed_db
    # No account has a buyer reference (Leitweg-ID): XRechnung's BR-DE-15 refuses them all.
    result = invoke("render", "--db", str(db), "--run", run_id, "--format", "xrechnung-ubl")
    assert result.exit_code == 3  # type: ignore[attr-defined]
    assert "BR-DE-15" in result.output  # type: ignore[attr-defined]
    assert not list(Path().glob("*.xml"))


def test_render_errors_are_one_line(billed_db: tuple[Path, str]) -> None:
    db, _ = billed_db
    unknown = invoke("render", "--db", str(db), "--invoice", "INV-2026-00001", "--format", "docx")
    assert unknown.exit_code == 1  # type: ignore[attr-defined]
    assert "no renderer 'docx'" in unknown.stderr  # type: ignore[attr-defined]
    both = invoke("render", "--db", str(db))
    assert both.exit_code == 2  # type: ignore[attr-defined]
    rule = invoke("render", "--db", str(db), "--invoice", "INV-2026-00001", "--format", "peppol")
    assert rule.exit_code == 1 and "error:" in rule.stderr  # type: ignore[attr-defined]
