"""Accounts receivable: balances, payment entries and matching, movements, statements.

The pure parts (:mod:`.ledger`, :mod:`.matching`) compute on values; the rest are
shell functions that take a store and book balances in one transaction each.
"""

from .bankfiles import CsvColumns, CsvFormat, import_bank_file, read_payments_csv
from .camt import read_camt
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
from .statements import (
    Ageing,
    Movement,
    MovementKind,
    Statement,
    build_statement,
    statement,
    statement_run,
)

__all__ = [
    "DEFAULT_RULES",
    "Ageing",
    "CsvColumns",
    "CsvFormat",
    "Match",
    "MatchContext",
    "MatchRule",
    "Movement",
    "MovementKind",
    "OpenItem",
    "PaymentState",
    "Registered",
    "Statement",
    "account_balance",
    "assign_payment",
    "balance_of",
    "build_statement",
    "chargeback",
    "document_state",
    "free_amount",
    "ignore_payment",
    "import_bank_file",
    "match",
    "match_payments",
    "open_amounts",
    "open_items",
    "payment_state",
    "payout",
    "prepay",
    "read_camt",
    "read_payments_csv",
    "refund",
    "register_payment",
    "register_payments",
    "settle",
    "statement",
    "statement_run",
    "write_off",
    "write_off_small",
]
