"""The dunning decision for one account: pure, from values the shell gathers.

An invoice reaches level *L* when it is overdue at least *L*'s grace period and its
current level (from earlier, closed dunnings) is below *L* (JustOn's default condition);
it takes the highest such level. An account is dunned when at least one of its invoices
reaches a new level and the net overdue amount is at least the minimum; the dunning lists
every overdue invoice, adds the fee of its highest level once, and the interest each
escalated invoice has run up since it was last charged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import attrs
from moneyed import Money

from ..model.documents import Invoice
from ..model.dunning import Dunning, DunningConfig, DunningDetail, DunningStatus, InterestMethod
from ..model.parties import Account, Company
from .interest import monthly_interest, statutory_interest

__all__ = ["Candidate", "decide"]

#: § 288 (5) BGB: a creditor may claim a flat € 40 from a business debtor in default.
FLAT_FEE = Decimal("40.00")


@attrs.frozen(kw_only=True)
class Candidate:
    """An open invoice of the account as the dunning sees it."""

    document: Invoice
    #: Its whole open amount, and that without earlier fees and interest.
    open: Money
    principal: Money
    #: What of the principal is due (the due installments of a plan), and since when.
    overdue: Money
    overdue_since: date
    previous_level: int
    #: Interest booked on it by earlier dunnings, the date it was last booked, and
    #: whether the flat fee was.
    interest_booked: Money
    interest_since: date | None = None
    flat_fee_booked: bool = False
    blocked: bool = False


def _level(config: DunningConfig, days: int, previous: int) -> int:
    reached = [lv.number for lv in config.levels if days >= lv.grace_days and previous < lv.number]
    return max(reached, default=previous)


def _interest(
    config: DunningConfig, item: Candidate, level: int, as_of: date, business: bool
) -> Money:
    zero = item.overdue - item.overdue
    if level == 0:
        return zero
    if config.interest is InterestMethod.MONTHLY:
        # JustOn's formula over the whole time overdue, less what earlier dunnings charged:
        # interest is never charged twice.
        rate = config.level(level).monthly_rate
        total = monthly_interest(item.overdue, rate, item.overdue_since, as_of)
        return max(total - item.interest_booked, zero)
    # Per day, from where the last dunning stopped charging.
    since = max(item.overdue_since, item.interest_since or item.overdue_since)
    return statutory_interest(
        item.overdue, since, as_of, business=business, base_rates=config.base_rates
    )


def decide(
    account: Account,
    company: Company,
    candidates: Sequence[Candidate],
    credits: Money,
    config: DunningConfig,
    as_of: date,
) -> Dunning | None:
    """The draft dunning of *account* on *as_of*, or None when nothing reaches a new level
    (or the net overdue amount is below the minimum)."""
    business = account.vat_id is not None
    details: list[DunningDetail] = []
    for item in sorted(candidates, key=lambda c: (c.overdue_since, c.document.number or "")):
        days = (as_of - item.overdue_since).days
        if item.blocked or item.overdue.amount <= 0 or days <= 0:
            continue
        level = _level(config, days, item.previous_level)
        escalated = level > item.previous_level
        zero = item.overdue - item.overdue
        flat = zero
        if (
            escalated
            and config.flat_fee
            and config.interest is InterestMethod.STATUTORY
            and business
            and not item.flat_fee_booked
            and item.overdue.currency.code == "EUR"
        ):
            flat = Money(FLAT_FEE, item.overdue.currency)
        assert item.document.id is not None and item.document.number is not None
        details.append(
            DunningDetail(
                document_id=item.document.id,
                number=item.document.number,
                invoice_date=item.document.invoice_date,
                due_date=item.overdue_since,
                open=item.open,
                # Fees and interest of earlier dunnings still open are due at once.
                overdue=item.overdue + (item.open - item.principal),
                days_overdue=days,
                previous_level=item.previous_level,
                level=level,
                interest=_interest(config, item, level, as_of, business) if escalated else zero,
                flat_fee=flat,
            )
        )
    escalated_details = [d for d in details if d.escalated]
    if not escalated_details:
        return None
    overdue = sum((d.overdue.amount for d in details), Decimal(0))
    if overdue + credits.amount < config.minimum:
        return None
    top = config.level(max(d.level for d in escalated_details))
    fee = Money(top.fee.amount, account.currency)
    return Dunning(
        id=None,
        account=account,
        company=company,
        status=DunningStatus.DRAFT,
        number=None,
        dunning_date=as_of,
        due_date=as_of + timedelta(days=top.days_to_pay),
        level=top.number,
        details=tuple(details),
        fee=fee,
        credits=credits,
        do_not_send=top.do_not_send,
        collection=top.collection,
        kind=top.kind,
        fee_document_id=escalated_details[0].document_id if fee.amount else None,
    )
