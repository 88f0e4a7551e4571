"""The shell around the billing core: invoice runs, finalizing, cancelling, forecasts.

These functions read from a store, call the pure planning core and write the result in
transactions. Dates are always arguments; nothing here reads the clock.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

import attrs
from dateutil.relativedelta import relativedelta

from ..errors import (
    CannotCancel,
    JustonError,
    NotADraft,
    PluginError,
    StorageError,
    ValidationError,
)
from ..model.billables import Billable
from ..model.documents import DocumentReference, Invoice, Term
from ..model.numbering import Counter
from ..model.parties import Account, Company
from ..model.receivables import BalanceType
from ..model.status import DocumentKind, DocumentStatus
from ..model.terms import PaymentTerms
from ..payments.sepa import METHOD as SEPA_METHOD
from ..payments.sepa import with_direct_debits
from ..plugins import Plugins
from ..receivables.booking import Finalized, book_cancellation, book_finalized, settlements
from ..storage.base import Reader, Shareable, Store, Transaction
from ..tax import TaxResolver
from .batch import AccountFailure, Tally, bill_batch, fewer_collections, usage_of
from .parallel import account_ids, bill_in_parallel
from .plan import RunOptions, Split, group_billed, plan_account

T = TypeVar("T")

__all__ = [
    "AccountFailure",
    "RunResult",
    "cancel",
    "delete_draft",
    "finalize",
    "forecast",
    "invoice_run",
]


@attrs.frozen(kw_only=True)
class RunResult:
    """What an invoice run produced: the documents (stored unless a dry run) and failures.

    ``count`` and :meth:`totals` cover every document made, also when the run was asked
    not to keep them (``collect=False``, for runs too large to hold in memory).
    """

    run_id: str | None
    billing_date: date
    documents: tuple[Invoice, ...]
    failures: tuple[AccountFailure, ...]
    dry_run: bool
    count: int = 0
    sums: tuple[tuple[str, Decimal], ...] = ()

    def totals(self) -> dict[str, Decimal]:
        """Gross totals per currency code."""
        return dict(self.sums)

    def __str__(self) -> str:
        totals = ", ".join(f"{amount} {code}" for code, amount in sorted(self.sums))
        head = "dry run" if self.dry_run else f"run {self.run_id}"
        text = f"{head} on {self.billing_date}: {self.count} documents ({totals or 'nothing'})"
        if self.failures:
            text += f", {len(self.failures)} accounts failed"
        return text


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def invoice_run(
    store: Store,
    billing_date: date,
    *,
    accounts: Collection[str] | None = None,
    dry_run: bool = False,
    invoice_date: date | None = None,
    split: Split = Split.ACCOUNT,
    skip_zero: bool = True,
    tax: TaxResolver | None = None,
    plugins: Plugins | None = None,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    collect: bool = True,
    workers: int = 1,
) -> RunResult:
    """Bill everything due on *billing_date* as draft documents.

    One document per account and currency (``split=Split.SUBSCRIPTION`` for one per
    subscription); a negative total makes a credit; zero totals are skipped unless
    ``skip_zero=False``. Re-running bills nothing twice. An account whose data is bad is
    reported in ``RunResult.failures`` and nothing is stored for it; the others are billed.
    Each batch of accounts is written in one transaction.

    Tax comes from *tax* if given, else from the ``juston_tax_provider`` hook of
    *plugins* (default: the installed plugins, with the built-in engine answering last).
    Besides subscriptions, a run bills the usage records of usage items (periods that
    have ended), the store's ad-hoc charges (:func:`add_charge`) and what the
    ``juston_billables`` hook of *plugins* returns.
    *progress*, if given, is called after each batch with the number of accounts it held.
    With ``collect=False`` the result keeps only the count and totals of the documents,
    so memory stays flat however many the run makes. With ``workers`` above 1, batches
    are billed by that many processes, each opening the store again (a :class:`Shareable`
    store such as SQLite or PostgreSQL; ``tax``, if given, must pickle).

        >>> from juston.testing import sample_store
        >>> store = sample_store(accounts=2)
        >>> result = invoice_run(store, date(2026, 1, 1))
        >>> len(result.documents), len(invoice_run(store, date(2026, 1, 1)).documents)
        (2, 0)
    """
    run_id = None if dry_run else f"run-{billing_date.isoformat()}-{uuid.uuid4().hex[:8]}"
    company = store.company()
    plugins = plugins or Plugins.load()
    options = RunOptions(
        billing_date=billing_date,
        run_id=run_id,
        invoice_date=invoice_date,
        split=split,
        skip_zero=skip_zero,
        tax=tax or plugins.tax_provider(company),
    )

    tally = Tally(collect)
    failures: list[AccountFailure] = []

    def prepared(
        source: Iterable[T], key: Callable[[T], str]
    ) -> Iterator[tuple[list[T], dict[str, list[Billable]] | None]]:
        """Batches of accounts (or of their ids: the *key* of each is the id) with their
        hook billables; a batch whose hook fails fails its accounts."""
        for batch in _batches(source, batch_size):
            if not plugins.has_billables:
                yield batch, None
                continue
            ids = [key(each) for each in batch]
            try:
                found = plugins.billables(ids, billing_date)
            except PluginError:
                raise  # a plugin that breaks the contract stops the run
            except JustonError as exc:  # bad data in the host's records
                failures.extend(AccountFailure(account_id, exc) for account_id in ids)
                if progress is not None:
                    progress(len(batch))
                continue
            yield batch, found

    with fewer_collections():
        if workers > 1:
            if not isinstance(store, Shareable):
                raise StorageError(f"workers: {workers} needs a store other processes can open")
            for size, part, failed in bill_in_parallel(
                store.share(),
                options,
                tax=tax,
                dry_run=dry_run,
                collect=collect,
                batches=prepared(account_ids(store, accounts), str),
                workers=workers,
            ):
                tally.merge(part)
                failures.extend(failed)
                if progress is not None:
                    progress(size)
        else:
            for batch, billables in prepared(store.accounts(accounts), _account_id):
                bill_batch(store, company, batch, options, dry_run, tally, failures, billables)
                if progress is not None:
                    progress(len(batch))
    return RunResult(
        run_id=run_id,
        billing_date=billing_date,
        documents=tuple(tally.documents),
        failures=tuple(failures),
        dry_run=dry_run,
        count=tally.count,
        sums=tuple(sorted(tally.sums.items())),
    )


def _account_id(account: Account) -> str:
    return account.id


def forecast(
    store: Reader,
    start: date,
    months: int,
    *,
    accounts: Collection[str] | None = None,
    tax: TaxResolver | None = None,
    plugins: Plugins | None = None,
) -> list[Invoice]:
    """The documents monthly runs would make from *start* for *months* months; nothing is stored.

    Each simulated run sees the documents of the ones before it, as real runs would, and
    bills what a run would: subscriptions, the usage recorded so far, ad-hoc charges and
    the billables of the ``juston_billables`` hook.
    """
    documents: list[Invoice] = []
    company = store.company()
    plugins = plugins or Plugins.load()
    resolver = tax or plugins.tax_provider(company)
    for account in store.accounts(accounts):
        billed: list[Term] = list(store.billed_terms(account.id))
        subscriptions = store.subscriptions(account.id)
        usage = usage_of(store, {account.id: subscriptions}).get(account.id, {})
        charges = store.charges_of([account.id])[account.id]
        for n in range(months):
            day = start + relativedelta(months=n)
            options = RunOptions(billing_date=day, tax=resolver)
            hooked = plugins.billables([account.id], day) if plugins.has_billables else {}
            planned = plan_account(
                company,
                account,
                subscriptions,
                group_billed(billed),
                options,
                usage=usage,
                billables=[*charges, *hooked.get(account.id, ())],
            )
            for document in planned:
                billed.extend(document.terms())
            documents.extend(planned)
    return documents


def _ids(documents: Iterable[Invoice | str]) -> list[str]:
    ids = []
    for document in documents:
        document_id = document if isinstance(document, str) else document.id
        if document_id is None:
            raise NotADraft("document: an unsaved document (no id) cannot be finalized")
        ids.append(document_id)
    return ids


class _Numbered(Protocol):
    """What numbering needs of a document: an :class:`Invoice` or a draft's header."""

    @property
    def seller(self) -> Company: ...
    @property
    def kind(self) -> DocumentKind: ...
    @property
    def account_id(self) -> str: ...


