"""The built-in payment methods juston does not collect through a provider's service.

``bank_transfer``: the customer transfers the money; it arrives as payment entries
(bank statement import, :func:`juston.receivables.register_payments`).
``sepa_direct_debit``: juston writes a pain.008 file for the bank
(:func:`juston.payments.sepa.sepa_batch`). Both answer collections with nothing and
refuse refunds (they are paid by transfer and booked with :func:`juston.receivables.refund`).

    >>> BANK_TRANSFER.collect([])
    ()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from .base import CollectionRequest, EventKind, ProviderEvent, RefundRequest

__all__ = ["BANK_TRANSFER", "SEPA_DIRECT_DEBIT", "PassiveProvider"]


@attrs.frozen
class PassiveProvider:
    """A payment method whose money reaches juston another way (see the module docs)."""

    name: str
    #: How the money is collected instead, said when asked for a refund.
    collected_by: str

    def collect(self, requests: Sequence[CollectionRequest]) -> Sequence[ProviderEvent]:
        return ()

    def refund(self, request: RefundRequest) -> ProviderEvent:
        return ProviderEvent(
            id=f"refund:{request.idempotency_key}",
            kind=EventKind.FAILED,
            document_id=request.document_id,
            amount=request.amount,
            date=request.on,
            reason=(
                f"{self.name} is {self.collected_by}: pay the refund by bank transfer and "
                "book it with juston.receivables.refund"
            ),
        )

    def status(self, reference: str) -> ProviderEvent | None:
        return None

    def parse_events(self, payload: bytes, headers: Mapping[str, str]) -> Sequence[ProviderEvent]:
        return ()


BANK_TRANSFER = PassiveProvider("bank_transfer", "paid by the customer's transfer")
SEPA_DIRECT_DEBIT = PassiveProvider(
    "sepa_direct_debit", "collected by pain.008 file (juston.payments.sepa)"
)
