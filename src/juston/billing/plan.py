"""Planning an invoice run: which billable facts are due and what the documents contain.

Pure functions over values: the shell (:mod:`juston.billing.run`) loads the account,
its subscriptions and what was billed before, calls :func:`plan_account`, and stores
the result. Nothing here reads the clock or touches a store.

How idempotency works. Every recurring item is billed per period of its subscription's
grid; the fact "item *i* of subscription *s* for the period starting *d*" has a
deterministic key. Each invoice line records the :class:`~juston.model.Term` values it
billed. A run computes, for every due period, the charges that *should* have been billed
by now (from the item's history: quantities, prices, discounts, start and end) and
subtracts the terms of all stored documents (drafts included). Only the difference
becomes a line:

* nothing changed → nothing is billed (re-running is harmless);
* a quantity went up mid-period → the prorated difference;
* an item or subscription was cancelled after billing in advance → a credit for the
  unused part;
* a document was deleted (draft) or cancelled (its mirror negates its terms) → its
  periods are billed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, NamedTuple, NoReturn

import attrs
from moneyed import Currency

from .._enum import Enum
from ..errors import CurrencyMismatch, ValidationError
from ..model.billables import Billable
from ..model.catalog import Product
from ..model.documents import (
    DocumentStatus,
    Invoice,
    Line,
    LineContent,
    SummaryCache,
    Term,
    bind_line,
)
from ..model.parties import Account, Company
from ..model.subscriptions import Item, Subscription, SubscriptionStatus
from ..model.terms import PaymentTerms
from ..model.usage import UsageTotal
from ..money import ZERO
from ..periods import Grid, Period
from ..pricing.models import Charge, _fmt
from ..pricing.proration import BillingType, Measure, Practice, TaxDate
from ..rounding import round_tax
from ..tax import TaxEngine, TaxResolver, TaxResult
from .lines import Priced, Segment, priced_for_need, reconcile
from .usage import billable_priced, usage_priced

__all__ = ["BilledTerms", "RunOptions", "Split", "UsageTotals", "plan_account"]

ONE_DAY = timedelta(days=1)
#: Terms already billed, per (subscription number, item id); a billable's terms are
#: under (``"@" + source``, key).
BilledTerms = Mapping[tuple[str, str], Sequence[Term]]
#: The usage totals of an account's usage items, per (subscription number, item id).
UsageTotals = Mapping[tuple[str, str], Sequence[UsageTotal]]


class Split(Enum):
    """One document per account and currency (default), or per subscription."""

    ACCOUNT = "account"
    SUBSCRIPTION = "subscription"


class _Memo:
    """Results of pure functions of values, shared by the accounts of one run.

    Most subscriptions are made from a small price book, so most items price alike: the
    lines of an item are kept by everything they depend on but the item's id (and, with
    a tax key, taxed as line contents), the content of a line by its priced figures and
    tax decision, VAT breakdown rows by their decision and sums (see
    :meth:`Invoice.create`), and due dates by payment terms. The billing date is not in
    the keys: a memo lives in one run's options.
    """

    #: Entries a cache may hold before it starts afresh: a run over millions of accounts
    #: keeps flat memory, and alike items meet again soon after.
    LIMIT = 50_000
    #: Accounts between two checks of the limit: a cache may pass it by what so many
    #: accounts add (a few entries each), and a check per account costs more than that.
    EVERY = 100

    def __init__(self) -> None:
        self._until_check = 1
        self.priced: dict[tuple[object, ...], list[Priced]] = {}
        self.contents: dict[tuple[object, ...], LineContent] = {}
        self.items: dict[tuple[object, ...], list[LineContent]] = {}
        self.tax_keys: dict[object, int] = {}
        #: One object per distinct decision: a document whose lines are taxed alike then
        #: finds its one VAT group by identity (see :meth:`Invoice.create`).
        self.taxes: dict[TaxResult, TaxResult] = {}
        self.summaries: SummaryCache = {}
        self.due_dates: dict[tuple[str, date], date] = {}
        self._trimmed: tuple[dict[Any, Any], ...] = (
            self.priced,
            self.contents,
            self.items,
            self.taxes,
            self.summaries,
            self.due_dates,
        )

    def trim(self) -> None:
        """Empty each cache that has grown past :attr:`LIMIT` (checked once every
        :attr:`EVERY` calls; a run calls it once per account).

        The tax keys stay: they number the tax situations (a handful) that the item keys
        refer to, so renumbering them would let a key name another situation.
        """
        self._until_check -= 1
        if self._until_check:
            return
        self._until_check = self.EVERY
        limit = self.LIMIT
        for cache in self._trimmed:
            if len(cache) > limit:
                cache.clear()


@attrs.frozen(kw_only=True)
class RunOptions:
    """The settings of one invoice run."""

    billing_date: date
    run_id: str | None = None
    invoice_date: date | None = None
    split: Split = Split.ACCOUNT
    skip_zero: bool = True
    tax: TaxResolver = attrs.field(factory=TaxEngine.default)
    _memo: _Memo = attrs.field(factory=lambda: _Memo(), init=False, eq=False, repr=False)


class _Draft(NamedTuple):
    """Lines of one source with what decides which document they go on."""

    lines: list[Line]
    currency: Currency
    invoice_criterion: str | None
    subscription: Subscription | None


def group_billed(terms: Iterable[Term]) -> dict[tuple[str, str], list[Term]]:
    """Group stored terms by (subscription, item) for :func:`plan_account`."""
    grouped: dict[tuple[str, str], list[Term]] = {}
    for term in terms:
        grouped.setdefault((term.subscription, term.item_id), []).append(term)
    return grouped


def plan_account(
    company: Company,
    account: Account,
    subscriptions: Sequence[Subscription],
    billed: BilledTerms,
    options: RunOptions,
    *,
    usage: UsageTotals | None = None,
    billables: Sequence[Billable] = (),
) -> tuple[Invoice, ...]:
    """The draft documents one account gets from a run, as values.

    *usage* holds the totals of the account's usage records, *billables* its charges
    from other sources. Lines with an invoice criterion (a usage record's, or a
    billable's *invoice*) go onto a document of their own per criterion.

    Raises a :class:`~juston.JustonError` for bad data (a price in another currency, a
    quantity past the last tier …); the shell reports it for this account and goes on.
    """
    options._memo.trim()
    drafts: list[_Draft] = []
    # Decisions equal for accounts with equal keys let alike items share taxed lines.
    tax_key = _tax_key(company, account, options)
    for subscription in subscriptions:
        drafts.extend(
            _plan_subscription(
                company, subscription, account, billed, options, usage or {}, tax_key
            )
        )
    seen: set[tuple[str, str]] = set()
    for billable in billables:
        if (billable.source, billable.key) in seen:
            raise ValidationError(
                "billables",
                f"{billable.source}/{billable.key}",
                "is given twice in one run; a source key names one record",
            )
        seen.add((billable.source, billable.key))
        drafts.extend(_plan_billable(company, account, billable, billed, options))
    groups: dict[tuple[str | None, str, str | None], list[_Draft]] = {}
    subscription_split = options.split is Split.SUBSCRIPTION
    for draft in drafts:
        by = draft.lines[0].subscription if subscription_split else ""
        key = (by, draft.currency.code, draft.invoice_criterion)
        groups.setdefault(key, []).append(draft)
    documents = []
    for group in groups.values():
        document = _document(company, account, group[0].currency, group, options)
        if document.total.amount == 0 and options.skip_zero:
            continue
        documents.append(document)
    return tuple(documents)


def _plan_subscription(
    company: Company,
    subscription: Subscription,
    account: Account,
    billed: BilledTerms,
    options: RunOptions,
    usage: UsageTotals,
    tax_key: int | None,
) -> list[_Draft]:
    billing_date = options.billing_date
    if subscription.status is not SubscriptionStatus.ACTIVE:
        return []
    currency = subscription.currency or account.currency
    for price_currency in subscription.price_currencies:
        if price_currency is not currency and price_currency != currency:
            _currency_mismatch(subscription, currency)
    grid = subscription.grid
    span_of = subscription.item_span
    base_at = _base(subscription) if subscription.any_derived else _no_base
    memo = options._memo
    drafts: list[_Draft] = []
    number = subscription.number
    start, end = subscription.start, subscription.end
    for item in subscription.items:
        item_billed = billed.get((number, item.id), ()) if billed else ()
        metric = item.usage
        if metric is not None:
            priced = usage_priced(
                subscription,
                item,
                metric,
                item_billed,
                usage.get((number, item.id), ()),
                billing_date,
            )
            contents = _contents(
                company, account, currency, item.product, item.tax_date, priced, options
            )
            drafts.extend(
                [
                    _Draft([Line(c, number, item.id)], currency, p.invoice_criterion, subscription)
                    for p, c in zip(priced, contents, strict=True)
                ]
            )
            continue
        if item.derived:
            ends = bool(item.end or subscription.end)
            tax_cuts = _tax_cuts(options.tax, company, account, item)
            cuts = _derived_cuts(subscription)
            span = span_of(item)
            priced = _item_priced(
                grid, item, span, ends, item_billed, billing_date, cuts, tax_cuts, base_at
            )
            contents = _contents(
                company, account, currency, item.product, item.tax_date, priced, options
            )
        else:
            # Everything the lines of a regular item depend on, and nothing else: with a
            # tax key, what the item's tax cuts and decisions depend on is in the key.
            item_start = item.start
            history = (
                tuple([(t.period_start, t.start, t.end, t.count, t.charge) for t in item_billed])
                if item_billed
                else ()
            )
            shape = (
                item.shape,
                grid,
                item_start if item_start is not None and item_start > start else start,
                end,
                history,
            )
            found = None if tax_key is None else memo.items.get((shape, tax_key))
            if found is None:
                found = _regular_contents(
                    company, account, currency, subscription, item, item_billed, shape, options
                )
                if tax_key is not None:
                    memo.items[shape, tax_key] = found
            contents = found
        if contents:
            item_id = item.id
            lines = [bind_line(c, number, item_id) for c in contents]
            drafts.append(_Draft(lines, currency, None, subscription))
    return drafts


def _currency_mismatch(subscription: Subscription, currency: Currency) -> NoReturn:
    # An item's prices share one currency (its validators see to that).
    item = next(i for i in subscription.items if i.price.currency != currency)
    raise CurrencyMismatch(
        "price",
        f"{subscription.number}/{item.id}",
        f"is in {item.price.currency.code}, but the subscription bills in {currency.code}",
    )


def _regular_contents(
    company: Company,
    account: Account,
    currency: Currency,
    subscription: Subscription,
    item: Item,
    billed: Sequence[Term],
    shape: tuple[object, ...],
    options: RunOptions,
) -> list[LineContent]:
    """The taxed lines of a regular item; its priced lines are shared by *shape* and tax cuts."""
    tax_cuts = _tax_cuts(options.tax, company, account, item)
    memo = options._memo
    priced = memo.priced.get((shape, tax_cuts))
    if priced is None:
        ends = bool(item.end or subscription.end)
        span = subscription.item_span(item)
        priced = memo.priced[shape, tax_cuts] = _item_priced(
            subscription.grid,
            item,
            span,
            ends,
            billed,
            options.billing_date,
            set(),
            tax_cuts,
            _no_base,
        )
    return _contents(company, account, currency, item.product, item.tax_date, priced, options)


def _plan_billable(
    company: Company, account: Account, billable: Billable, billed: BilledTerms, options: RunOptions
) -> list[_Draft]:
    source = billable.term_source
    if billable.account_id != account.id:
        raise ValidationError(
            "account_id", billable.account_id, f"of billable {billable.key} is not {account.id}"
        )
    priced = billable_priced(billable, billed.get((source, billable.key), ()), options.billing_date)
    currency = billable.unit_price.currency
    contents = _contents(
        company, account, currency, billable.product, TaxDate.SERVICE_PERIOD, priced, options
    )
    return [
        _Draft([Line(c, source, billable.key)], currency, p.invoice_criterion, None)
        for p, c in zip(priced, contents, strict=True)
    ]


_PRORATED = (BillingType.RECURRING_PRORATED, BillingType.RECURRING_PRORATED_AVERAGE)


def _tax_cuts(tax: TaxResolver, company: Company, account: Account, item: Item) -> tuple[date, ...]:
    """Where a line of *item* is split because its tax changes (prorated items only)."""
    if item.tax_date is not TaxDate.SERVICE_PERIOD or item.billing_type not in _PRORATED:
        return ()
    return tax.changes(company=company, account=account, product=item.product)


def _tax_key(company: Company, account: Account, options: RunOptions) -> int | None:
    """A small number per run for what the tax decisions read of the parties (if known)."""
    account_key = getattr(options.tax, "account_key", None)
    if account_key is None:
        return None
    keys = options._memo.tax_keys
    return keys.setdefault(account_key(company=company, account=account), len(keys))


def _no_base(day: date) -> Decimal:
    return ZERO


def _base(subscription: Subscription) -> Callable[[date], Decimal]:
    """The total of the regular items on a day: what derived items are priced from."""
    regular = [i for i in subscription.items if not i.derived]

    def base_at(day: date) -> Decimal:
        total = ZERO
        for other in regular:
            span = subscription.item_span(other)
            if span is not None and day in span:
                total += sum((c.total for c in _charges_on(other, day, ZERO)), ZERO)
        return total

    return base_at


def _derived_cuts(subscription: Subscription) -> set[date]:
    """Where the base of derived items may change: the regular items' changes and ends."""
    cuts: set[date] = set()
    for item in subscription.items:
        if not item.derived:
            cuts |= item.change_dates()
            span = subscription.item_span(item)
            if span is not None:
                cuts |= {span.start, span.end}
    return cuts


def _charges_on(item: Item, day: date, base: Decimal) -> tuple[Charge, ...]:
    model = item.model_on(day)
    charges = model.charges(item.quantity_on(day), base=base)
    if item.discount is not None and item.discount.active_on(day):
        charges = item.discount.apply(charges)
    return tuple(c for c in charges if c.quantity or c.total)


def _service_periods(
    grid: Grid,
    item: Item,
    span: Period | None,
    ends: bool,
    billing_date: date,
    billed: Sequence[Term],
) -> list[tuple[Period, Period | None]]:
    """(grid period, service span or None) for every period due now or billed before.

    *span* is the item's service range; *ends* says whether the item or its subscription
    has an end date (a one-time item without one is billed for its first day).
    """
    found: dict[date, tuple[Period, Period | None]] = {}
    if span is not None and item.billing_type is BillingType.ONE_TIME:
        service = Period(span.start, span.end if ends else span.start + ONE_DAY)
        if _is_due(service, item.practice, billing_date):
            found[service.start] = (service, service)
    elif span is not None and span.start <= billing_date:
        for period in grid.periods(span.start, min(span.end, billing_date + ONE_DAY)):
            part = period.intersect(span)
            if part is not None and _is_due(part, item.practice, billing_date):
                found[period.start] = (period, part)
    # A period billed before but not due on this date (a back-dated run, or arrears whose
    # end moved later) is kept in line with the item's history only within the range it
    # was billed for: a shorter service is credited, a longer one waits until it is due.
    covered: dict[date, Period] = {}
    for term in billed:
        if term.period_start not in found:
            seen = covered.get(term.period_start)
            start = term.start if seen is None else min(seen.start, term.start)
            end = term.end if seen is None else max(seen.end, term.end)
            covered[term.period_start] = Period(start, end)
    for period_start, billed_range in covered.items():
        if item.billing_type is BillingType.ONE_TIME:
            period = Period(period_start, max(billed_range.end, period_start + ONE_DAY))
        else:
            period = grid.containing(period_start)
        part = span and period.intersect(span)
        found[period_start] = (period, part and part.intersect(billed_range))
    return [found[day] for day in sorted(found)]


def _is_due(service: Period, practice: Practice, billing_date: date) -> bool:
    if practice is Practice.ADVANCE:
        return service.start <= billing_date
    return service.end <= billing_date


def _item_priced(
    grid: Grid,
    item: Item,
    span: Period | None,
    ends: bool,
    billed: Sequence[Term],
    billing_date: date,
    extra_cuts: set[date],
    tax_cuts: tuple[date, ...],
    base_at: Callable[[date], Decimal],
) -> list[Priced]:
    """The lines an item owes: for each due period, what it should have minus what it had.

    A line is split at *tax_cuts*, so that each part has one tax.
    """
    priced: list[Priced] = []
    for period, service in _service_periods(grid, item, span, ends, billing_date, billed):
        previous = [t for t in billed if t.period_start == period.start]
        expected = _segments(item, service, extra_cuts, base_at) if service is not None else []
        needs = reconcile(expected, previous)
        if not needs:
            continue
        origin = service.start if service is not None else min(t.start for t in previous)
        measure = Measure(grid, period, origin, item.billing_type)
        for start, end, need in needs:
            inner = [d for d in tax_cuts if start < d < end]
            for part_start, part_end in pairwise([start, *inner, end]):
                priced.extend(
                    priced_for_need(
                        item.description or item.product.name,
                        type(item.model_on(part_start)).__name__,
                        period,
                        measure,
                        part_start,
                        part_end,
                        need,
                        code=item.price.currency.code,
                        discount=item.discount.describe() if item.discount else None,
                    )
                )
    return priced


def _segments(
    item: Item, service: Period, extra_cuts: set[date], base_at: Callable[[date], Decimal]
) -> list[Segment]:
    """The charges in force over *service*, as maximal constant pieces."""
    cuts = sorted(d for d in item.change_dates() | extra_cuts if service.start < d < service.end)
    segments: list[Segment] = []
    for start, end in pairwise([service.start, *cuts, service.end]):
        charges = _charges_on(item, start, base_at(start) if item.derived else ZERO)
        if segments and segments[-1][2] == charges:
            segments[-1] = (segments[-1][0], end, charges)
        elif charges:
            segments.append((start, end, charges))
    return segments


def _contents(
    company: Company,
    account: Account,
    currency: Currency,
    product: Product,
    tax_date: TaxDate,
    priced: Sequence[Priced],
    options: RunOptions,
) -> list[LineContent]:
    """The priced lines of *product* taxed, as shared line contents."""
    code = currency.code
    contents = options._memo.contents
    taxes = options._memo.taxes
    invoice_date = options.invoice_date or options.billing_date
    found = []
    for each in priced:
        # Lines split at tax changes have one tax throughout; the others (not prorated)
        # take the tax of their last day served, as a continuous service does.
        day = invoice_date if tax_date is TaxDate.BOOKING_DATE else each.line_period.end - ONE_DAY
        tax = options.tax.resolve(company=company, account=account, product=product, day=day)
        tax = taxes.setdefault(tax, tax)
        key = (each, tax, product.code, product.unit_code, product.tax_class, code)
        content = contents.get(key)
        if content is None:
            content = contents[key] = _content(each, tax, product, currency)
        found.append(content)
    return found


def _document(
    company: Company,
    account: Account,
    currency: Currency,
    drafts: list[_Draft],
    options: RunOptions,
) -> Invoice:
    memo = options._memo
    invoice_date = options.invoice_date or options.billing_date
    by_number = {s.number: s for d in drafts if (s := d.subscription) is not None}
    subscriptions = list(by_number.values())
    terms = _payment_terms(company, account, subscriptions)
    # By the pattern, a string: its hash is kept, a PaymentTerms' is not.
    due = memo.due_dates.get((terms.pattern, invoice_date))
    if due is None:
        due = memo.due_dates[terms.pattern, invoice_date] = terms.due_date(invoice_date)
    return Invoice.create(
        lines=[line for d in drafts for line in d.lines],
        currency=currency,
        cache=memo.summaries,
        id=None,
        status=DocumentStatus.DRAFT,
        number=None,
        invoice_date=invoice_date,
        due_date=due,
        payment_terms=terms,
        billing_date=options.billing_date,
        seller=company,
        buyer=account,
        subscriptions=tuple(by_number),
        run_id=options.run_id,
    )


def _content(priced: Priced, tax: TaxResult, product: Product, currency: Currency) -> LineContent:
    """What a priced line says once taxed: shared by every document that bills it."""
    criterion, invoice_criterion = priced.criterion, priced.invoice_criterion
    start, end = priced.line_period.start, priced.line_period.end
    return LineContent(
        description=priced.description,
        period=priced.line_period,
        quantity=priced.quantity,
        unit_code=product.unit_code,
        currency=currency,
        unit_price_amount=priced.unit_price,
        billing_factor=priced.factor,
        discount_amount=priced.gross - priced.net,
        net_amount=priced.net,
        tax_class=product.tax_class,
        vat=tax,
        tax_amount=round_tax(priced.net, tax.rate, currency.code),
        explanation=f"{priced.explanation}; tax {_fmt(tax.rate)} % {tax.category} "
        f"(rule {tax.rule}: {tax.explanation})",
        product_code=product.code,
        period_start=priced.period_start,
        term_parts=tuple(
            (priced.period_start, start, end, n, c, criterion, invoice_criterion)
            for c, n in priced.charges
        ),
    )


def _payment_terms(
    company: Company, account: Account, subscriptions: list[Subscription]
) -> PaymentTerms:
    own = {s.payment_terms for s in subscriptions}
    if len(own) == 1 and (only := own.pop()) is not None:
        return only
    return account.payment_terms or company.payment_terms
