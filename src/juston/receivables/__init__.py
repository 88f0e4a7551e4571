"""Accounts receivable: balances, payment entries and matching, movements, statements.

The pure parts (:mod:`.ledger`, :mod:`.matching`) compute on values; the rest are
shell functions that take a store and book balances in one transaction each.
"""

from .ledger import PaymentState, account_balance, free_amount, open_amounts, payment_state
from .matching import DEFAULT_RULES, Match, MatchContext, MatchRule, match
from .movements import (
    OpenItem,
    balance_of,
    chargeback,
    document_state,
    open_items,
    payout,
    prepay,
    refund,
    settle,
    write_off,
    write_off_small,
)
from .payments import (
    Registered,
    assign_payment,
    ignore_payment,
    match_payments,
    register_payment,
    register_payments,
)

__all__ = [
    "DEFAULT_RULES",
    "Match",
    "MatchContext",
    "MatchRule",
    "OpenItem",
    "PaymentState",
    "Registered",
    "account_balance",
    "assign_payment",
    "balance_of",
    "chargeback",
    "document_state",
    "free_amount",
    "ignore_payment",
    "match",
    "match_payments",
    "open_amounts",
    "open_items",
    "payment_state",
    "payout",
    "prepay",
    "refund",
    "register_payment",
    "register_payments",
    "settle",
    "write_off",
    "write_off_small",
]
