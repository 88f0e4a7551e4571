"""The in-memory store: fast, dependency-free, for tests, notebooks and benchmarks.

Transactions are serialized by a lock and buffer their writes; the buffer is applied
only when the block ends without an exception.

    >>> store = MemoryStore()
    >>> store.url
    'memory:'
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from ..errors import NotFound, StateError
from ..hookspecs import hookimpl
from ..model.billables import Billable
from ..model.documents import Invoice, Term
from ..model.dunning import Dunning, DunningBlock, DunningStatus
from ..model.mandates import Mandate
from ..model.parties import Account, Company
from ..model.receivables import (
    Balance,
    EntryStatus,
    ImportedFile,
    InstallmentPlan,
    OpenAmount,
    PaymentEntry,
)
from ..model.status import DocumentStatus
from ..model.subscriptions import Subscription
from ..model.usage import StoredUsage, UsageQuery, UsageTotal
from ..receivables.ledger import open_amounts
from ..usage.aggregate import aggregate, order
from ..usage.rows import UsageRow, stored_usage
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
        self.by_number: dict[str, str] = {}
        self.counters: dict[str, int] = {}
        self.next_id = 0
        self.usage: dict[str, StoredUsage] = {}
        self.usage_by_item: dict[tuple[str, str, str], list[StoredUsage]] = {}
        self.charges: dict[tuple[str, str], Billable] = {}
        self.balances: dict[str, Balance] = {}  # in the order added
        self.balances_by_account: dict[str, list[Balance]] = {}
        self.entries: dict[str, PaymentEntry] = {}
        self.imports: list[ImportedFile] = []
        self.mandates: dict[str, Mandate] = {}
        self.plans: dict[str, InstallmentPlan] = {}
        self.dunnings: dict[str, Dunning] = {}  # in the order added
        self.blocks: dict[str, DunningBlock] = {}


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
        subs = self._state.subscriptions.get(account_id)
        if not subs:
            return []
        # Most accounts have one subscription: nothing to sort (a run asks for every account).
        return list(subs.values()) if len(subs) == 1 else [subs[k] for k in sorted(subs)]

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
        if number is not None:
            ids: Iterable[str] = self._numbered(number)
        elif account_id is None:
            ids = self._all_doc_ids()
        else:
            ids = self._account_doc_ids(account_id)
        for document_id in ids:
            document = self._doc(document_id)
            if document is None:
                continue
            if status is not None and document.status is not status:
                continue
            if run_id is not None and document.run_id != run_id:
                continue
            if account_id is not None and document.account_id != account_id:
                continue
            if number is not None and document.number != number:
                continue
            yield document

    def _numbered(self, number: str) -> list[str]:
        # Numbers are unique: matching payments looks documents up by them one by one.
        found = self._state.by_number.get(number)
        return [] if found is None else [found]

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

    # Receivables: small next to documents, so plain scans over (state + pending).
    def _all_balances(self) -> Iterator[Balance]:
        yield from self._state.balances.values()

    def _account_balances(self, account_id: str) -> list[Balance]:
        return self._state.balances_by_account.get(account_id, [])

    def _has_balance(self, balance_id: str) -> bool:
        return balance_id in self._state.balances

    def _entries(self) -> dict[str, PaymentEntry]:
        return self._state.entries

    def _imports(self) -> list[ImportedFile]:
        return self._state.imports

    def _mandates(self) -> dict[str, Mandate]:
        return self._state.mandates

    def _plans(self) -> dict[str, InstallmentPlan]:
        return self._state.plans

    def balances(
        self, *, account_id: str | None = None, document_id: str | None = None
    ) -> list[Balance]:
        if account_id is None and document_id is not None:
            document = self._doc(document_id)
            account_id = document.account_id if document is not None else None
        found = self._all_balances() if account_id is None else self._account_balances(account_id)
        return [b for b in found if document_id is None or b.document_id == document_id]

    def balances_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Balance]]:
        return {account_id: self._account_balances(account_id) for account_id in account_ids}

    def known_balances(self, ids: Collection[str]) -> set[str]:
        return {i for i in ids if self._has_balance(i)}

    def open_documents(self, account_ids: Collection[str] | None = None) -> list[OpenAmount]:
        found = (
            self._all_balances()
            if account_ids is None
            else (b for a in dict.fromkeys(account_ids) for b in self._account_balances(a))
        )
        return open_amounts(found)

    def payment_entry(self, entry_id: str) -> PaymentEntry:
        try:
            return self._entries()[entry_id]
        except KeyError:
            raise NotFound(f"payment entry: {entry_id!r} does not exist") from None

    def payment_entries(
        self, *, status: EntryStatus | None = None, account_id: str | None = None
    ) -> Iterator[PaymentEntry]:
        entries = sorted(self._entries().values(), key=lambda e: (e.booking_date, e.id))
        for entry in entries:
            if (status is None or entry.status is status) and (
                account_id is None or entry.account_id == account_id
            ):
                yield entry

    def imported_file(self, name: str, digest: str) -> ImportedFile | None:
        return next((f for f in self._imports() if f.name == name or f.digest == digest), None)

    def mandates(self, account_id: str) -> Sequence[Mandate]:
        found = [m for m in self._mandates().values() if m.account_id == account_id]
        return sorted(found, key=lambda m: (m.signed_on, m.reference))

    def installment_plans_of(self, document_ids: Collection[str]) -> Mapping[str, InstallmentPlan]:
        plans = self._plans()
        return {i: plans[i] for i in document_ids if i in plans}

    def _dunnings(self) -> dict[str, Dunning]:
        return self._state.dunnings

    def _blocks(self) -> dict[str, DunningBlock]:
        return self._state.blocks

    def dunning(self, dunning_id: str) -> Dunning:
        found = self._dunnings().get(dunning_id)
        if found is None:
            raise NotFound(f"dunning: {dunning_id!r} does not exist")
        return found

    def dunnings(
        self, *, account_id: str | None = None, status: DunningStatus | None = None
    ) -> Iterator[Dunning]:
        for dunning in list(self._dunnings().values()):
            if (account_id is None or dunning.account_id == account_id) and (
                status is None or dunning.status is status
            ):
                yield dunning

    def dunning_blocks(self) -> list[DunningBlock]:
        blocks = self._blocks()
        return [blocks[k] for k in sorted(blocks)]


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
        self._balances: dict[str, Balance] = {}
        self._pending_by_account: dict[str, list[Balance]] = {}
        self._entry_writes: dict[str, PaymentEntry] = {}
        self._import_writes: list[ImportedFile] = []
        self._mandate_writes: dict[str, Mandate] = {}
        self._plan_writes: dict[str, InstallmentPlan] = {}
        self._dunning_writes: dict[str, Dunning | None] = {}
        self._block_writes: dict[str, DunningBlock | None] = {}

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

    def _numbered(self, number: str) -> list[str]:
        pending = [
            k for k, d in self._documents.items() if d is not _DELETED and d.number == number
        ]
        return pending + [k for k in super()._numbered(number) if k not in self._documents]

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

    def _all_balances(self) -> Iterator[Balance]:
        yield from super()._all_balances()
        yield from self._balances.values()

    def _account_balances(self, account_id: str) -> list[Balance]:
        pending = self._pending_by_account.get(account_id, [])
        return super()._account_balances(account_id) + pending

    def _has_balance(self, balance_id: str) -> bool:
        return balance_id in self._balances or super()._has_balance(balance_id)

    def _entries(self) -> dict[str, PaymentEntry]:
        return {**super()._entries(), **self._entry_writes}

    def _imports(self) -> list[ImportedFile]:
        return super()._imports() + self._import_writes

    def _mandates(self) -> dict[str, Mandate]:
        return {**super()._mandates(), **self._mandate_writes}

    def _plans(self) -> dict[str, InstallmentPlan]:
        return {**super()._plans(), **self._plan_writes}

    def _dunnings(self) -> dict[str, Dunning]:
        return _merged(super()._dunnings(), self._dunning_writes)

    def _blocks(self) -> dict[str, DunningBlock]:
        return _merged(super()._blocks(), self._block_writes)

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
        stored = document.with_id(f"D{self._next_id:08d}")
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

    def add_usage_rows(self, rows: Sequence[UsageRow]) -> int:
        added = 0
        for row in rows:
            if not self._has_usage(row[0]):
                self._usage[row[0]] = stored_usage(row)
                added += 1
        return added

    def put_charge(self, charge: Billable) -> None:
        self.account(charge.account_id)  # must exist
        self._charge_writes[(charge.source, charge.key)] = charge

    def delete_charge(self, source: str, key: str) -> None:
        if (source, key) not in self._charges():
            raise NotFound(f"charge: no charge {source}/{key}")
        self._charge_writes[(source, key)] = None

    def add_balances(self, balances: Sequence[Balance]) -> None:
        seen: set[str] = set()
        for balance in balances:  # all checked before any is added: a refusal adds none
            if balance.id in seen or self._has_balance(balance.id):
                raise StateError(f"balance {balance.id}: is stored already; balances never change")
            seen.add(balance.id)
        for balance in balances:
            self._balances[balance.id] = balance
            self._pending_by_account.setdefault(balance.account_id, []).append(balance)

    def put_payment_entries(self, entries: Sequence[PaymentEntry]) -> None:
        for entry in entries:
            self._entry_writes[entry.id] = entry

    def add_imported_file(self, imported: ImportedFile) -> None:
        earlier = self.imported_file(imported.name, imported.digest)
        if earlier is not None:
            raise StateError(f"imported file {imported.name}: {earlier.name} was imported already")
        self._import_writes.append(imported)

    def put_mandate(self, mandate: Mandate) -> None:
        self.account(mandate.account_id)  # must exist
        self._mandate_writes[mandate.reference] = mandate

    def put_installment_plan(self, plan: InstallmentPlan) -> None:
        self.document(plan.document_id)  # must exist
        self._plan_writes[plan.document_id] = plan

    def add_dunning(self, dunning: Dunning) -> Dunning:
        self.account(dunning.account_id)  # must exist
        self._next_id += 1
        stored = attrs.evolve(dunning, id=f"N{self._next_id:08d}")
        assert stored.id is not None
        self._dunning_writes[stored.id] = stored
        return stored

    def replace_dunning(self, dunning: Dunning) -> None:
        assert dunning.id is not None
        self.dunning(dunning.id)  # must exist
        self._dunning_writes[dunning.id] = dunning

    def delete_dunning(self, dunning_id: str) -> None:
        self.dunning(dunning_id)
        self._dunning_writes[dunning_id] = None

    def put_dunning_block(self, block: DunningBlock) -> None:
        self._block_writes[block.key] = block

    def delete_dunning_block(self, key: str) -> None:
        if key not in self._blocks():
            raise NotFound(f"dunning block: {key!r} does not exist")
        self._block_writes[key] = None

    def _commit(self) -> None:
        state = self._state
        _apply(state.dunnings, self._dunning_writes)
        _apply(state.blocks, self._block_writes)
        state.balances.update(self._balances)
        for account_id, added in self._pending_by_account.items():
            state.balances_by_account.setdefault(account_id, []).extend(added)
        state.entries.update(self._entry_writes)
        state.imports.extend(self._import_writes)
        state.mandates.update(self._mandate_writes)
        state.plans.update(self._plan_writes)
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
                    if old.number is not None:
                        state.by_number.pop(old.number, None)
            else:
                state.documents[document_id] = document
                state.by_account.setdefault(document.account_id, {})[document_id] = None
                if document.number is not None:
                    state.by_number[document.number] = document_id
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


def _merged(committed: dict[str, Any], writes: dict[str, Any]) -> dict[str, Any]:
    """*committed* with pending *writes* on top (``None``: deleted), in insertion order."""
    merged = dict(committed)
    _apply(merged, writes)
    return merged


def _apply(target: dict[str, Any], writes: dict[str, Any]) -> None:
    for key, value in writes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


@hookimpl
def juston_open_store(url: str) -> MemoryStore | None:
    """Open a fresh memory store for ``memory:`` URLs."""
    return MemoryStore() if url == "memory:" else None
