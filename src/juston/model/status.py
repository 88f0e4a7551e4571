"""The kinds and statuses of documents."""

from __future__ import annotations

from .._enum import Enum

__all__ = ["DocumentKind", "DocumentStatus"]


class DocumentKind(Enum):
    """An invoice (total ≥ 0), a credit (total < 0), or the cancellation of a document."""

    INVOICE = "invoice"
    CREDIT = "credit"
    CANCELLATION = "cancellation"


class DocumentStatus(Enum):
    """Draft (editable, no number), Open (final), Paid, Settled (credits), Cancelled."""

    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    SETTLED = "settled"
    CANCELLED = "cancelled"
