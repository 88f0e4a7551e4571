"""The in-memory store: fast, dependency-free, for tests, notebooks and benchmarks.

Transactions are serialized by a lock and buffer their writes; the buffer is applied
only when the block ends without an exception.

    >>> store = MemoryStore()
    >>> store.url
    'memory:'
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from ..errors import NotFound
from ..hookspecs import hookimpl
from ..model.billables import Billable
from ..model.documents import Invoice, Term
from ..model.parties import Account, Company
from ..model.status import DocumentStatus
from ..model.subscriptions import Subscription
from ..model.usage import StoredUsage, UsageQuery, UsageTotal
from ..usage.aggregate import aggregate, order
from .base import DirectWrites

__all__ = ["MemoryStore"]

_DELETED: Any = object()


class _State:
    def __init__(self) -> None:
        self.company: Company | None = None
        self.accounts: dict[str, Account] = {}
        self.subscriptions: dict[str, dict[str, Subscription]] = {}
        self.documents: dict[str, Invoice] = {}
        self.by_account: dict[str, dict[str, None]] = {}
        self.counters: dict[str, int] = {}
        self.next_id = 0
        self.usage: dict[str, StoredUsage] = {}
        self.usage_by_item: dict[tuple[str, str, str], list[StoredUsage]] = {}
        self.charges: dict[tuple[str, str], Billable] = {}


class _Reads:
    """Reads over committed state plus (in a transaction) pending writes."""

    _state: _State

    def _doc(self, document_id: str) -> Invoice | None:
        return self._state.documents.get(document_id)

    def _account_doc_ids(self, account_id: str) -> Iterator[str]:
        yield from self._state.by_account.get(account_id, ())

    def _all_doc_ids(self) -> Iterator[str]:
        yield from self._state.documents

    def company(self) -> Company:
        if self._state.company is None:
            raise NotFound("company: none stored yet; put_company() first")
        return self._state.company

    def account(self, account_id: str) -> Account:
        try:
            return self._state.accounts[account_id]
        except KeyError:
            raise NotFound(f"account: {account_id!r} does not exist") from None

    def accounts(self, ids: Collection[str] | None = None) -> Iterator[Account]:
        if ids is None:
            yield from (self._state.accounts[k] for k in sorted(self._state.accounts))
            return
        for account_id in sorted(ids):
            yield self.account(account_id)

    def count_accounts(self) -> int:
        return len(self._state.accounts)

    def subscriptions(self, account_id: str) -> Sequence[Subscription]:
        subs = self._state.subscriptions.get(account_id, {})
        return [subs[k] for k in sorted(subs)]

    def billed_terms(self, account_id: str) -> Sequence[Term]:
        terms: list[Term] = []
        for document_id in self._account_doc_ids(account_id):
            document = self._doc(document_id)
            if document is not None:
                for line in document.lines:
                    terms.extend(line.terms)
        return terms

    def subscriptions_of(
        self, account_ids: Collection[str]
    ) -> Mapping[str, Sequence[Subscription]]:
        return {account_id: self.subscriptions(account_id) for account_id in account_ids}

    def billed_terms_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Term]]:
        return {account_id: self.billed_terms(account_id) for account_id in account_ids}

    def document(self, document_id: str) -> Invoice:
        document = self._doc(document_id)
        if document is None:
            raise NotFound(f"document: {document_id!r} does not exist")
        return document

    def documents(
        self,
        *,
        account_id: str | None = None,
        status: DocumentStatus | None = None,
        run_id: str | None = None,
        number: str | None = None,
    ) -> Iterator[Invoice]:
        ids = self._all_doc_ids() if account_id is None else self._account_doc_ids(account_id)
        for document_id in ids:
            document = self._doc(document_id)
            if document is None:
                continue
            if status is not None and document.status is not status:
                continue
            if run_id is not None and document.run_id != run_id:
                continue
            if number is not None and document.number != number:
                continue
            yield document

    def _usage_rows(self, account_id: str, subscription: str, item_id: str) -> list[StoredUsage]:
        return self._state.usage_by_item.get((account_id, subscription, item_id), [])

    def _charges(self) -> dict[tuple[str, str], Billable]:
        return self._state.charges

    def known_usage(self, ids: Collection[str]) -> set[str]:
        return {i for i in ids if self._has_usage(i)}

    def _has_usage(self, record_id: str) -> bool:
        return record_id in self._state.usage

    def usage_totals(self, queries: Collection[UsageQuery]) -> list[UsageTotal]:
        totals: list[UsageTotal] = []
        for query in queries:
            rows = self._usage_rows(query.account_id, query.subscription, query.item_id)
            totals.extend(aggregate(rows, query.aggregation, query.property))
        totals.sort(key=order)
        return totals

    def charges_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Billable]]:
        found: dict[str, list[Billable]] = {account_id: [] for account_id in account_ids}
        charges = self._charges()  # in a transaction: built from the pending writes
        for key in sorted(charges):
            charge = charges[key]
            if charge.account_id in found:
                found[charge.account_id].append(charge)
        return found


class MemoryStore(DirectWrites, _Reads):
    """A store that lives in this process's memory."""

    url = "memory:"

    def __init__(self, company: Company | None = None) -> None:
        self._state = _State()
        self._state.company = company
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            tx = _MemoryTransaction(self._state)
            yield tx
            tx._commit()


