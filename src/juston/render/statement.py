"""Account statements as HTML pages and PDF/A-3b files.

A :class:`~juston.receivables.statements.Statement` is printed with the ``statement``
template (:mod:`juston.render.templates`) in the account's language, or the one asked for,
on the same letter, with the same formatting, fonts and PDF machinery as invoices.

    >>> from datetime import date
    >>> from juston.receivables.statements import statement
    >>> from juston.testing import issue, sample_store
    >>> store = sample_store(accounts=1)
    >>> _ = issue(store, "C0000001", "69.00", on=date(2026, 2, 3))
    >>> february = statement(store, "C0000001", start=date(2026, 2, 1), end=date(2026, 2, 28))
    >>> page = render_statement(february, language="de").decode()
    >>> "Kontoauszug" in page, "69,00\\xa0€" in page
    (True, True)
    >>> render_statement(february, "pdf")[:5]
    b'%PDF-'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..receivables.statements import Movement, Statement
from .pdf import html_pdf_bytes
from .templates import Templates, default_templates

__all__ = ["FORMATS", "render_letter", "render_statement", "statement_context"]

#: What :func:`render_statement` makes, with the file suffix of each.
FORMATS = {"html": ".html", "pdf": ".pdf"}


def _entry(movement: Movement) -> dict[str, object]:
    amount = movement.amount
    return {
        "date": movement.date,
        "reference": movement.number or "",
        "description": movement.text,
        "kind": movement.kind.value,
        "other": movement.other or "",
        "debit": amount if amount.amount > 0 else None,
        "credit": -amount if amount.amount < 0 else None,
        "balance": movement.balance,
    }


def statement_context(statement: Statement) -> dict[str, Any]:
    """The context the ``statement`` templates get (keys: ``CONTEXT_KEYS["statement"]``)."""
    moved = statement.movements
    zero = statement.opening_balance - statement.opening_balance
    return {
        "company": statement.company,
        "account": statement.account,
        "date": statement.statement_date,
        "start": statement.start,
        "end": statement.end,
        "opening_balance": statement.opening_balance,
        "entries": [_entry(m) for m in moved],
        "total_debit": sum((m.amount for m in moved if m.amount.amount > 0), zero),
        "total_credit": -sum((m.amount for m in moved if m.amount.amount < 0), zero),
        "closing_balance": statement.closing_balance,
        "open_items": [
            {
                "number": i.document.number or i.document.id,
                "invoice_date": i.document.invoice_date,
                "due_date": i.document.due_date,
                "days_overdue": i.days_overdue,
                "open": i.open,
            }
            for i in statement.open_items
        ],
        "on_account": statement.on_account,
        "open_total": statement.open_total,
        "ageing": [{"bucket": name, "amount": value} for name, value in statement.ageing.buckets()],
    }


def render_statement(
    statement: Statement,
    format: str = "html",
    *,
    language: str | None = None,
    templates: Templates | None = None,
) -> bytes:
    """*statement* as an HTML page (*format* ``html``) or a PDF/A-3b file (``pdf``), in
    *language* (default: the account's), with *templates* (default: juston's own)."""
    context = statement_context(statement)
    label = f"statement {statement.account.id} {statement.start}–{statement.end}"
    chosen = language or statement.account.language
    return render_letter("statement", context, format, chosen, templates, label)


def render_letter(
    kind: str,
    context: Mapping[str, object],
    format: str,
    language: str,
    templates: Templates | None,
    label: str,
) -> bytes:
    """The letter of template *kind* with a plain *context* (a statement, a dunning
    notice) as HTML or PDF/A-3b (*format*); *label* names it in errors."""
    if format not in FORMATS:
        raise ValidationError("format", format, "must be 'html' or 'pdf'")
    templates = templates or default_templates()
    if format == "html":
        return templates.render(kind, language, **context).encode("utf-8")
    html = templates.render(kind, language, shared_stylesheet=True, **context)
    return html_pdf_bytes(html, label=label, templates=templates)
