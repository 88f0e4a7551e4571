"""What the PDF renderer shares between the documents it prints (computed styles, parsing)
changes how fast they print, never what they print: every PDF of a batch is byte for byte
the PDF its document gets alone from a renderer that shares nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import attrs
import pytest
import tinyhtml5
import weasyprint
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

import juston
from juston.dunning import dunning_run, finalize_dunnings
from juston.errors import ValidationError
from juston.model.documents import DocumentKind, Invoice
from juston.receivables.statements import statement
from juston.render import pdf as pdf_module
from juston.render import pdf_parse
from juston.render.dunning import dunning_context
from juston.render.html import render_html
from juston.render.pdf import PdfRenderer
from juston.render.pdf_styles import StyleSharing
from juston.render.statement import statement_context
from juston.render.templates import Templates
from juston.testing import issue, sample_store


@pytest.fixture(scope="module")
def documents() -> list[Invoice]:
    store = sample_store(accounts=10, realistic=True)
    invoices = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    long = attrs.evolve(invoices[0], number="INV-LONG-1", lines=invoices[0].lines * 6)
    return [*invoices, long]


def plain_renderer() -> PdfRenderer:
    """A renderer whose documents share no computed styles."""
    renderer = PdfRenderer(Templates())
    pdf_module._press(renderer.templates, None).share_styles = False
    return renderer


@pytest.fixture(scope="module")
def alone(documents: list[Invoice]) -> dict[str, bytes]:
    """Each document's PDF from a renderer that shares nothing, by number."""
    renderer = plain_renderer()
    return {d.number or "": next(renderer.render_many([d])) for d in documents}


def test_this_weasyprint_takes_the_shared_styles_path() -> None:
    # The sharing relies on WeasyPrint internals; with another WeasyPrint the renderer
    # falls back to WeasyPrint's own styling. This pins that the installed one is shared.
    html = pdf_module._html_class(weasyprint)
    assert html is not weasyprint.HTML and hasattr(html, "style_sharing")
    assert pdf_module._style_sharing_document(weasyprint) is not None


def test_a_batch_reuses_the_styles_of_its_first_document(
    documents: list[Invoice], alone: dict[str, bytes]
) -> None:
    renderer = PdfRenderer(Templates())
    sharing = pdf_module._press(renderer.templates, None).style_sharing
    pdfs = list(renderer.render_many(documents[:3]))
    assert sharing.added > 0 and sharing.reused > sharing.added  # most styles come again
    assert pdfs == [alone[d.number or ""] for d in documents[:3]]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_batch_prints_each_document_as_it_prints_alone(
    data: st.DataObject, documents: list[Invoice], alone: dict[str, bytes]
) -> None:
    batch = data.draw(st.lists(st.sampled_from(documents), min_size=2, max_size=5))
    limit = data.draw(st.sampled_from([1, 50, 20_000]))
    renderer = PdfRenderer(Templates())
    press = pdf_module._press(renderer.templates, None)
    press._style_sharing = StyleSharing(press.style_sharing._sheets, limit=limit)
    for document, pdf in zip(batch, renderer.render_many(batch), strict=True):
        assert pdf == alone[document.number or ""], document.number


def test_a_document_with_a_stylesheet_of_its_own_keeps_its_own_styles(
    documents: list[Invoice],
) -> None:
    templates = Templates(
        strings={
            "de/invoice.html": '{% extends "default/de/invoice.html" %}'
            "{% block meta %}<style>h1 { color: #b00020 }</style>{% endblock %}"
        }
    )
    german = [d for d in documents if d.buyer.language == "de"][:2]
    renderer = PdfRenderer(templates)
    sharing = pdf_module._press(templates, None).style_sharing
    shared = list(renderer.render_many(german))
    assert sharing.added == sharing.reused == 0
    pdf_module._press(templates, None).share_styles = False
    assert shared == list(renderer.render_many(german))


def test_style_sharing_refuses_what_it_does_not_know() -> None:
    sharing = StyleSharing([])
    assert sharing.share(object()) is False  # not a WeasyPrint StyleFor

    class StyleFor:
        def __init__(self) -> None:
            self._sheets = [(object(), "author", None)]
            self._computed_styles: dict[object, object] = {}

    assert sharing.share(StyleFor()) is False  # a stylesheet the renderer does not share


# --- parsing -----------------------------------------------------------------------------


def tree_difference(a: ET.Element, b: ET.Element, path: str = "html") -> str | None:
    """Where trees *a* and *b* differ (tag, attributes, text, tail, children), or None."""
    here, there = (
        (a.tag, a.attrib, a.text, a.tail, len(a)),
        (b.tag, b.attrib, b.text, b.tail, len(b)),
    )
    if here != there:
        return f"{path}: {here} != {there}"
    for index, (x, y) in enumerate(zip(a, b, strict=True)):
        if difference := tree_difference(x, y, f"{path}/{x.tag}[{index}]"):
            return difference
    return None