class _MemoryTransaction(_Reads):
    def __init__(self, state: _State) -> None:
        self._state = state
        self._company: Company | None = None
        self._accounts: dict[str, Account] = {}
        self._subscriptions: dict[tuple[str, str], Subscription] = {}
        self._documents: dict[str, Invoice] = {}
        self._new_by_account: dict[str, list[str]] = {}
        self._counters: dict[str, int] = {}
        self._next_id = state.next_id
        self._usage: dict[str, StoredUsage] = {}
        self._charge_writes: dict[tuple[str, str], Billable | None] = {}

    # Reads see pending writes first.
    def _doc(self, document_id: str) -> Invoice | None:
        if document_id in self._documents:
            pending = self._documents[document_id]
            return None if pending is _DELETED else pending
        return self._state.documents.get(document_id)

    def _account_doc_ids(self, account_id: str) -> Iterator[str]:
        yield from self._state.by_account.get(account_id, ())
        yield from self._new_by_account.get(account_id, ())

    def _all_doc_ids(self) -> Iterator[str]:
        yield from self._state.documents
        yield from (k for k in self._documents if k not in self._state.documents)

    def company(self) -> Company:
        return self._company or super().company()

    def _has_usage(self, record_id: str) -> bool:
        return record_id in self._usage or super()._has_usage(record_id)

    def _usage_rows(self, account_id: str, subscription: str, item_id: str) -> list[StoredUsage]:
        key = (account_id, subscription, item_id)
        pending = [
            r for r in self._usage.values() if (r.account_id, r.subscription, r.item_id) == key
        ]
        return super()._usage_rows(*key) + pending

    def _charges(self) -> dict[tuple[str, str], Billable]:
        charges = dict(super()._charges())
        for key, charge in self._charge_writes.items():
            if charge is None:
                charges.pop(key, None)
            else:
                charges[key] = charge
        return charges

    def account(self, account_id: str) -> Account:
        return self._accounts.get(account_id) or super().account(account_id)

    def accounts(self, ids: Collection[str] | None = None) -> Iterator[Account]:
        if ids is None:
            ids = set(self._state.accounts) | set(self._accounts)
        for account_id in sorted(ids):
            yield self.account(account_id)

    def count_accounts(self) -> int:
        return len(set(self._state.accounts) | set(self._accounts))

    def subscriptions(self, account_id: str) -> Sequence[Subscription]:
        subs = dict(self._state.subscriptions.get(account_id, {}))
        subs.update(
            {number: s for (acc, number), s in self._subscriptions.items() if acc == account_id}
        )
        return [subs[k] for k in sorted(subs)]

    # Writes.
    def put_company(self, company: Company) -> None:
        self._company = company

    def put_account(self, account: Account) -> None:
        self._accounts[account.id] = account

    def put_subscription(self, subscription: Subscription) -> None:
        self.account(subscription.account_id)  # must exist
        self._subscriptions[(subscription.account_id, subscription.number)] = subscription

    def add_document(self, document: Invoice) -> Invoice:
        self._next_id += 1
        stored = attrs.evolve(document, id=f"D{self._next_id:08d}")
        assert stored.id is not None
        self._documents[stored.id] = stored
        self._new_by_account.setdefault(stored.account_id, []).append(stored.id)
        return stored

    def add_documents(self, documents: Sequence[Invoice]) -> list[Invoice]:
        return [self.add_document(document) for document in documents]

    def replace_document(self, document: Invoice) -> None:
        assert document.id is not None
        self.document(document.id)  # must exist
        self._documents[document.id] = document

    def replace_documents(self, documents: Sequence[Invoice]) -> None:
        for document in documents:
            self.replace_document(document)

    def delete_document(self, document_id: str) -> None:
        self.document(document_id)
        self._documents[document_id] = _DELETED

    def next_number(self, sequence: str) -> int:
        return self.next_numbers(sequence, 1)[0]

    def next_numbers(self, sequence: str, count: int) -> range:
        last = self._counters.get(sequence, self._state.counters.get(sequence, 0))
        self._counters[sequence] = last + count
        return range(last + 1, last + count + 1)

    def set_counter(self, sequence: str, value: int) -> None:
        self._counters[sequence] = value

    def has_counter(self, sequence: str) -> bool:
        return sequence in self._counters or sequence in self._state.counters

    def add_usage(self, rows: Sequence[StoredUsage]) -> int:
        added = 0
        for row in rows:
            if not self._has_usage(row.id):
                self._usage[row.id] = row
                added += 1
        return added

    def put_charge(self, charge: Billable) -> None:
        self.account(charge.account_id)  # must exist
        self._charge_writes[(charge.source, charge.key)] = charge

    def delete_charge(self, source: str, key: str) -> None:
        if (source, key) not in self._charges():
            raise NotFound(f"charge: no charge {source}/{key}")
        self._charge_writes[(source, key)] = None

    def _commit(self) -> None:
        state = self._state
        if self._company is not None:
            state.company = self._company
        state.accounts.update(self._accounts)
        for (account_id, number), subscription in self._subscriptions.items():
            state.subscriptions.setdefault(account_id, {})[number] = subscription
        for document_id, document in self._documents.items():
            if document is _DELETED:
                old = state.documents.pop(document_id, None)
                if old is not None:
                    state.by_account.get(old.account_id, {}).pop(document_id, None)
            else:
                state.documents[document_id] = document
                state.by_account.setdefault(document.account_id, {})[document_id] = None
        state.counters.update(self._counters)
        state.next_id = self._next_id
        for record_id, row in self._usage.items():
            state.usage[record_id] = row
            item = (row.account_id, row.subscription, row.item_id)
            state.usage_by_item.setdefault(item, []).append(row)
        for charge_key, charge in self._charge_writes.items():
            if charge is None:
                state.charges.pop(charge_key, None)
            else:
                state.charges[charge_key] = charge


@hookimpl
def juston_open_store(url: str) -> MemoryStore | None:
    """Open a fresh memory store for ``memory:`` URLs."""
    return MemoryStore() if url == "memory:" else None
