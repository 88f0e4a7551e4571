"""The storage interface every backend implements.

A store holds the company, accounts, subscriptions, documents, number counters, usage
records, ad-hoc charges, and the receivables: balances, payment entries, imported bank
files, mandates and installment plans.
All writes happen inside :meth:`Store.transaction`: the context manager commits when
the block ends normally and discards everything when it raises, so nothing is ever
half-written. Reads inside a transaction see its own writes.

    >>> from juston.storage.memory import MemoryStore
    >>> store = MemoryStore()
    >>> with store.transaction() as tx:
    ...     _ = tx.next_number("acme/invoice/2026")
    >>> store.transaction  # doctest: +ELLIPSIS
    <bound method MemoryStore.transaction of ...>
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

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

if TYPE_CHECKING:
    from ..usage.rows import UsageRow

__all__ = ["DirectWrites", "Reader", "Shareable", "Store", "Transaction", "UsageRows"]


@runtime_checkable
class Reader(Protocol):
    """Reading from a store (also available inside a transaction)."""

    def company(self) -> Company:
        """The own company; :class:`~juston.NotFound` if none was stored."""
        ...

    def account(self, account_id: str) -> Account:
        """One account; :class:`~juston.NotFound` if missing."""
        ...

    def accounts(self, ids: Collection[str] | None = None) -> Iterator[Account]:
        """All accounts (or those with *ids*; an unknown one is NotFound), ordered by id."""
        ...

    def count_accounts(self) -> int:
        """How many accounts the store holds."""
        ...

    def subscriptions(self, account_id: str) -> Sequence[Subscription]:
        """The subscriptions of one account, ordered by number."""
        ...

    def subscriptions_of(
        self, account_ids: Collection[str]
    ) -> Mapping[str, Sequence[Subscription]]:
        """:meth:`subscriptions` of many accounts at once (a key for each id asked for)."""
        ...

    def billed_terms(self, account_id: str) -> Sequence[Term]:
        """The terms of every stored document of the account, drafts and cancellations included."""
        ...

    def billed_terms_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Term]]:
        """:meth:`billed_terms` of many accounts at once (a key for each id asked for)."""
        ...

    def document(self, document_id: str) -> Invoice:
        """One document; :class:`~juston.NotFound` if missing."""
        ...

    def documents(
        self,
        *,
        account_id: str | None = None,
        status: DocumentStatus | None = None,
        run_id: str | None = None,
        number: str | None = None,
    ) -> Iterator[Invoice]:
        """Documents matching every filter given, in the order they were added."""
        ...

    def known_usage(self, ids: Collection[str]) -> set[str]:
        """Which of these usage record ids are stored."""
        ...

    def usage_totals(self, queries: Collection[UsageQuery]) -> list[UsageTotal]:
        """The totals of the stored usage records of the items *queries* name, aggregated
        as each query says; the same totals, in the same order, as
        :func:`juston.usage.aggregate` gives over those records."""
        ...

    def charges_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Billable]]:
        """The ad-hoc charges of many accounts (a key for each id asked for), ordered by
        (source, key)."""
        ...

    def balances(
        self, *, account_id: str | None = None, document_id: str | None = None
    ) -> list[Balance]:
        """The balances of an account or of a document (or all), in the order added."""
        ...

    def balances_of(self, account_ids: Collection[str]) -> Mapping[str, Sequence[Balance]]:
        """:meth:`balances` of many accounts at once (a key for each id asked for)."""
        ...

    def known_balances(self, ids: Collection[str]) -> set[str]:
        """Which of these balance ids are stored."""
        ...

    def open_documents(self, account_ids: Collection[str] | None = None) -> list[OpenAmount]:
        """The documents (of these accounts, or all) whose balances do not sum to zero,
        ordered by (since, document id)."""
        ...

    def payment_entry(self, entry_id: str) -> PaymentEntry:
        """One payment entry; :class:`~juston.NotFound` if missing."""
        ...

    def payment_entries(
        self, *, status: EntryStatus | None = None, account_id: str | None = None
    ) -> Iterator[PaymentEntry]:
        """Payment entries matching the filters, ordered by (booking date, id)."""
        ...

    def imported_file(self, name: str, digest: str) -> ImportedFile | None:
        """The import of a file with this name or this content digest, if there was one."""
        ...

    def mandates(self, account_id: str) -> Sequence[Mandate]:
        """The SEPA mandates of an account, ordered by signature date and reference."""
        ...

    def installment_plans_of(self, document_ids: Collection[str]) -> Mapping[str, InstallmentPlan]:
        """The installment plans of those of *document_ids* that have one."""
        ...

    def dunning(self, dunning_id: str) -> Dunning:
        """One dunning; :class:`~juston.NotFound` if missing."""
        ...

    def dunnings(
        self, *, account_id: str | None = None, status: DunningStatus | None = None
    ) -> Iterator[Dunning]:
        """Dunnings matching the filters, in the order they were added."""
        ...

    def dunning_blocks(self) -> list[DunningBlock]:
        """Every dunning block, ordered by key."""
        ...


@runtime_checkable
class Transaction(Reader, Protocol):
    """Writing to a store; see :meth:`Store.transaction`."""

    def put_company(self, company: Company) -> None: ...

    def put_account(self, account: Account) -> None: ...

    def put_subscription(self, subscription: Subscription) -> None:
        """Add or replace (by number) a subscription; its account must exist."""
        ...

    def add_document(self, document: Invoice) -> Invoice:
        """Store a new document and return it with a new id of the store's (any id it has is
        replaced; an id is never given out again, not even after a delete)."""
        ...

    def add_documents(self, documents: Sequence[Invoice]) -> list[Invoice]:
        """:meth:`add_document` for many documents, in order."""
        ...

    def replace_document(self, document: Invoice) -> None:
        """Replace a stored document with the same id."""
        ...

    def replace_documents(self, documents: Sequence[Invoice]) -> None:
        """:meth:`replace_document` for many documents."""
        ...

    def delete_document(self, document_id: str) -> None: ...

    def next_number(self, sequence: str) -> int:
        """Advance the counter *sequence* (created at 0) and return its new value."""
        ...

    def next_numbers(self, sequence: str, count: int) -> range:
        """Advance the counter *sequence* by *count* at once and return the new values."""
        ...

    def set_counter(self, sequence: str, value: int) -> None:
        """Set a counter that does not exist yet (for a counter's start count)."""
        ...

    def has_counter(self, sequence: str) -> bool: ...

    def add_usage(self, rows: Sequence[StoredUsage]) -> int:
        """Store the rows whose record id is not stored yet (the first of equal ids in
        *rows*); return how many were stored."""
        ...

    def put_charge(self, charge: Billable) -> None:
        """Add or replace (by source and key) an ad-hoc charge; its account must exist."""
        ...

    def delete_charge(self, source: str, key: str) -> None:
        """Remove an ad-hoc charge (:class:`~juston.NotFound` if missing); what was billed
        for it stays billed."""
        ...

    def add_balances(self, balances: Sequence[Balance]) -> None:
        """Store new balances; a stored id again is a :class:`~juston.StateError` (balances
        are never changed or replaced)."""
        ...

    def put_payment_entries(self, entries: Sequence[PaymentEntry]) -> None:
        """Add or replace (by id) payment entries."""
        ...

    def add_imported_file(self, imported: ImportedFile) -> None:
        """Record an imported bank file."""
        ...

    def put_mandate(self, mandate: Mandate) -> None:
        """Add or replace (by reference) a mandate; its account must exist."""
        ...

    def put_installment_plan(self, plan: InstallmentPlan) -> None:
        """Add or replace the installment plan of a document; the document must exist."""
        ...

    def add_dunning(self, dunning: Dunning) -> Dunning:
        """Store a new dunning and return it with a new id of the store's."""
        ...

    def replace_dunning(self, dunning: Dunning) -> None:
        """Replace a stored dunning with the same id."""
        ...

    def delete_dunning(self, dunning_id: str) -> None:
        """Remove a dunning (:class:`~juston.NotFound` if missing)."""
        ...

    def put_dunning_block(self, block: DunningBlock) -> None:
        """Add or replace (by key) a dunning block."""
        ...

    def delete_dunning_block(self, key: str) -> None:
        """Remove a dunning block (:class:`~juston.NotFound` if missing)."""
        ...


@runtime_checkable
class Store(Reader, Protocol):
    """A storage backend."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A unit of work: everything or nothing."""
        ...


@runtime_checkable
class UsageRows(Protocol):
    """A transaction that also stores usage records as plain rows: bulk ingestion
    (:func:`juston.ingest_usage_rows`) writes through it where a store's transactions
    offer it, and through :meth:`Transaction.add_usage` where they do not."""

    def add_usage_rows(self, rows: Sequence[UsageRow]) -> int:
        """:meth:`Transaction.add_usage` for :data:`juston.usage.rows.UsageRow` values:
        store those whose id is not stored yet (the first of equal ids); return how many
        were stored."""
        ...


@runtime_checkable
class Shareable(Protocol):
    """A store that other processes can open too, which parallel runs need."""

    def share(self) -> str:
        """A URL that opens this same store in another process (secrets included)."""
        ...


class DirectWrites:
    """``put_company``, ``put_account`` and ``put_subscription`` on the store itself, each in
    its own transaction: a convenience for set-up code, not part of the interface."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        raise NotImplementedError

    def put_company(self, company: Company) -> None:
        with self.transaction() as tx:
            tx.put_company(company)

    def put_account(self, account: Account) -> None:
        with self.transaction() as tx:
            tx.put_account(account)

    def put_subscription(self, subscription: Subscription) -> None:
        with self.transaction() as tx:
            tx.put_subscription(subscription)
