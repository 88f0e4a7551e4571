"""Dunning notices as HTML pages and PDF/A-3b files.

A :class:`~juston.model.dunning.Dunning` is printed with the template of its level
(``dunning-1`` … ``dunning-3``, :mod:`juston.render.templates`) in the account's language,
or the one asked for, on the same letter, with the same formatting, fonts and PDF machinery
as invoices and statements.

    >>> from datetime import date
    >>> from juston.dunning import dunning_run, finalize_dunnings
    >>> from juston.testing import issue, sample_store
    >>> store = sample_store(accounts=1)
    >>> _ = issue(store, "C0000001", "119.00", on=date(2026, 1, 1))   # due 15 January
    >>> _ = dunning_run(store, date(2026, 2, 14))
    >>> [reminder] = finalize_dunnings(store)
    >>> page = render_dunning(reminder, language="de").decode()
    >>> "Zahlungserinnerung" in page, "119,00\\xa0€" in page, "DUN-2026-00001" in page
    (True, True, True)
    >>> render_dunning(reminder, "pdf")[:5]
    b'%PDF-'
"""

from __future__ import annotations

from typing import Any

from ..model.dunning import Dunning, DunningDetail, DunningStatus
from ..payments.passive import SEPA_DIRECT_DEBIT
from .statement import FORMATS, render_letter
from .templates import Templates

__all__ = ["FORMATS", "dunning_context", "render_dunning"]


def _document(detail: DunningDetail) -> dict[str, object]:
    return {
        "number": detail.number,
        "invoice_date": detail.invoice_date,
        "due_date": detail.due_date,
        "days_overdue": detail.days_overdue,
        "open": detail.open,
        "overdue": detail.overdue,
        "level": detail.level,
        "interest": detail.interest,
        "flat_fee": detail.flat_fee,
    }


def dunning_context(dunning: Dunning) -> dict[str, Any]:
    """The context the ``dunning-*`` templates get (keys: ``CONTEXT_KEYS["dunning"]``)."""
    return {
        "company": dunning.company,
        "account": dunning.account,
        "level": dunning.level,
        "date": dunning.dunning_date,
        "number": dunning.number,
        "draft": dunning.status is DunningStatus.DRAFT,
        "documents": [_document(d) for d in dunning.details],
        "outstanding": dunning.overdue,
        "fee": dunning.fee,
        "interest": dunning.interest,
        "flat_fees": dunning.flat_fees,
        "credits": dunning.credits,
        "total": dunning.total,
        "pay_by": dunning.due_date,
        "direct_debit": dunning.account.payment_method == SEPA_DIRECT_DEBIT.name,
    }


def render_dunning(
    dunning: Dunning,
    format: str = "html",
    *,
    language: str | None = None,
    templates: Templates | None = None,
) -> bytes:
    """The notice of *dunning* as an HTML page (*format* ``html``) or a PDF/A-3b file
    (``pdf``), with the template of its kind (``dunning-<level>``), in *language*
    (default: the account's), with *templates* (default: juston's own)."""
    label = f"dunning {dunning.number or dunning.id} of {dunning.account_id}"
    chosen = language or dunning.account.language
    return render_letter(dunning.kind, dunning_context(dunning), format, chosen, templates, label)