def html5_tree(source: str) -> ET.Element:
    """The tree WeasyPrint's own parser builds."""
    tree: ET.Element = tinyhtml5.parse(source, namespace_html_elements=False)
    return tree


def letters() -> list[str]:
    """Dunning notices of each level and a statement, as the PDF renderer gets them."""
    store = sample_store(accounts=1)
    issue(store, "C0000001", "119.00", on=date(2026, 1, 1))
    pages, templates = [], Templates()
    for day in (date(2026, 2, 14), date(2026, 3, 16), date(2026, 4, 15)):
        dunning_run(store, day)
        for notice in finalize_dunnings(store):
            for language in ("de", "en"):
                context = dunning_context(notice)
                pages.append(
                    templates.render(notice.kind, language, shared_stylesheet=True, **context)
                )
    march = statement(store, "C0000001", start=date(2026, 1, 1), end=date(2026, 3, 31))
    pages.append(
        templates.render("statement", "de", shared_stylesheet=True, **statement_context(march))
    )
    return pages


def test_every_kind_of_page_of_the_templates_parses_to_weasyprints_tree(
    documents: list[Invoice],
) -> None:
    invoices = [render_html(d, shared_stylesheet=True) for d in documents]
    kinds = [
        render_html(attrs.evolve(d, kind=kind), shared_stylesheet=True)
        for d in documents[:2]
        for kind in (DocumentKind.CREDIT, DocumentKind.CANCELLATION)
    ]
    pages = [*invoices, *kinds, *letters()]
    assert len(pages) > 20
    for page in pages:
        tree = pdf_parse.parse_html(page)
        assert tree is not None, page[:200]
        assert tree_difference(html5_tree(page), tree) is None


@settings(max_examples=40, deadline=None)
@given(name=st.text(min_size=1, max_size=40), street=st.text(min_size=1, max_size=40))
def test_whatever_a_document_says_its_page_parses_to_weasyprints_tree(
    name: str, street: str
) -> None:
    store = sample_store(accounts=1)
    document = juston.invoice_run(store, date(2026, 2, 1)).documents[0]
    try:
        address = attrs.evolve(document.buyer.billing_address, street=street)
        buyer = attrs.evolve(document.buyer, name=name, billing_address=address, legal_address=None)
    except ValidationError:
        reject()  # not a name or street the model takes
    page = render_html(attrs.evolve(document, buyer=buyer), shared_stylesheet=True)
    tree = pdf_parse.parse_html(page)
    event("parsed" if tree is not None else "left to WeasyPrint")
    if tree is not None:  # control characters and the like: WeasyPrint parses those itself
        assert tree_difference(html5_tree(page), tree) is None


_TAGS = ["div", "p", "span", "b", "table", "tbody", "thead", "tr", "td", "th", "ul", "li",
         "h1", "h2", "a", "pre", "br", "img", "hr", "header", "main", "section", "em", "dl",
         "dt", "dd", "colgroup", "col", "caption", "tfoot", "address", "strong", "ol",
         "form", "svg", "textarea", "select"]  # fmt: skip


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    """A piece of HTML, well-formed or not: elements (end tags sometimes left out), text
    with character references, whitespace, comments, self-closing tags."""
    parts = []
    for _ in range(draw(st.integers(0, 4 if depth < 3 else 1))):
        kind = draw(st.sampled_from(["element"] * 6 + ["text"] * 3 + ["space"] * 2 + ["odd"]))
        if kind == "element" and depth < 3:
            tag = draw(st.sampled_from(_TAGS))
            attributes = draw(st.sampled_from(["", ' class="x"', ' id="a" class="b c"', " hidden"]))
            inner = draw(markup(depth + 1))
            end = draw(st.sampled_from([f"</{tag}>"] * 9 + [""]))
            parts.append(f"<{tag}{attributes}>{inner}{end}")
        elif kind == "text":
            parts.append(
                draw(
                    st.sampled_from(
                        ["a", "x &amp; y", "&lt;b&gt;", "é€", "&#39;", "&copy", "1 & 2"]
                    )
                )
            )
        elif kind == "space":
            parts.append(draw(st.sampled_from([" ", "\n", "\n  ", "\t"])))
        else:
            parts.append(
                draw(st.sampled_from(["<!-- c -->", "<div/>", "<br/>", "</p>", "<p>", "\r\n"]))
            )
    return "".join(parts)


_TEXT = st.sampled_from(["a", "x &amp; y", "&lt;b&gt;", "é\u00a0€", "&#39;", " ", "\n", "\n  "])
_ATTRIBUTES = st.sampled_from(["", ' class="num"', ' id="a" class="b c"', ' lang="en"'])


