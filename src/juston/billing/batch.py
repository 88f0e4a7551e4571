"""One batch of an invoice run: plan its accounts, store their documents in one transaction.

Shared by the run in this process and by the workers of a parallel run.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from ..errors import JustonError
from ..model.billables import Billable
from ..model.documents import Invoice
from ..model.parties import Account, Company
from ..model.subscriptions import Subscription
from ..model.usage import UsageQuery, UsageTotal
from ..storage.base import Reader, Store
from .plan import RunOptions, group_billed, plan_account

__all__ = [
    "AccountFailure",
    "AddsDocuments",
    "Tally",
    "bill_batch",
    "collect_less",
    "fewer_collections",
    "usage_of",
]


@runtime_checkable
class AddsDocuments(Protocol):
    """A store that adds documents in a transaction of its own, preparing them before
    the transaction starts (the SQL store: the write lock is held for less time)."""

    def add_documents(self, documents: Sequence[Invoice], *, ids: bool = True) -> list[Invoice]:
        """``add_documents`` of a transaction of their own; with *ids* false the
        documents are returned as given (without the ids they were stored under)."""
        ...


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


#: Allocations between two runs of the youngest generation's collector during a run.
RUN_THRESHOLD = 20_000


def collect_less(threshold: int = RUN_THRESHOLD) -> tuple[int, ...]:
    """Raise the threshold of the collector's youngest generation to *threshold* (unless
    it is higher); return the thresholds before."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], threshold), *old[1:])
    return old


@contextmanager
def fewer_collections(threshold: int = RUN_THRESHOLD) -> Iterator[None]:
    """Run the cyclic garbage collector less often for the duration of a run.

    A run allocates millions of small objects that live until it ends and makes almost no
    reference cycles, so with the default threshold (700 allocations) the collector keeps
    rescanning the growing result: half of the run's time at 100,000 documents. Memory is
    unaffected; the previous threshold is restored afterwards.
    """
    old = collect_less(threshold)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def bill_batch(
    store: Store,
    company: Company,
    batch: list[Account],
    options: RunOptions,
    dry_run: bool,
    tally: Tally,
    failures: list[AccountFailure],
    billables: Mapping[str, Sequence[Billable]] | None = None,
) -> None:
    """Plan a batch of accounts and store their documents in one transaction.

    *billables* are the batch's charges from the ``juston_billables`` hook, by account;
    the store's own ad-hoc charges are added here.
    """
    # Also in a worker process of a parallel run, which bills batch after batch and keeps
    # the run's memo.
    with fewer_collections():
        _bill_batch(store, company, batch, options, dry_run, tally, failures, billables)


def _bill_batch(
    store: Store,
    company: Company,
    batch: list[Account],
    options: RunOptions,
    dry_run: bool,
    tally: Tally,
    failures: list[AccountFailure],
    billables: Mapping[str, Sequence[Billable]] | None,
) -> None:
    ids = [account.id for account in batch]
    subscriptions = store.subscriptions_of(ids)
    terms = store.billed_terms_of(ids)
    usage = usage_of(store, subscriptions)  # by account
    charges = store.charges_of(ids)
    planned: list[Invoice] = []
    hooked = billables or {}
    for account in batch:
        account_id = account.id
        try:
            billed = terms[account_id]
            more = hooked.get(account_id)
            planned.extend(
                plan_account(
                    company,
                    account,
                    subscriptions[account_id],
                    group_billed(billed) if billed else {},
                    options,
                    usage=usage.get(account_id, {}),
                    billables=[*charges[account_id], *more] if more else charges[account_id],
                )
            )
        except JustonError as exc:
            failures.append(AccountFailure(account.id, exc))
    if dry_run:
        tally.add(planned)
    elif isinstance(store, AddsDocuments):
        # A tally that keeps no documents needs no ids.
        tally.add(store.add_documents(planned, ids=tally.collect))
    else:
        with store.transaction() as tx:
            tally.add(tx.add_documents(planned))


def usage_of(
    store: Reader, subscriptions: Mapping[str, Sequence[Subscription]]
) -> dict[str, dict[tuple[str, str], list[UsageTotal]]]:
    """The usage totals of the batch's usage items, by account and (subscription, item)."""
    queries = [
        UsageQuery(account_id, subscription.number, item.id, metric.aggregation, metric.property)
        for account_id, each in subscriptions.items()
        for subscription in each
        for item in subscription.items
        if (metric := item.usage) is not None
    ]
    found: dict[str, dict[tuple[str, str], list[UsageTotal]]] = {}
    if queries:
        for total in store.usage_totals(queries):
            by_item = found.setdefault(total.account_id, {})
            by_item.setdefault((total.subscription, total.item_id), []).append(total)
    return found
