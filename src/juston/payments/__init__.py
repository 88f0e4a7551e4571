"""Payment providers: the plug-in API, collecting and refunding through providers, and
SEPA direct debit.

* :mod:`.base`: the :class:`PaymentProvider` protocol and the values it trades in;
* :mod:`.collect`: :func:`collect_due` and :func:`refund_payment`, the shell;
* :mod:`.apply`: booking provider events, each once (:func:`apply_events`, webhooks);
* :mod:`.sepa`: pain.008 batches, submitting them, returned debits;
* :mod:`.passive`: the built-in ``bank_transfer`` and ``sepa_direct_debit`` methods.
"""

from .apply import Applied, apply_events, book_events, receive_events
from .base import CollectionRequest, EventKind, PaymentProvider, ProviderEvent, RefundRequest
from .collect import CollectionResult, Skipped, collect_due, refund_payment
from .due import amount_due
from .plugin import ProviderPlugin
from .sepa import (
    PreNotification,
    SepaBatch,
    prenotification,
    return_debit,
    sepa_batch,
    submit_sepa_batch,
)

__all__ = [
    "Applied",
    "CollectionRequest",
    "CollectionResult",
    "EventKind",
    "PaymentProvider",
    "PreNotification",
    "ProviderEvent",
    "ProviderPlugin",
    "RefundRequest",
    "SepaBatch",
    "Skipped",
    "amount_due",
    "apply_events",
    "book_events",
    "collect_due",
    "prenotification",
    "receive_events",
    "refund_payment",
    "return_debit",
    "sepa_batch",
    "submit_sepa_batch",
]
