"""The dunning run, finalizing and cancelling dunnings, blocks: the shell around
:func:`juston.dunning.decide.decide`.

A run makes (or refreshes) one draft per account; running again on the same day with
nothing changed changes nothing, and a payment booked since removes the invoice from
the draft. Finalizing numbers a draft and books its fee and interest (the legally
effective step); cancelling reverses that.

    >>> from datetime import date
    >>> import juston
    >>> from juston.testing import issue, sample_store
    >>> store = sample_store(accounts=1)
    >>> _ = issue(store, "C0000001", "119.00", on=date(2026, 1, 1))   # due 15 January
    >>> str(dunning_run(store, date(2026, 2, 14)))   # 30 days overdue: the reminder
    '1 new, 0 refreshed, 0 unchanged, 0 removed'
    >>> str(dunning_run(store, date(2026, 2, 14)))
    '0 new, 0 refreshed, 1 unchanged, 0 removed'
    >>> [(d.number, d.level) for d in finalize_dunnings(store)]
    [('DUN-2026-00001', 1)]
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date
from decimal import Decimal

import attrs
from moneyed import Money

from ..errors import StateError, ValidationError
from ..model.documents import Invoice
from ..model.dunning import Dunning, DunningBlock, DunningConfig, DunningStatus
from ..model.receivables import Balance, BalanceType, Installment, InstallmentPlan
from ..model.status import DocumentKind, DocumentStatus
from ..money import ZERO
from ..payments.due import amount_due
from ..receivables.ledger import free_amount, open_amounts
from ..storage.base import Reader, Store
from .decide import Candidate, decide

__all__ = [
    "DunningRunResult",
    "block_dunning",
    "cancel_dunning",
    "dunning_levels",
    "dunning_run",
    "finalize_dunnings",
    "postpone_due_date",
    "unblock_dunning",
]

#: Balance types a dunning adds to an invoice; the rest of its open amount is principal.
CHARGES = (BalanceType.DUNNING_FEE, BalanceType.INTEREST)


@attrs.frozen
class DunningRunResult:
    """What a dunning run did: drafts made, refreshed, left as they were, removed."""

    created: tuple[Dunning, ...]
    refreshed: tuple[Dunning, ...]
    unchanged: tuple[Dunning, ...]
    removed: tuple[str, ...]

    @property
    def drafts(self) -> tuple[Dunning, ...]:
        return self.created + self.refreshed + self.unchanged

    def __str__(self) -> str:
        return (
            f"{len(self.created)} new, {len(self.refreshed)} refreshed, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed"
        )


def dunning_levels(reader: Reader, account_id: str) -> dict[str, int]:
    """The level each invoice of the account has from its closed dunnings."""
    levels: dict[str, int] = {}
    for dunning in reader.dunnings(account_id=account_id, status=DunningStatus.CLOSED):
        for detail in dunning.details:
            levels[detail.document_id] = max(levels.get(detail.document_id, 0), detail.level)
    return levels


def _overdue_since(document: Invoice, plan: InstallmentPlan | None, principal: Money) -> date:
    """The due date of the oldest unpaid part: payments pay the earliest installments."""
    if plan is None:
        return document.due_date
    paid = plan.total.amount - principal.amount
    running = Decimal(0)
    for installment in plan.installments:
        running += installment.amount.amount
        if running > paid:
            return installment.due_date
    return plan.installments[-1].due_date


def _blocked(blocks: Sequence[DunningBlock], key: str, as_of: date) -> bool:
    return any(b.key == key and b.active_on(as_of) for b in blocks)


def _candidates(
    tx: Reader, account_id: str, as_of: date, blocks: Sequence[DunningBlock]
) -> tuple[list[Candidate], Money]:
    account = tx.account(account_id)
    balances = [b for b in tx.balances(account_id=account_id) if b.date <= as_of]
    opens = open_amounts(balances)
    levels = dunning_levels(tx, account_id)
    credits = Money(ZERO, account.currency)
    invoices = []
    for item in opens:
        if item.amount.amount < 0:
            credits += item.amount
        else:
            invoices.append(item)
    free = free_amount(balances, account.currency)
    if free.amount < 0:
        credits += free
    plans = tx.installment_plans_of([o.document_id for o in invoices])
    account_blocked = _blocked(blocks, f"account:{account_id}", as_of)
    found = []
    for item in invoices:
        document = tx.document(item.document_id)
        if document.kind is DocumentKind.CANCELLATION or document.status is not DocumentStatus.OPEN:
            continue
        own = [b for b in balances if b.document_id == item.document_id]
        # What cancelled dunnings booked was reversed: it neither dates nor counts.
        undone = {b.id.removesuffix(":cancel") for b in own if b.id.endswith(":cancel")}
        charged = [
            b for b in own if b.type in CHARGES and b.id not in undone and ":cancel" not in b.id
        ]
        charges = sum((b.amount.amount for b in own if b.type in CHARGES), ZERO)
        principal = Money(item.amount.amount - charges, item.amount.currency)
        plan = plans.get(item.document_id)
        found.append(
            Candidate(
                document=document,
                open=item.amount,
                principal=principal,
                overdue=amount_due(principal, document.due_date, plan, as_of),
                overdue_since=_overdue_since(document, plan, principal),
                previous_level=levels.get(item.document_id, 0),
                interest_booked=Money(
                    sum((b.amount.amount for b in own if b.type is BalanceType.INTEREST), ZERO),
                    item.amount.currency,
                ),
                interest_since=max(
                    (b.date for b in charged if b.type is BalanceType.INTEREST), default=None
                ),
                flat_fee_booked=any(b.id.endswith(":flat") for b in charged),
                blocked=account_blocked or _blocked(blocks, f"document:{item.document_id}", as_of),
            )
        )
    return found, credits


def _decide(
    tx: Reader,
    account_id: str,
    as_of: date,
    config: DunningConfig,
    blocks: Sequence[DunningBlock],
) -> Dunning | None:
    candidates, credits = _candidates(tx, account_id, as_of, blocks)
    return decide(tx.account(account_id), tx.company(), candidates, credits, config, as_of)


def dunning_run(
    store: Store,
    as_of: date,
    config: DunningConfig | None = None,
    *,
    accounts: Collection[str] | None = None,
) -> DunningRunResult:
    """Make or refresh the draft dunning of every account (or of *accounts*) on *as_of*.

    Each account's draft is decided anew: unchanged drafts stay as they are (same id), a
    changed one is replaced, and one whose account no longer needs dunning is removed.
    Drafts of other days are refreshed too, so an account has at most one draft.
    """
    config = config or DunningConfig.default()
    created, refreshed, unchanged, removed = [], [], [], []
    with store.transaction() as tx:
        drafts = {d.account_id: d for d in tx.dunnings(status=DunningStatus.DRAFT)}
        blocks = tx.dunning_blocks()
        owing = {o.account_id for o in tx.open_documents(accounts) if o.amount.amount > 0}
        for account_id in sorted(owing | set(drafts)):
            if accounts is not None and account_id not in accounts:
                continue
            new = _decide(tx, account_id, as_of, config, blocks)
            old = drafts.get(account_id)
            if new is None:
                if old is not None and old.id is not None:
                    tx.delete_dunning(old.id)
                    removed.append(old.id)
            elif old is None:
                created.append(tx.add_dunning(new))
            elif attrs.evolve(new, id=old.id) == old:
                unchanged.append(old)
            else:
                new = attrs.evolve(new, id=old.id)
                tx.replace_dunning(new)
                refreshed.append(new)
    return DunningRunResult(tuple(created), tuple(refreshed), tuple(unchanged), tuple(removed))


def _ids(dunnings: Iterable[Dunning | str]) -> list[str]:
    ids = []
    for dunning in dunnings:
        dunning_id = dunning if isinstance(dunning, str) else dunning.id
        if dunning_id is None:
            raise ValidationError("dunnings", dunning, "is not stored (it has no id)")
        ids.append(dunning_id)
    return ids


def _bookings(dunning: Dunning) -> list[Balance]:
    """The fee and interest a closed dunning books: what makes it legally effective."""
    assert dunning.id is not None
    stem = f"dunning:{dunning.id}"
    day, account_id = dunning.dunning_date, dunning.account_id
    booked = []
    if dunning.fee.amount and dunning.fee_document_id is not None:
        booked.append(
            Balance(
                id=f"{stem}:fee",
                account_id=account_id,
                document_id=dunning.fee_document_id,
                type=BalanceType.DUNNING_FEE,
                amount=dunning.fee,
                date=day,
                cause=dunning.number,
                note=f"dunning fee, level {dunning.level}",
            )
        )
    for detail in dunning.details:
        for kind, amount, suffix in (
            (BalanceType.INTEREST, detail.interest, "interest"),
            (BalanceType.DUNNING_FEE, detail.flat_fee, "flat"),
        ):
            if amount.amount:
                booked.append(
                    Balance(
                        id=f"{stem}:{detail.document_id}:{suffix}",
                        account_id=account_id,
                        document_id=detail.document_id,
                        type=kind,
                        amount=amount,
                        date=day,
                        cause=dunning.number,
                    )
                )
    return booked


def finalize_dunnings(
    store: Store,
    dunnings: Iterable[Dunning | str] | None = None,
    config: DunningConfig | None = None,
) -> list[Dunning]:
    """Close drafts (all, or *dunnings*): each is decided once more on its date (a payment
    booked since the run takes its invoice out; nothing left to dun removes the draft),
    numbered ``DUN-<year>-<n>``, and its fee and interest are booked on the invoices.
    Returns the closed dunnings. Pass the *config* the run used."""
    config = config or DunningConfig.default()
    closed: list[Dunning] = []
    with store.transaction() as tx:
        if dunnings is None:
            drafts = list(tx.dunnings(status=DunningStatus.DRAFT))
        else:
            drafts = [tx.dunning(i) for i in _ids(dunnings)]
        blocks = tx.dunning_blocks()
        for draft in drafts:
            if draft.status is not DunningStatus.DRAFT:
                raise StateError(f"dunning {draft.number}: is {draft.status.value}, not a draft")
            assert draft.id is not None
            fresh = _decide(tx, draft.account_id, draft.dunning_date, config, blocks)
            if fresh is None:
                tx.delete_dunning(draft.id)
                continue
            year = draft.dunning_date.year
            n = tx.next_number(f"{fresh.company.id}/dunning/{year}")
            final = attrs.evolve(
                fresh, id=draft.id, status=DunningStatus.CLOSED, number=f"DUN-{year}-{n:05d}"
            )
            tx.replace_dunning(final)
            tx.add_balances(_bookings(final))
            closed.append(final)
    return closed


def cancel_dunning(store: Store, dunning: Dunning | str, *, on: date) -> Dunning | None:
    """Cancel a dunning: a draft is deleted (None is returned); a closed one has its fee
    and interest reversed on *on* and becomes Cancelled, and its invoices fall back to
    the levels they had without it."""
    (dunning_id,) = _ids([dunning])
    with store.transaction() as tx:
        stored = tx.dunning(dunning_id)
        if stored.status is DunningStatus.DRAFT:
            tx.delete_dunning(dunning_id)
            return None
        if stored.status is DunningStatus.CANCELLED:
            raise StateError(f"dunning {stored.number}: is cancelled already")
        reversed_ = [
            attrs.evolve(
                b, id=f"{b.id}:cancel", amount=-b.amount, date=on, note="dunning cancelled"
            )
            for b in _bookings(stored)
        ]
        tx.add_balances(reversed_)
        cancelled = attrs.evolve(stored, status=DunningStatus.CANCELLED, cancelled_on=on)
        tx.replace_dunning(cancelled)
    return cancelled


def _block_key(account_id: str | None, document: Invoice | str | None) -> str:
    if (account_id is None) == (document is None):
        raise ValidationError("account_id", account_id, "give an account or a document, not both")
    if account_id is not None:
        return f"account:{account_id}"
    return f"document:{document if isinstance(document, str) else document.id}"  # type: ignore[union-attr]


def block_dunning(
    store: Store,
    *,
    reason: str,
    account_id: str | None = None,
    document: Invoice | str | None = None,
    until: date | None = None,
) -> DunningBlock:
    """Stop dunning an account or one invoice (disputed), until a date or for good."""
    key = _block_key(account_id, document)
    block = DunningBlock(key=key, reason=reason, until=until)
    with store.transaction() as tx:
        if account_id is not None:
            tx.account(account_id)
        else:
            tx.document(key.removeprefix("document:"))
        tx.put_dunning_block(block)
    return block


def unblock_dunning(
    store: Store, *, account_id: str | None = None, document: Invoice | str | None = None
) -> None:
    """Lift a block set with :func:`block_dunning`."""
    with store.transaction() as tx:
        tx.delete_dunning_block(_block_key(account_id, document))


def postpone_due_date(store: Store, document: Invoice | str, due_date: date) -> InstallmentPlan:
    """Give an invoice a later due date for dunning and collection (JustOn's way of
    blocking by postponing): a plan of one installment on *due_date*."""
    with store.transaction() as tx:
        doc = tx.document(document if isinstance(document, str) else document.id or "")
        if doc.status is not DocumentStatus.OPEN or doc.total.amount <= 0 or doc.id is None:
            raise StateError(
                f"document {doc.number or doc.id}: only open invoices can be postponed"
            )
        if due_date <= doc.due_date:
            raise ValidationError("due_date", due_date, f"is not after the due date {doc.due_date}")
        plan = InstallmentPlan(
            document_id=doc.id, installments=[Installment(due_date=due_date, amount=doc.total)]
        )
        tx.put_installment_plan(plan)
    return plan
