"""SEPA direct debit: collect what is due by pain.008 file, book it, book returns.

1. :func:`sepa_batch` picks what is due on the collection date (only the installments
   due, for a document with a plan) from the accounts that pay by ``sepa_direct_debit``
   and have a mandate active then, and writes the pain.008 file. It books nothing.
2. Upload ``batch.xml`` to the bank, then :func:`submit_sepa_batch` books a payment
   entry (method ``sepa_direct_debit``, the mandate reference and end-to-end id) and
   its payment per debit, dated the collection date. Submitting again books nothing;
   a new batch finds nothing due.
3. A debit the bank returns reopens its invoice: :func:`return_debit`, or the bank
   statement's return entry (a debit with the invoice number as end-to-end id).

The invoice is the pre-notification: a document is only collected when its invoice date
is at least *prenotification_days* before the collection date. :func:`juston.finalize`
writes the pre-notification into the invoice (:func:`with_direct_debits`: the mandate
reference, the creditor id and the IBAN debited, as :class:`~juston.DirectDebit`), and the
document shows it instead of bank-transfer instructions. The end-to-end id is the invoice
number, so returns find their invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import attrs
from moneyed import Money

from ..errors import ValidationError
from ..model.documents import DirectDebit, Invoice
from ..model.mandates import Mandate, Scheme, sepa_id
from ..model.receivables import Installment
from ..model.status import DocumentKind
from ..storage.base import Reader, Store
from .apply import Applied, book_events
from .base import CollectionRequest, EventKind, ProviderEvent
from .collect import Skipped, due_requests
from .pain008 import Debit, creditor, pain008
from .passive import SEPA_DIRECT_DEBIT

__all__ = [
    "PreNotification",
    "SepaBatch",
    "prenotification",
    "return_debit",
    "sepa_batch",
    "submit_sepa_batch",
    "with_direct_debits",
]

METHOD = SEPA_DIRECT_DEBIT.name


@attrs.frozen(kw_only=True)
class SepaBatch:
    """A pain.008 file and the debits in it; :func:`submit_sepa_batch` books them."""

    message_id: str
    collection_date: date
    scheme: Scheme
    #: The pain.008 file, or None when nothing is due.
    xml: bytes | None
    debits: tuple[Debit, ...]
    #: The documents collected, one request per debit, in the same order.
    requests: tuple[CollectionRequest, ...]
    #: Documents due but not collected, and why (no mandate, not pre-notified …).
    skipped: tuple[Skipped, ...]
    total: Money

    @property
    def events(self) -> tuple[ProviderEvent, ...]:
        """The payments the file makes, as the events :func:`submit_sepa_batch` books."""
        return tuple(
            ProviderEvent(
                id=f"{self.message_id}:{request.document_id}",
                kind=EventKind.PAID,
                document_id=request.document_id,
                amount=request.amount,
                date=self.collection_date,
                reference=request.number,
                idempotency_key=request.idempotency_key,
                mandate_reference=debit.mandate.reference,
                end_to_end_id=debit.end_to_end_id,
            )
            for request, debit in zip(self.requests, self.debits, strict=True)
        )


def sepa_batch(
    store: Reader,
    *,
    as_of: date,
    collection_date: date,
    message_id: str,
    prenotification_days: int = 14,
    scheme: Scheme = Scheme.CORE,
    created_at: datetime | None = None,
) -> SepaBatch:
    """The pain.008 file that collects, on *collection_date*, what the ``sepa_direct_debit``
    accounts owe then; books nothing.

    A file holds one *scheme* (banks take CORE and B2B debits in separate files): debits
    under mandates of the other scheme are skipped. *message_id* must be new for each
    file (the bank rejects a repeated one; submitting books by it). *created_at* is the
    file's creation time (default: *as_of* at midnight, so the file is reproducible).
    """
    if prenotification_days < 1:
        raise ValidationError("prenotification_days", prenotification_days, "must be 1 or more")
    earliest = as_of + timedelta(days=prenotification_days)
    if collection_date < earliest:
        raise ValidationError(
            "collection_date", collection_date,
            f"is too early: with {prenotification_days} days of pre-notification, {earliest} at the soonest",
        )  # fmt: skip
    sepa_id(message_id, field="message_id")
    own = creditor(store.company())
    requests = due_requests(store, on=collection_date, methods={METHOD}).get(METHOD, [])
    chosen: list[tuple[CollectionRequest, Debit]] = []
    skipped: list[Skipped] = []
    first_use: dict[str, bool] = {}
    for request in requests:
        document = store.document(request.document_id)
        reason = _not_collectable(request, document, scheme, collection_date, prenotification_days)
        if reason:
            skipped.append(Skipped(request.document_id, request.number, reason))
            continue
        mandate = request.mandate
        assert mandate is not None
        if mandate.reference not in first_use:
            first_use[mandate.reference] = not _used(store, mandate)
        debit = Debit(
            end_to_end_id=request.number,
            amount=request.amount,
            mandate=mandate,
            sequence="FRST" if first_use[mandate.reference] else "RCUR",
            debtor_name=mandate.debtor_name or document.buyer.name,
            description=request.description,
        )
        chosen.append((request, debit))
    debits = tuple(d for _, d in chosen)
    xml = None
    if debits:
        at = created_at or datetime.combine(as_of, time())
        xml = pain008(
            own,
            debits,
            message_id=message_id,
            collection_date=collection_date,
            scheme=scheme,
            created_at=at,
        )
    return SepaBatch(
        message_id=message_id,
        collection_date=collection_date,
        scheme=scheme,
        xml=xml,
        debits=debits,
        requests=tuple(r for r, _ in chosen),
        skipped=tuple(skipped),
        total=sum((d.amount for d in debits), Money("0.00", "EUR")),
    )


def _not_collectable(
    request: CollectionRequest, document: Invoice, scheme: Scheme, on: date, days: int
) -> str | None:
    """Why *request* cannot be in this file, or None."""
    if request.amount.currency.code != "EUR":
        return f"is in {request.amount.currency.code}; SEPA direct debits are in EUR"
    if request.mandate is None:
        return f"account {request.account_id} has no mandate active on {on}"
    if request.mandate.scheme is not scheme:
        return f"mandate {request.mandate.reference} is {request.mandate.scheme.value}; this file is {scheme.value}"
    notified_by = on - timedelta(days=days)
    if document.invoice_date > notified_by:
        return f"not pre-notified: invoice date {document.invoice_date} is after {notified_by} ({days} days before collection)"
    try:
        sepa_id(request.number, field="end_to_end_id")
    except ValidationError as exc:
        return str(exc)
    return None


def _used(reader: Reader, mandate: Mandate) -> bool:
    """Whether a debit was collected under *mandate* before (then it is RCUR, not FRST)."""
    return any(
        e.method == METHOD and e.mandate_reference == mandate.reference and e.amount.amount > 0
        for e in reader.payment_entries(account_id=mandate.account_id)
    )


def submit_sepa_batch(store: Store, batch: SepaBatch) -> Applied:
    """Book the debits of *batch* (after uploading its file) in one transaction: a payment
    entry ``sepa_direct_debit:<message id>:<document>`` and its payment each. Submitting
    the same batch again books nothing (each is reported as a duplicate)."""
    with store.transaction() as tx:
        return book_events(tx, METHOD, batch.events)


def return_debit(
    store: Store,
    debit: Invoice | str,
    amount: Money,
    *,
    on: date,
    reason_code: str,
    fee: Money | None = None,
) -> Applied:
    """Book a direct debit the bank returned (*reason_code*: the ISO 20022 reason, e.g.
    ``AM04`` insufficient funds, ``MD06`` refund requested): a chargeback of *amount*
    plus the bank's *fee* on the invoice, which reopens it.

    *debit* is the end-to-end id (the invoice number), a document id or the invoice.
    The same return booked again changes nothing; more than was paid is refused.
    """
    with store.transaction() as tx:
        document = _find(tx, debit)
        assert document.id is not None
        event = ProviderEvent(
            id=f"return:{document.number}:{on.isoformat()}:{amount.amount}",
            kind=EventKind.CHARGEBACK,
            document_id=document.id,
            amount=amount,
            date=on,
            fee=fee,
            reason=reason_code,
            end_to_end_id=document.number,
        )
        return book_events(tx, METHOD, [event], strict=True)


def _find(reader: Reader, debit: Invoice | str) -> Invoice:
    if isinstance(debit, Invoice):
        debit = debit.id or ""
    by_number = list(reader.documents(number=debit))
    return by_number[0] if by_number else reader.document(debit)


@attrs.frozen
class PreNotification:
    """What an invoice collected by direct debit tells the debtor instead of bank details."""

    amount: Money
    #: The first day the debits are collected on (the due date, or each installment's).
    collections: tuple[Installment, ...]
    iban: str
    mandate_reference: str
    creditor_id: str


def prenotification(reader: Reader, document: Invoice) -> PreNotification | None:
    """The pre-notification to print on *document*, or None if it is not collected by
    SEPA direct debit.

    A finalized invoice carries its direct debit (:attr:`Invoice.direct_debit`), and that
    is what it says, whatever became of the mandate since. For a document without one (a
    draft, or one finalized before its mandate was stored), the account's payment method
    now, its mandate active on the due date and the seller's creditor id decide, as they
    do at finalization."""
    debit = document.direct_debit
    if debit is None:
        method = reader.account(document.account_id).payment_method
        if _collected(document, method):
            debit = _direct_debit(document, reader.mandates(document.account_id))
    if debit is None:
        return None
    plan = reader.installment_plans_of([document.id]).get(document.id) if document.id else None
    collections = (
        plan.installments
        if plan is not None
        else (Installment(due_date=document.due_date, amount=document.total),)
    )
    return PreNotification(
        amount=document.total,
        collections=tuple(collections),
        iban=debit.iban,
        mandate_reference=debit.mandate_reference,
        creditor_id=debit.creditor_id,
    )


def _collected(document: Invoice, payment_method: str | None) -> bool:
    """Whether *document* is an invoice to collect by direct debit from a buyer paying by
    *payment_method*, under the seller's creditor id: SEPA debits are in EUR only (see
    :func:`sepa_batch`)."""
    return (
        payment_method == METHOD
        and document.kind is DocumentKind.INVOICE
        and document.total.amount > 0
        and document.seller.creditor_id is not None
        and document.currency.code == "EUR"
    )


def _direct_debit(document: Invoice, mandates: Sequence[Mandate]) -> DirectDebit | None:
    """*document*'s direct debit under the latest of *mandates* active on its due date
    (None without one); the caller has checked that the document is :func:`_collected`."""
    creditor_id = document.seller.creditor_id
    active = [m for m in mandates if m.active_on(document.due_date)]
    if creditor_id is None or not active:
        return None
    mandate = active[-1]
    return DirectDebit(
        mandate_reference=mandate.reference,
        creditor_id=creditor_id,
        iban=mandate.iban,
        bic=mandate.bic,
    )


def with_direct_debits(reader: Reader, documents: Sequence[Invoice]) -> list[Invoice]:
    """*documents* (being finalized) with :attr:`~juston.Invoice.direct_debit` set on each
    invoice of a positive total in EUR whose buyer pays by ``sepa_direct_debit``, whose
    seller has a ``creditor_id`` and whose account has a mandate active on the due date
    (the latest signed, if several are). The others are returned as they are.

    Only the accounts of such documents are read, each once.
    """
    found = [
        n
        for n, document in enumerate(documents)
        if _collected(document, document.buyer.payment_method)
    ]
    if not found:
        return list(documents)
    out = list(documents)
    mandates: dict[str, Sequence[Mandate]] = {}
    for n in found:
        document = out[n]
        account_id = document.account_id
        known = mandates.get(account_id)
        if known is None:
            known = mandates[account_id] = reader.mandates(account_id)
        debit = _direct_debit(document, known)
        if debit is not None:
            out[n] = attrs.evolve(document, direct_debit=debit)
    return out