class _Header(Finalized, _Numbered, Protocol):
    """A draft as a transaction that finalizes by header reads it (the SQL store's
    ``DraftHeader``): what finalizing needs, without the lines and snapshots."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> DocumentStatus: ...
    @property
    def payment_terms(self) -> PaymentTerms: ...
    @property
    def payment_method(self) -> str | None: ...
    @property
    def due_date(self) -> date: ...

    def finalized(self, number: str, invoice_date: date, due_date: date) -> _Header: ...


@runtime_checkable
class _FinalizesByHeader(Transaction, Protocol):
    """A transaction that finalizes drafts by their headers: it reads and writes only
    what finalizing changes or needs, not whole documents (the SQL store's)."""

    def draft_headers(self, ids: Sequence[str] | None = None) -> Iterator[_Header]:
        """The headers of the documents *ids* in that order (NotFound if one does not
        exist), or of every draft in the order added; locked like :meth:`documents`."""
        ...

    def finalize_headers(self, headers: Sequence[_Header]) -> None:
        """Write the status, number and dates of finalized documents."""
        ...

    def documents_by_id(self, ids: Sequence[str]) -> list[Invoice]:
        """Whole documents, in the order of *ids*."""
        ...


class _Chunk(Protocol):
    """Drafts finalized together (a transaction's own value: handed back to it)."""

    @property
    def ids(self) -> list[str]: ...


class _Group(Protocol):
    """Documents of a chunk numbered alike: one seller, kind, invoice date and status."""

    @property
    def seller(self) -> Company: ...
    @property
    def kind(self) -> DocumentKind: ...
    @property
    def invoice_date(self) -> date: ...
    @property
    def status(self) -> DocumentStatus: ...
    @property
    def count(self) -> int: ...
    @property
    def first(self) -> str: ...
    @property
    def plain(self) -> bool: ...


class _GroupNumbers(NamedTuple):
    """How a group's documents are numbered (the SQL store's ``GroupNumbers``): the
    *n*-th document of the groups that share a counter (*part*) gets ``prefix`` + the
    value *first* + n zero-padded to *width* + ``suffix``, with *mark* standing for the
    account id, and the invoice date *day*."""

    part: int
    first: int
    prefix: str
    width: int
    suffix: str
    mark: str
    day: date


@runtime_checkable
class _FinalizesInDatabase(_FinalizesByHeader, Protocol):
    """A transaction that finalizes a chunk of drafts with a few statements of its own
    (the SQL store's, ``juston.storage.sql.finalizing``); only what needs more comes back
    to Python."""

    def draft_chunks(self, ids: Sequence[str] | None, size: int) -> Iterator[_Chunk]:
        """The documents *ids* (NotFound for the first in a chunk that does not exist),
        or every draft in the order added, *size* at a time; locked like
        :meth:`documents`."""
        ...

    def draft_groups(self, chunk: Any) -> Sequence[_Group]:
        """The groups of the documents of *chunk*, in the order of their first documents."""
        ...

    def finalize_drafts(
        self,
        chunk: Any,
        groups: Sequence[Any],
        numbers: Sequence[_GroupNumbers],
        due_dates: Mapping[tuple[PaymentTerms, date], date],
        whole: str,
    ) -> list[_Header]:
        """Number and date the documents of *chunk* as *numbers* says per group of
        *groups*, and finalize those whose due date *due_dates* has and whose buyer does
        not pay by the method *whole*; the others come back as headers, still drafts."""
        ...

    def settling(self, chunk: Any) -> list[str]:
        """The documents of *chunk* whose account has balances or more than one document
        in the chunk, in chunk order."""
        ...

    def add_invoice_balances(self, chunk: Any, kind: str) -> None:
        """Add the invoice balance of each document of *chunk*, as booking makes them."""
        ...


def _sequence(seller: Company, kind: DocumentKind, day: date) -> tuple[Counter, str]:
    counter: Counter = seller.numbering.counter_for(kind)
    return counter, f"{seller.id}/{counter.series}/{counter.bucket(day)}"


def _draw(tx: Transaction, counter: Counter, sequence: str, count: int) -> range:
    """The next *count* values of *sequence* (created at *counter*'s start if new)."""
    if counter.start and not tx.has_counter(sequence):
        tx.set_counter(sequence, counter.start)
    return tx.next_numbers(sequence, count)


def _draw_numbers(tx: Transaction, documents: Sequence[_Numbered], days: list[date]) -> list[str]:
    """Numbers for *documents* (finalized on *days*), drawn in their order.

    Each counter is advanced once for all the documents that use it: the numbers are
    the same as drawing one at a time, with one statement per counter instead of one
    per document.
    """
    uses: dict[str, list[int]] = {}
    counters: list[Counter] = []
    for index, (document, day) in enumerate(zip(documents, days, strict=True)):
        counter, sequence = _sequence(document.seller, document.kind, day)
        counters.append(counter)
        uses.setdefault(sequence, []).append(index)
    numbers: list[str] = [""] * len(documents)
    for sequence, indexes in uses.items():
        counter = counters[indexes[0]]
        drawn = _draw(tx, counter, sequence, len(indexes))
        for index, value in zip(indexes, drawn, strict=True):
            # Each in its own counter's pattern: seller versions may share a series.
            numbers[index] = counters[index].format(
                value, days[index], account_id=documents[index].account_id
            )
    return numbers


def _draw_number(tx: Transaction, document: Invoice, day: date) -> str:
    return _draw_numbers(tx, [document], [day])[0]


#: Two counter values that differ in every digit, longer than a mask usually is: where
#: two numbers formatted with them differ is where the value goes.
_PROBES = (int("1" * 40), int("2" * 40))


@functools.lru_cache(maxsize=256)
def _number_parts(counter: Counter, day: date) -> tuple[str, int, str, str] | None:
    """The numbers of *counter* on *day* as (prefix, width, suffix, mark): prefix + the
    value zero-padded to width + suffix, where *mark* stands for the account id (empty if
    the pattern has none); None if the numbers do not come out so. Found by formatting,
    so they are what :meth:`Counter.format` gives for every value a counter holds."""
    mark = next((chr(c) for c in range(0xE000, 0xF900) if chr(c) not in counter.pattern), None)
    if mark is None:
        return None
    one, two = (counter.format(probe, day, account_id=mark) for probe in _PROBES)
    digits = len(str(_PROBES[0]))
    start = _shared(one, two)
    end = len(one) - _shared(one[::-1], two[::-1])
    if end - start != digits or one[start:end] != str(_PROBES[0]):
        return None
    prefix, suffix = one[:start], one[end:]
    zero = counter.format(0, day, account_id=mark)
    width = len(zero) - len(prefix) - len(suffix)
    if width < 1 or zero != prefix + "0" * width + suffix:
        return None
    return prefix, width, suffix, mark if mark in zero else ""


def _shared(one: str, two: str) -> int:
    """How many characters *one* and *two* start with alike."""
    pairs = enumerate(zip(one, two, strict=False))
    return next((n for n, (a, b) in pairs if a != b), min(len(one), len(two)))


def _number_groups(
    tx: Transaction, groups: Sequence[_Group], invoice_date: date | None
) -> list[_GroupNumbers] | None:
    """Numbers for the documents of *groups* (of one chunk), drawn per counter as
    :func:`_draw_numbers` draws them; None (and nothing drawn) if a counter's numbers
    cannot be written by the database."""
    planned = []
    for group in groups:
        day = invoice_date or group.invoice_date
        counter, sequence = _sequence(group.seller, group.kind, day)
        parts = _number_parts(counter, day)
        if parts is None:
            return None
        planned.append((group, day, counter, sequence, parts))
    counts: dict[str, int] = {}
    counters: dict[str, Counter] = {}
    for group, _, counter, sequence, _ in planned:
        counts[sequence] = counts.get(sequence, 0) + group.count
        counters.setdefault(sequence, counter)  # the first document's, as when drawing
    firsts = {
        sequence: _draw(tx, counters[sequence], sequence, count).start
        for sequence, count in counts.items()
    }
    parts_of = {sequence: n for n, sequence in enumerate(counts)}
    return [
        _GroupNumbers(parts_of[sequence], firsts[sequence], *parts, day)
        for _, day, _, sequence, parts in planned
    ]


def finalize(
    store: Store,
    documents: Iterable[Invoice | str] | None = None,
    *,
    invoice_date: date | None = None,
    collect: bool = True,
    settle: bool = True,
) -> list[Invoice]:
    """Finalize drafts: give each a number and make it immutable (status Open).

    Each gets its invoice balance (what it adds to the account's balance); with *settle*
    (JustOn's default) an invoice also takes the account's open credits and money on
    the account, and a credit settles the account's open invoices, oldest first.

    With *documents* ``None`` every draft in the store is finalized. Numbers come from
    the company's counter for the document kind, in the order given, inside one
    transaction: if any document is not a draft, nothing is finalized and no number is
    used. *invoice_date* re-dates the documents and recomputes their due dates. An
    invoice its account pays by SEPA direct debit, under a mandate active on the due date
    and the company's creditor id, gets its pre-notification
    (:attr:`Invoice.direct_debit <juston.Invoice.direct_debit>`).
    Returns the finalized documents; with ``collect=False`` none are kept (an empty list),
    for finalizing more documents than memory holds.
    """
    with fewer_collections(), store.transaction() as tx:
        ids = None
        if documents is not None:
            ids = _ids(documents)
            if len(set(ids)) < len(ids):
                twice = next(i for n, i in enumerate(ids) if i in ids[:n])
                raise ValidationError("documents", twice, "is listed twice; each gets one number")
        if isinstance(tx, _FinalizesInDatabase):
            return _finalize_in_database(tx, ids, invoice_date, collect=collect, settle=settle)
        if isinstance(tx, _FinalizesByHeader):
            return _finalize_by_header(tx, ids, invoice_date, collect=collect, settle=settle)
        if ids is None:
            drafts: Iterable[Invoice] = tx.documents(status=DocumentStatus.DRAFT)
        else:
            drafts = [tx.document(document_id) for document_id in ids]
        finalized: list[Invoice] = []
        for chunk in _batches(drafts, FINALIZE_CHUNK):
            _check_drafts(chunk)
            days = [invoice_date or document.invoice_date for document in chunk]
            numbers = _draw_numbers(tx, chunk, days)
            finals = [
                attrs.evolve(
                    document,
                    status=DocumentStatus.OPEN,
                    number=number,
                    invoice_date=day,
                    due_date=document.payment_terms.due_date(day),
                )
                for document, number, day in zip(chunk, numbers, days, strict=True)
            ]
            # The pre-notification of the invoices collected by SEPA direct debit: it is
            # part of the document from now on, whatever becomes of the mandate.
            finals = with_direct_debits(tx, finals)
            tx.replace_documents(finals)
            book_finalized(tx, finals, settle=settle)
            if collect:
                finalized.extend(finals)
    return finalized


#: Documents numbered, written and booked together when finalizing.
FINALIZE_CHUNK = 500


def _not_a_draft(document_id: str | None, status: DocumentStatus) -> NotADraft:
    return NotADraft(f"document {document_id}: is {status.value}, not a draft")


def _check_drafts(chunk: Iterable[Invoice | _Header]) -> None:
    for document in chunk:
        if document.status is not DocumentStatus.DRAFT:
            raise _not_a_draft(document.id, document.status)


#: Due dates by payment terms and invoice date: a few serve every document.
_DueDates = dict[tuple[PaymentTerms, date], date]


def _due_date(due_dates: _DueDates, terms: PaymentTerms, day: date) -> date:
    due = due_dates.get((terms, day))
    if due is None:
        due = due_dates[terms, day] = terms.due_date(day)
    return due


def _finalize_by_header(
    tx: _FinalizesByHeader,
    ids: Sequence[str] | None,
    invoice_date: date | None,
    *,
    collect: bool,
    settle: bool,
) -> list[Invoice]:
    """:func:`finalize` in a transaction that finalizes by header: the same numbers,
    dates, pre-notifications and balances, without reading and writing whole documents.

    Only the invoices of accounts that pay by direct debit are read whole (their
    pre-notification becomes part of the document), and, with *collect*, every document
    once finalized.
    """
    finalized: list[Invoice] = []
    due_dates: _DueDates = {}
    for chunk in _batches(tx.draft_headers(ids), FINALIZE_CHUNK):
        finals = _finalize_headers(tx, chunk, invoice_date, due_dates, settle=settle)
        if collect:
            finalized.extend(tx.documents_by_id([final.id for final in finals]))
    return finalized


def _finalize_headers(
    tx: _FinalizesByHeader,
    chunk: Sequence[_Header],
    invoice_date: date | None,
    due_dates: _DueDates,
    *,
    settle: bool,
) -> list[_Header]:
    """Finalize and book the drafts of one chunk by their headers; the finalized headers."""
    _check_drafts(chunk)
    days = [invoice_date or header.invoice_date for header in chunk]
    numbers = _draw_numbers(tx, chunk, days)
    finals = [
        header.finalized(number, day, _due_date(due_dates, header.payment_terms, day))
        for header, number, day in zip(chunk, numbers, days, strict=True)
    ]
    _write_finalized(tx, finals)
    book_finalized(tx, finals, settle=settle)
    return finals


def _write_finalized(tx: _FinalizesByHeader, finals: Sequence[_Header]) -> None:
    """Write finalized headers; an invoice its buyer pays by direct debit is written whole
    with its pre-notification, which is part of the document from now on."""
    debited = [final for final in finals if final.payment_method == SEPA_METHOD]
    if debited:
        whole = tx.documents_by_id([final.id for final in debited])
        tx.replace_documents(
            with_direct_debits(
                tx,
                [
                    attrs.evolve(
                        document,
                        status=final.status,
                        number=final.number,
                        invoice_date=final.invoice_date,
                        due_date=final.due_date,
                    )
                    for document, final in zip(whole, debited, strict=True)
                ],
            )
        )
    tx.finalize_headers([final for final in finals if final.payment_method != SEPA_METHOD])


def _finalize_in_database(
    tx: _FinalizesInDatabase,
    ids: Sequence[str] | None,
    invoice_date: date | None,
    *,
    collect: bool,
    settle: bool,
) -> list[Invoice]:
    """:func:`finalize` in a transaction that finalizes in the database: per chunk, the
    numbers are drawn per counter here and written with the dates by the database, which
    also books the invoice balances. Python finishes only drafts whose payment terms are
    new in the transaction (then their due dates are known for the next chunks), invoices
    paid by direct debit and what accounts with balances or several documents settle. A
    chunk with something the database cannot write (totals not in the currency's minor
    unit, numbers that do not split into prefix, value and suffix) is finalized by
    header: the same numbers, dates and balances either way.
    """
    finalized: list[Invoice] = []
    due_dates: _DueDates = {}
    for chunk in tx.draft_chunks(ids, FINALIZE_CHUNK):
        groups = tx.draft_groups(chunk)
        for group in groups:  # in the order of their first documents
            if group.status is not DocumentStatus.DRAFT:
                raise _not_a_draft(group.first, group.status)
        numbers = None
        if all(group.plain for group in groups):
            numbers = _number_groups(tx, groups, invoice_date)
        if numbers is None:
            headers = list(tx.draft_headers(chunk.ids))
            _finalize_headers(tx, headers, invoice_date, due_dates, settle=settle)
        else:
            left = tx.finalize_drafts(chunk, groups, numbers, due_dates, SEPA_METHOD)
            _write_finalized(
                tx,
                [
                    header.finalized(
                        header.number or "",
                        header.invoice_date,
                        _due_date(due_dates, header.payment_terms, header.invoice_date),
                    )
                    for header in left
                ],
            )
            _book_in_database(tx, chunk, settle=settle)
        if collect:
            finalized.extend(tx.documents_by_id(chunk.ids))
    return finalized


def _book_in_database(tx: _FinalizesInDatabase, chunk: _Chunk, *, settle: bool) -> None:
    """:func:`~juston.receivables.booking.book_finalized` for a chunk the database
    finalized: it adds the invoice balances; only the accounts that may settle something
    are read, before, as booking reads them."""
    settling = list(tx.draft_headers(tx.settling(chunk))) if settle else []
    accounts = list(dict.fromkeys(header.account_id for header in settling))
    before = tx.balances_of(accounts) if accounts else {}
    tx.add_invoice_balances(chunk, BalanceType.INVOICE.value)
    moves = settlements(settling, before)
    if moves:
        tx.add_balances(moves)


def delete_draft(store: Store, document: Invoice | str) -> None:
    """Delete a draft; what it billed is released for the next run."""
    (document_id,) = _ids([document])
    with store.transaction() as tx:
        if tx.document(document_id).status is not DocumentStatus.DRAFT:
            raise NotADraft(
                f"document {document_id}: only drafts can be deleted; cancel it instead"
            )
        tx.delete_document(document_id)


def cancel(store: Store, document: Invoice | str, *, cancellation_date: date) -> Invoice:
    """Cancel a finalized document with a mirror cancellation, finalized at once.

    The cancellation copies every line with negated unit price and amounts, gets a
    number from the credit counter and status Settled; the original becomes Cancelled,
    and the two are linked. What the original billed is released, so the next run bills
    it again. Payments on the original move to the account (the next invoice consumes
    them), its write-offs are reversed, and clearing balances bring both to zero. Drafts are deleted rather than cancelled, and a cancellation cannot itself
    be cancelled: re-invoice instead.
    """
    (document_id,) = _ids([document])
    with store.transaction() as tx:
        original = tx.document(document_id)
        if original.kind is DocumentKind.CANCELLATION:
            raise CannotCancel(
                f"document {original.number}: a cancellation cannot be cancelled; re-invoice instead"
            )
        if original.status not in (DocumentStatus.OPEN, DocumentStatus.PAID):
            raise CannotCancel(
                f"document {original.number or document_id}: is {original.status.value}; "
                "only open or paid documents can be cancelled (delete a draft instead)"
            )
        mirror = Invoice.create(
            lines=[line.negated() for line in original.lines],
            currency=original.currency,
            kind=DocumentKind.CANCELLATION,
            id=None,
            status=DocumentStatus.SETTLED,
            number=None,
            invoice_date=cancellation_date,
            due_date=cancellation_date,
            billing_date=cancellation_date,
            seller=original.seller,
            buyer=original.buyer,
            payment_terms=original.payment_terms,
            subscriptions=original.subscriptions,
            cancels=original.id,
            preceding=DocumentReference(original.number, original.invoice_date)
            if original.number
            else None,
        )
        mirror = attrs.evolve(mirror, number=_draw_number(tx, mirror, cancellation_date))
        mirror = tx.add_document(mirror)
        tx.replace_document(
            attrs.evolve(original, status=DocumentStatus.CANCELLED, cancelled_by=mirror.id)
        )
        book_cancellation(tx, original, mirror, cancellation_date)
    return mirror
