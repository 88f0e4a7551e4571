"""One batch of an invoice run: plan its accounts, store their documents in one transaction.

Shared by the run in this process and by the workers of a parallel run.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from ..errors import JustonError
from ..model.documents import Invoice
from ..model.parties import Account, Company
from ..storage.base import Store
from .plan import RunOptions, group_billed, plan_account

__all__ = ["AccountFailure", "Tally", "bill_batch"]


@attrs.frozen
class AccountFailure:
    """An account the run could not bill, and why; nothing was stored for it."""

    account_id: str
    error: JustonError

    def __str__(self) -> str:
        return f"{self.account_id}: {self.error}"


class Tally:
    """The documents of a run: counted and summed always, kept only if asked."""

    def __init__(self, collect: bool) -> None:
        self.collect = collect
        self.documents: list[Invoice] = []
        self.count = 0
        self.sums: dict[str, Decimal] = {}

    def add(self, documents: list[Invoice]) -> None:
        self.count += len(documents)
        sums = self.sums
        for document in documents:
            code = document.currency.code
            sums[code] = sums.get(code, Decimal(0)) + document.total.amount
        if self.collect:
            self.documents.extend(documents)

    def merge(self, other: Tally) -> None:
        """Take in the tally of a batch billed elsewhere (a worker process)."""
        self.count += other.count
        for code, amount in other.sums.items():
            self.sums[code] = self.sums.get(code, Decimal(0)) + amount
        if self.collect:
            self.documents.extend(other.documents)


def bill_batch(
    store: Store,
    company: Company,
    batch: list[Account],
    options: RunOptions,
    dry_run: bool,
    tally: Tally,
    failures: list[AccountFailure],
) -> None:
    """Plan a batch of accounts and store their documents in one transaction."""
    ids = [account.id for account in batch]
    subscriptions = store.subscriptions_of(ids)
    terms = store.billed_terms_of(ids)
    planned: list[Invoice] = []
    for account in batch:
        try:
            billed = group_billed(terms[account.id])
            planned.extend(
                plan_account(company, account, subscriptions[account.id], billed, options)
            )
        except JustonError as exc:
            failures.append(AccountFailure(account.id, exc))
    if dry_run:
        tally.add(planned)
        return
    with store.transaction() as tx:
        tally.add(tx.add_documents(planned))