@st.composite
def phrasing(draw: st.DrawFn, depth: int = 0) -> str:
    """Text-level HTML as templates write it: every element closed."""
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        choice = draw(st.sampled_from(["text", "text", "br", "inline"] if depth < 2 else ["text"]))
        if choice == "text":
            parts.append(draw(_TEXT))
        elif choice == "br":
            parts.append("<br>")
        else:
            tag = draw(st.sampled_from(["span", "b", "strong", "em", "a", "small"]))
            inner = draw(phrasing(depth + 1)) if tag != "a" else draw(_TEXT)
            parts.append(f"<{tag}{draw(_ATTRIBUTES)}>{inner}</{tag}>")
    return "".join(parts)


@st.composite
def flow(draw: st.DrawFn, depth: int = 0) -> str:
    """Block-level HTML as templates write it: every element closed, tables with or
    without their row groups, whitespace between elements."""
    parts = []
    space = st.sampled_from(["", "\n", "\n\n", " "])
    for _ in range(draw(st.integers(0, 3))):
        choice = draw(st.sampled_from(["p", "div", "table", "list", "h", "pre", "text"]))
        attributes = draw(_ATTRIBUTES)
        if choice == "p":
            parts.append(f"<p{attributes}>{draw(phrasing())}</p>")
        elif choice == "div" and depth < 2:
            tag = draw(st.sampled_from(["div", "header", "main", "section", "address"]))
            parts.append(f"<{tag}{attributes}>{draw(flow(depth + 1))}</{tag}>")
        elif choice == "table":
            rows = "".join(
                f"<tr>{''.join(f'<td{draw(_ATTRIBUTES)}>{draw(phrasing())}</td>' for _ in range(draw(st.integers(1, 3))))}</tr>{draw(space)}"
                for _ in range(draw(st.integers(1, 3)))
            )
            head = draw(
                st.sampled_from(["", "<thead><tr><th>H</th></tr></thead>", "<caption>C</caption>"])
            )
            body = draw(st.sampled_from([rows, f"<tbody>{rows}</tbody>"]))
            parts.append(f"<table{attributes}>{draw(space)}{head}{draw(space)}{body}</table>")
        elif choice == "list":
            items = "".join(
                f"<li>{draw(phrasing())}</li>{draw(space)}" for _ in range(draw(st.integers(1, 3)))
            )
            parts.append(f"<ul>{draw(space)}{items}</ul>")
        elif choice == "h":
            parts.append(f"<h2{attributes}>{draw(phrasing())}</h2>")
        elif choice == "pre":
            parts.append(
                f"<pre>{draw(st.sampled_from(['x', chr(10) + 'x', chr(10) + chr(10) + 'y']))}</pre>"
            )
        else:
            parts.append(draw(phrasing()))
        parts.append(draw(space))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(body=flow(), end=st.sampled_from(["", "\n", "\n</html>", "\n</html>\n"]))
def test_pages_as_templates_write_them_parse_to_weasyprints_tree(body: str, end: str) -> None:
    page = f'<!DOCTYPE html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n</head>\n<body>{body}</body>{end}'
    tree = pdf_parse.parse_html(page)
    event("parsed" if tree is not None else "left to WeasyPrint")
    if tree is not None:
        assert tree_difference(html5_tree(page), tree) is None, page


@settings(max_examples=300, deadline=None)
@given(head=markup(), body=markup(), end=st.sampled_from(["", "\n", "\n</html>", "\n</html>\n"]))
def test_any_page_parses_to_weasyprints_tree_or_is_left_to_weasyprint(
    head: str, body: str, end: str
) -> None:
    page = f'<!DOCTYPE html>\n<html lang="de">\n<head>\n<title>T</title>\n</head>\n<body>{head}\n{body}</body>{end}'
    tree = pdf_parse.parse_html(page)
    event("parsed" if tree is not None else "left to WeasyPrint")
    if tree is not None:
        assert tree_difference(html5_tree(page), tree) is None, page


def test_pages_parsed_either_way_print_the_same(documents: list[Invoice]) -> None:
    renderer = PdfRenderer(Templates())
    press = pdf_module._press(renderer.templates, None)
    assert press.parse_fast  # this WeasyPrint takes parsed trees
    fast = list(renderer.render_many(documents[:3]))
    press.parse_fast = False
    assert fast == list(renderer.render_many(documents[:3]))


def test_letters_print_the_same_with_or_without_the_shortcuts(documents: list[Invoice]) -> None:
    # Dunning notices and statements through the same renderer as invoices, interleaved:
    # their styles are shared with the invoices' where the rules are the same.
    pages = [p for pair in zip(letters(), documents, strict=False) for p in pair]
    outputs = []
    for shortcuts in (True, False):
        press = pdf_module._press(Templates(), None)
        press.share_styles = press.parse_fast = shortcuts
        outputs.append(
            [
                press.write(press.layout_html(page, "letter"))
                if isinstance(page, str)
                else press.write(press.layout(page))
                for page in pages
            ]
        )
    assert outputs[0] == outputs[1]
