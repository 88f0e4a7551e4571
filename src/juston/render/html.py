"""Documents as HTML: a standalone page per document, and a fragment for notebooks.

:class:`HtmlRenderer` renders a document with the template for its kind in its buyer's
language (:class:`~juston.render.templates.Templates`), as one self-contained HTML page (the
stylesheet inline, A4 sheet on screen, the same layout the PDF prints).
:func:`notebook_html` is what Jupyter shows for an :class:`~juston.Invoice`: a compact
summary without ``<html>`` wrapper whose CSS applies only inside it.

    >>> from datetime import date
    >>> import juston
    >>> from juston.testing import sample_store
    >>> store = sample_store(accounts=1)
    >>> document = juston.invoice_run(store, date(2026, 2, 1)).documents[0]
    >>> page = HtmlRenderer().render(document).decode()
    >>> page.startswith("<!DOCTYPE html>"), "Nordwind Software GmbH" in page
    (True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model.documents import Invoice
from .base import RendersOneByOne
from .templates import Templates, default_templates

__all__ = ["HtmlRenderer", "document_context", "notebook_html", "render_html"]


def document_context(document: Invoice) -> dict[str, Any]:
    """The context the document templates get.

    ``document`` (the :class:`~juston.Invoice`), ``kind`` (``invoice``, ``credit``,
    ``cancellation``), ``seller``, ``buyer``, ``recipient_name`` and ``recipient`` (the
    buyer's legal address if set, else its billing address), ``billing_address`` (only when
    it differs from the recipient, else ``None``), ``notices`` (the distinct ``(exemption
    code, text)`` pairs of the lines' legal notices, so a template can word them in its
    language) and ``show_delta`` (the tax delta is not zero).
    """
    buyer = document.buyer
    recipient = buyer.recipient_address
    notices = tuple(
        dict.fromkeys(
            (line.vat.exemption_code, line.vat.notice) for line in document.lines if line.vat.notice
        )
    )
    return {
        "document": document,
        "kind": document.kind.value,
        "seller": document.seller,
        "buyer": buyer,
        "recipient_name": buyer.name,
        "recipient": recipient,
        "billing_address": None if buyer.billing_address == recipient else buyer.billing_address,
        "notices": notices,
        "show_delta": bool(document.tax_delta.amount),
    }


def render_html(document: Invoice, *, templates: Templates | None = None, **context: object) -> str:
    """The document as an HTML page, from the template for its kind and its buyer's
    language; *context* adds or overrides context keys (``shared_stylesheet=True`` leaves
    the stylesheet out, for renderers that bring it themselves)."""
    templates = templates or default_templates()
    values = document_context(document)
    values.update(context)
    return templates.render(document.kind.value, document.buyer.language, **values)


class HtmlRenderer(RendersOneByOne):
    """Documents as standalone HTML pages (``html``)."""

    name = "html"
    media_type = "text/html"
    suffix = ".html"

    def __init__(self, templates: Templates | None = None) -> None:
        self.templates = templates or default_templates()

    def render(self, document: Invoice) -> bytes:
        return render_html(document, templates=self.templates).encode("utf-8")


def notebook_html(document: Invoice, *, templates: Templates | None = None) -> str:
    """A compact HTML fragment of *document* for Jupyter (``Invoice._repr_html_``): header,
    lines, VAT breakdown, totals and notices, styled by CSS scoped to the fragment.

        >>> from juston.testing import sample_store
        >>> from datetime import date
        >>> import juston
        >>> doc = juston.invoice_run(sample_store(accounts=1), date(2026, 2, 1)).documents[0]
        >>> fragment = doc._repr_html_()
        >>> fragment.startswith('<div class="juston-nb">'), "<html" in fragment
        (True, False)
    """
    templates = templates or default_templates()
    values: Mapping[str, object] = document_context(document)
    language = document.buyer.language
    return templates.render_name(
        "base/notebook.html",
        t=templates.texts(language),
        language=language,
        locale=templates.resolve(document.kind.value, language)[1],
        **values,
    ).strip()
