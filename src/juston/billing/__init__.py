"""Invoice runs: the pure plan (:mod:`.plan`) and the shell that stores it (:mod:`.run`)."""

from .plan import RunOptions, Split, plan_account
from .run import AccountFailure, RunResult, cancel, delete_draft, finalize, forecast, invoice_run

__all__ = [
    "AccountFailure",
    "RunOptions",
    "RunResult",
    "Split",
    "cancel",
    "delete_draft",
    "finalize",
    "forecast",
    "invoice_run",
    "plan_account",
]
