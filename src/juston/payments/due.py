"""What is due on a document on a day: the pure rule that collections and direct debits share.

A document without an installment plan is due in full from its due date. With a plan,
only the installments due by the day are, and what was paid pays the earliest
installments first: of an invoice of 119.00 in two installments (60.00 on 1 Feb, 59.00
on 1 Mar), 60.00 is due on 15 Feb; once that is paid, 59.00 on 15 Mar.

    >>> from datetime import date
    >>> from juston import money
    >>> from juston.model.receivables import Installment, InstallmentPlan
    >>> plan = InstallmentPlan(document_id="D1", installments=[
    ...     Installment(due_date=date(2026, 2, 1), amount=money("60.00", "EUR")),
    ...     Installment(due_date=date(2026, 3, 1), amount=money("59.00", "EUR"))])
    >>> amount_due(money("119.00", "EUR"), date(2026, 2, 1), plan, date(2026, 2, 15))
    Money('60.00', 'EUR')
    >>> amount_due(money("59.00", "EUR"), date(2026, 2, 1), plan, date(2026, 3, 15))
    Money('59.00', 'EUR')
"""

from __future__ import annotations

from datetime import date

from moneyed import Money

from ..model.receivables import InstallmentPlan

__all__ = ["amount_due", "idempotency_key"]


def amount_due(
    open_amount: Money, due_date: date, plan: InstallmentPlan | None, day: date
) -> Money:
    """What of *open_amount* is due on *day* (zero, or a positive amount ≤ it).

    With a *plan*, paid = plan total − open amount pays the earliest installments, so
    due = installments due by *day* − paid, never below zero nor above what is open (a
    chargeback fee on the document makes the open amount exceed the plan: it is due at
    once).
    """
    nothing = open_amount - open_amount
    if open_amount.amount <= 0:
        return nothing
    if plan is None:
        return open_amount if due_date <= day else nothing
    due = plan.due_by(day) - (plan.total - open_amount)
    if due.amount <= 0:
        return nothing
    return min(due, open_amount)


def idempotency_key(document_id: str, bookings: int, attempt: int = 1) -> str:
    """The key of collecting a document that has *bookings* balances.

    It changes only when something is booked on the document (a payment, a chargeback)
    or a caller asks for another *attempt* (after a decline): a run repeated, resumed
    after a crash or made while the provider's answer is still pending asks with the
    same key, so the provider charges once. The amount is not part of it on purpose:
    after a crash between charging the first installment and booking it, the next run
    (which would ask for both) gets the first charge's answer instead of a second charge.
    """
    return f"{document_id}:{bookings}" if attempt == 1 else f"{document_id}:{bookings}:{attempt}"
