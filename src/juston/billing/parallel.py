"""Parallel invoice runs: worker processes bill batches of accounts side by side.

The parent streams batches of account ids; each worker opens the same store through its
URL (:meth:`~juston.storage.base.Shareable.share`), reads the batch's accounts, plans them
and writes the documents in its own transaction, exactly as a run in one process does,
and sends back only a tally (sending the documents costs more than writing them). The
parent reads no account (reading and pickling one cost more than the worker's reading
it), so it takes little of the machine's cores from the workers. At most two batches per
worker are in flight, so memory stays flat. Workers are spawned, not forked: a forked
child would inherit the parent's database connections, so a script that asks for
workers needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol, runtime_checkable

import attrs

from ..model.billables import Billable
from ..plugins import Plugins
from ..storage.base import Reader, Store
from ..tax import TaxResolver
from .batch import AccountFailure, Tally, bill_batch, collect_less
from .plan import RunOptions

__all__ = ["account_ids", "bill_in_parallel"]


@runtime_checkable
class _ListsAccountIds(Protocol):
    """A store that lists account ids without reading the accounts (the SQL store)."""

    def account_ids(self, ids: Collection[str] | None = None) -> Iterator[str]: ...


def account_ids(store: Reader, ids: Collection[str] | None = None) -> Iterator[str]:
    """The ids of the accounts ``store.accounts(ids)`` gives, in that order (and with
    its NotFound for an id that does not exist), read without the accounts where the
    store can."""
    if isinstance(store, _ListsAccountIds):
        return store.account_ids(ids)
    return (account.id for account in store.accounts(ids))


@attrs.frozen(kw_only=True)
class _Setup:
    url: str
    options: dict[str, Any]  # RunOptions fields: the options hold a per-process memo
    tax: TaxResolver | None  # None: each worker asks its plugins, as the parent would
    dry_run: bool
    collect: bool


# The one worker state of a worker process, set by _start.
_worker: tuple[Store, Any, RunOptions, _Setup] | None = None


def _start(setup: _Setup) -> None:
    global _worker
    store: Store = Plugins.load().open_store(setup.url)
    company = store.company()
    tax = setup.tax or Plugins.load().tax_provider(company)
    _worker = (store, company, RunOptions(**setup.options, tax=tax), setup)
    # A worker lives for one run: it collects garbage as seldom as a run does, also while
    # it takes in a batch, and never scans the modules and set-up it holds to the end.
    collect_less()
    gc.freeze()


def _bill(
    ids: list[str], billables: dict[str, list[Billable]] | None
) -> tuple[Tally, list[AccountFailure]]:
    assert _worker is not None, "the worker was not started"
    store, company, options, setup = _worker
    batch = list(store.accounts(ids))
    tally = Tally(setup.collect)
    failures: list[AccountFailure] = []
    bill_batch(store, company, batch, options, setup.dry_run, tally, failures, billables)
    return tally, failures


def bill_in_parallel(
    url: str,
    options: RunOptions,
    *,
    tax: TaxResolver | None,
    dry_run: bool,
    collect: bool,
    batches: Iterable[tuple[list[str], dict[str, list[Billable]] | None]],
    workers: int,
) -> Iterator[tuple[int, Tally, list[AccountFailure]]]:
    """Bill *batches* of account ids (with their hook billables, asked for in this
    process) in *workers* processes; yield each batch's size and tally."""
    fields = {
        f.name: getattr(options, f.name)
        for f in attrs.fields(RunOptions)
        if f.init and f.name != "tax"
    }
    setup = _Setup(url=url, options=fields, tax=tax, dry_run=dry_run, collect=collect)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start, initargs=(setup,)
    ) as pool:
        pending: deque[tuple[int, Future[tuple[Tally, list[AccountFailure]]]]] = deque()
        for batch, billables in batches:
            pending.append((len(batch), pool.submit(_bill, batch, billables)))
            if len(pending) >= 2 * workers:
                size, future = pending.popleft()
                yield (size, *future.result())
        while pending:
            size, future = pending.popleft()
            yield (size, *future.result())
