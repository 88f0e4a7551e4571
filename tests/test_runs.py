"""Invoice-run behaviour: idempotency, dry runs, forecasts, drafts, finalizing, isolation, splits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from juston import (
    Account,
    Address,
    BillingType,
    CurrencyMismatch,
    DocumentKind,
    DocumentStatus,
    Flat,
    Item,
    JustonError,
    MemoryStore,
    NotADraft,
    PerUnit,
    PricingError,
    Product,
    Split,
    Subscription,
    Tier,
    Volume,
    delete_draft,
    finalize,
    forecast,
    invoice_run,
    money,
)
from juston.testing import sample_company

D = Decimal
SEATS = Product(code="SEATS", name="User seats")
PLATFORM = Product(code="PLATFORM", name="Platform", unit_code="MON")
EBOOK = Product(code="EBOOK", name="Handbook (e-book)", tax_class="reduced")
REBATE = Product(code="REBATE", name="Partner rebate")


def eur(amount: str):
    return money(amount, "EUR")


def make_account(account_id: str) -> Account:
    return Account(
        id=account_id,
        name=f"Kunde {account_id}",
        billing_address=Address(street="Ring 2", postcode="80331", city="München", country="DE"),
        currency="EUR",
    )


def seats(quantity: int = 5, unit_price: str = "10.00", **kw) -> Item:
    # monthly: quantity × unit_price per month
    return Item(
        id="seats", product=SEATS, price=PerUnit(eur(unit_price)), quantity=D(quantity), **kw
    )


def sub(
    account_id: str, items, *, number: str | None = None, start=date(2026, 1, 1), **kw
) -> Subscription:
    return Subscription(
        number=number or f"S-{account_id}", account_id=account_id, start=start, items=items, **kw
    )


def make_store(*subscriptions: Subscription, accounts=()) -> MemoryStore:
    store = MemoryStore()
    store.put_company(sample_company())
    for account_id in sorted({s.account_id for s in subscriptions} | set(accounts)):
        store.put_account(make_account(account_id))
    for subscription in subscriptions:
        store.put_subscription(subscription)
    return store


def stored(store: MemoryStore, **filters):
    return list(store.documents(**filters))


def only(documents):
    assert len(documents) == 1, documents
    return documents[0]


# --------------------------------------------------------------------------------------
# Idempotency
# --------------------------------------------------------------------------------------


def test_rerun_on_same_and_later_date_bills_nothing_twice():
    store = make_store(sub("C1", [seats()]))
    first = invoice_run(store, date(2026, 1, 1))
    # 5 × 10.00 = 50.00
    assert only(first.documents).net_total.amount == D("50.00")
    assert invoice_run(store, date(2026, 1, 1)).documents == ()
    assert invoice_run(store, date(2026, 1, 20)).documents == ()
    assert invoice_run(store, date(2026, 1, 31)).documents == ()
    # February only: one line for Feb 1..Feb 28
    feb = only(invoice_run(store, date(2026, 2, 1)).documents)
    line = only(feb.lines)
    assert (line.period.start, line.period.last_day, line.net.amount) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
        D("50.00"),
    )
    assert invoice_run(store, date(2026, 2, 1)).documents == ()
    assert len(stored(store)) == 2


def test_rerun_after_finalize_bills_nothing_twice():
    store = make_store(sub("C1", [seats()]))
    finalize(store, invoice_run(store, date(2026, 1, 1)).documents)
    assert invoice_run(store, date(2026, 1, 15)).documents == ()


def test_late_run_catches_up_missed_periods_once():
    store = make_store(sub("C1", [seats()]))
    invoice_run(store, date(2026, 1, 1))
    # Feb and Mar were never run: the Mar 1 run bills both, 2 × 50.00 = 100.00
    doc = only(invoice_run(store, date(2026, 3, 1)).documents)
    assert sorted(ln.period.start for ln in doc.lines) == [date(2026, 2, 1), date(2026, 3, 1)]
    assert doc.net_total.amount == D("100.00")
    assert invoice_run(store, date(2026, 3, 1)).documents == ()


def test_one_time_item_is_billed_once():
    book = Item(
        id="book",
        product=EBOOK,
        price=PerUnit(eur("19.90")),
        quantity=D(2),
        billing_type=BillingType.ONE_TIME,
    )
    store = make_store(sub("C1", [seats(), book]))
    jan = only(invoice_run(store, date(2026, 1, 1)).documents)
    book_line = only([ln for ln in jan.lines if ln.item_id == "book"])
    # 2 × 19.90 = 39.80; reduced tax 7 %: 2.786 -> 2.79
    assert book_line.billing_factor == D(1)
    assert book_line.net.amount == D("39.80")
    assert book_line.tax.amount == D("2.79")
    feb = only(invoice_run(store, date(2026, 2, 1)).documents)
    assert [ln.item_id for ln in feb.lines] == ["seats"]
    assert invoice_run(store, date(2026, 3, 1)).documents[0].net_total.amount == D("50.00")


# --------------------------------------------------------------------------------------
# Dry runs and forecasts
# --------------------------------------------------------------------------------------


def test_dry_run_stores_nothing():
    store = make_store(sub("C1", [seats()]), sub("C2", [seats(quantity=2)]))
    result = invoice_run(store, date(2026, 1, 1), dry_run=True)
    assert result.dry_run is True
    assert result.run_id is None
    # C1: 5 × 10.00 = 50.00; C2: 2 × 10.00 = 20.00
    assert [d.net_total.amount for d in result.documents] == [D("50.00"), D("20.00")]
    assert all(d.id is None and d.status is DocumentStatus.DRAFT for d in result.documents)
    assert stored(store) == []
    # A dry-run document cannot be finalized (it has no id).
    with pytest.raises(NotADraft):
        finalize(store, result.documents)
    # A real run afterwards still bills everything.
    real = invoice_run(store, date(2026, 1, 1))
    assert [d.net_total.amount for d in real.documents] == [D("50.00"), D("20.00")]
    assert len(stored(store)) == 2


def test_forecast_returns_next_months_without_storing():
    store = make_store(sub("C1", [seats()]))
    documents = forecast(store, date(2026, 1, 1), 3)
    # One document per monthly run: Jan, Feb, Mar, each 50.00 net, 9.50 tax, 59.50 total.
    assert [d.billing_date for d in documents] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert [only(d.lines).period.start for d in documents] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    assert [d.total.amount for d in documents] == [D("59.50")] * 3
    assert all(d.id is None for d in documents)
    assert stored(store) == []
    # Forecasting again gives the same (nothing was stored).
    assert [d.total.amount for d in forecast(store, date(2026, 1, 1), 3)] == [D("59.50")] * 3


def test_forecast_sees_stored_documents():
    store = make_store(sub("C1", [seats()]))
    invoice_run(store, date(2026, 1, 1))
    documents = forecast(store, date(2026, 1, 1), 3)
    # January is already billed: only Feb and Mar remain.
    assert [only(d.lines).period.start for d in documents] == [date(2026, 2, 1), date(2026, 3, 1)]
    assert len(stored(store)) == 1


# --------------------------------------------------------------------------------------
# Drafts
# --------------------------------------------------------------------------------------


def test_delete_draft_releases_and_next_run_rebills():
    store = make_store(sub("C1", [seats()]))
    draft = only(invoice_run(store, date(2026, 1, 1)).documents)
    delete_draft(store, draft)
    assert stored(store) == []
    again = only(invoice_run(store, date(2026, 1, 5)).documents)
    line = only(again.lines)
    assert (line.period.start, line.net.amount) == (date(2026, 1, 1), D("50.00"))
    assert invoice_run(store, date(2026, 1, 5)).documents == ()


def test_delete_draft_by_id_and_refuses_finalized():
    store = make_store(sub("C1", [seats()]))
    draft = only(invoice_run(store, date(2026, 1, 1)).documents)
    (final,) = finalize(store, [draft.id])
    with pytest.raises(NotADraft):
        delete_draft(store, final.id)
    assert store.document(final.id).status is DocumentStatus.OPEN


# --------------------------------------------------------------------------------------
# Finalizing
# --------------------------------------------------------------------------------------


def test_finalize_assigns_gapless_numbers_in_given_order():
    store = make_store(*(sub(f"C{n}", [seats()]) for n in (1, 2, 3)))
    a, b, c = invoice_run(store, date(2026, 1, 1)).documents
    assert (a.account_id, b.account_id, c.account_id) == ("C1", "C2", "C3")
    assert a.number is None
    done = finalize(store, [c, a, b])
    assert [(d.account_id, d.number) for d in done] == [
        ("C3", "INV-2026-00001"),
        ("C1", "INV-2026-00002"),
        ("C2", "INV-2026-00003"),
    ]
    assert all(d.status is DocumentStatus.OPEN for d in done)
    assert store.document(c.id).number == "INV-2026-00001"
    # Next month continues without a gap; documents=None finalizes every draft.
    invoice_run(store, date(2026, 2, 1))
    assert sorted(d.number for d in finalize(store)) == [
        "INV-2026-00004",
        "INV-2026-00005",
        "INV-2026-00006",
    ]


def test_finalize_is_all_or_nothing():
    rebate = Item(
        id="rebate", product=REBATE, price=Flat(eur("-20.00")), billing_type=BillingType.RECURRING
    )
    store = make_store(sub("C1", [seats()]), sub("C2", [rebate]))
    invoice, credit = invoice_run(store, date(2026, 1, 1)).documents
    assert invoice.kind is DocumentKind.INVOICE
    assert credit.kind is DocumentKind.CREDIT
    (credit,) = finalize(store, [credit])
    assert credit.number == "CR-2026-00001"

    # The draft comes first, so it would draw INV-2026-00001 before the non-draft fails.
    with pytest.raises(NotADraft):
        finalize(store, [invoice, credit])
    unchanged = store.document(invoice.id)
    assert unchanged.status is DocumentStatus.DRAFT
    assert unchanged.number is None
    assert store.document(credit.id).number == "CR-2026-00001"

    (invoice,) = finalize(store, [invoice])
    assert invoice.number == "INV-2026-00001"
    # The credit counter was not advanced either.
    (next_credit,) = finalize(
        store, invoice_run(store, date(2026, 2, 1), accounts=["C2"]).documents
    )
    assert next_credit.number == "CR-2026-00002"


def test_finalize_twice_raises_and_assigns_no_number():
    store = make_store(sub("C1", [seats()]), sub("C2", [seats()]))
    first, second = invoice_run(store, date(2026, 1, 1)).documents
    (first,) = finalize(store, [first])
    with pytest.raises(NotADraft):
        finalize(store, [first])
    assert store.document(first.id).number == "INV-2026-00001"
    assert finalize(store, [second])[0].number == "INV-2026-00002"


# --------------------------------------------------------------------------------------
# Per-account isolation
# --------------------------------------------------------------------------------------


def test_currency_mismatch_isolated_to_its_account():
    usd = Item(id="usd", product=SEATS, price=PerUnit(money("10.00", "USD")), quantity=D(1))
    store = make_store(
        sub("C1", [seats()]),
        sub("C2", [seats()], number="S-C2-good"),
        sub("C2", [usd], number="S-C2-bad"),
        sub("C3", [seats(quantity=3)]),
    )
    result = invoice_run(store, date(2026, 1, 1))
    failure = only(result.failures)
    assert failure.account_id == "C2"
    assert isinstance(failure.error, CurrencyMismatch)
    assert isinstance(failure.error, JustonError)
    # C1: 50.00, C3: 3 × 10.00 = 30.00; nothing at all for C2, not even its good subscription
    assert [(d.account_id, d.net_total.amount) for d in result.documents] == [
        ("C1", D("50.00")),
        ("C3", D("30.00")),
    ]
    assert stored(store, account_id="C2") == []
    assert len(stored(store)) == 2


def test_pricing_error_isolated_to_its_account():
    bounded = Volume([Tier(10, eur("2.50")), Tier(20, eur("2.40"))])
    too_many = Item(id="storage", product=SEATS, price=bounded, quantity=D(21))
    store = make_store(sub("C1", [too_many]), sub("C2", [seats()]))
    result = invoice_run(store, date(2026, 1, 1))
    failure = only(result.failures)
    assert failure.account_id == "C1"
    assert isinstance(failure.error, PricingError)
    assert [d.account_id for d in result.documents] == ["C2"]
    assert stored(store, account_id="C1") == []


# --------------------------------------------------------------------------------------
# Splitting, credits and zero totals
# --------------------------------------------------------------------------------------


def _two_subscriptions_store() -> MemoryStore:
    platform = Item(
        id="platform",
        product=PLATFORM,
        price=Flat(eur("49.00")),
        billing_type=BillingType.RECURRING,
    )
    return make_store(sub("C1", [seats()], number="S1"), sub("C1", [platform], number="S2"))


def test_split_by_account_is_the_default():
    doc = only(invoice_run(_two_subscriptions_store(), date(2026, 1, 1)).documents)
    # 50.00 + 49.00 = 99.00 net; tax 9.50 + 9.31 = 18.81
    assert doc.subscriptions == ("S1", "S2")
    assert doc.net_total.amount == D("99.00")
    assert doc.tax_total.amount == D("18.81")


def test_split_by_subscription():
    result = invoice_run(_two_subscriptions_store(), date(2026, 1, 1), split=Split.SUBSCRIPTION)
    assert [(d.subscriptions, d.net_total.amount) for d in result.documents] == [
        (("S1",), D("50.00")),
        (("S2",), D("49.00")),
    ]


def test_one_document_per_currency():
    usd = Item(id="usd", product=SEATS, price=PerUnit(money("10.00", "USD")), quantity=D(2))
    store = make_store(
        sub("C1", [seats()], number="S1"), sub("C1", [usd], number="S2", currency="USD")
    )
    result = invoice_run(store, date(2026, 1, 1))
    assert result.failures == ()
    assert sorted((d.currency.code, d.net_total.amount) for d in result.documents) == [
        ("EUR", D("50.00")),
        ("USD", D("20.00")),
    ]


def test_negative_total_gives_credit():
    rebate = Item(
        id="rebate", product=REBATE, price=Flat(eur("-60.00")), billing_type=BillingType.RECURRING
    )
    store = make_store(sub("C1", [seats(), rebate]))
    doc = only(invoice_run(store, date(2026, 1, 1)).documents)
    # 50.00 − 60.00 = −10.00; tax 9.50 − 11.40 = −1.90; total −11.90
    assert doc.net_total.amount == D("-10.00")
    assert doc.tax_total.amount == D("-1.90")
    assert doc.total.amount == D("-11.90")
    assert doc.kind is DocumentKind.CREDIT
    assert finalize(store, [doc])[0].number == "CR-2026-00001"


def test_skip_zero():
    rebate = Item(
        id="rebate", product=REBATE, price=Flat(eur("-50.00")), billing_type=BillingType.RECURRING
    )
    store = make_store(sub("C1", [seats(), rebate]))
    # 50.00 − 50.00 = 0.00: skipped by default, nothing stored
    assert invoice_run(store, date(2026, 1, 1)).documents == ()
    assert stored(store) == []
    doc = only(invoice_run(store, date(2026, 1, 1), skip_zero=False).documents)
    assert doc.total.amount == D("0.00")
    assert doc.kind is DocumentKind.INVOICE
    assert sorted(ln.net.amount for ln in doc.lines) == [D("-50.00"), D("50.00")]
    assert len(stored(store)) == 1


def test_run_result_totals_and_run_id():
    store = make_store(sub("C1", [seats()]), sub("C2", [seats(quantity=2)]))
    result = invoice_run(store, date(2026, 1, 1))
    # 59.50 + 23.80 = 83.30 gross
    assert result.totals() == {"EUR": D("83.30")}
    assert result.run_id is not None
    assert {d.run_id for d in stored(store)} == {result.run_id}
    assert len(stored(store, run_id=result.run_id)) == 2


def _content(document):
    """A document's lines without what names the run."""
    return [
        (ln.source_key, ln.description, ln.period, ln.quantity, ln.net, ln.tax, ln.terms)
        for ln in document.lines
    ]


def test_alike_items_share_figures_but_never_identity_or_history():
    # A run shares priced lines between alike items (its memo). Items that differ only
    # in what surrounds them (start, end, alignment, what was billed before) must not.
    calendar = {"alignment": "calendar"}
    subscriptions = [
        sub("A", [seats()], **calendar),
        sub("B", [seats()], start=date(2026, 1, 15), **calendar),  # same grid, later start
        sub("C", [seats()], **calendar),  # billed in January, below
        sub("D", [seats()], end=date(2026, 2, 15), **calendar),
        sub("E", [seats()], start=date(2026, 1, 15)),  # anniversary grid
        sub("F", [seats(unit_price="10.00")], **calendar),  # equal to A but for its account
    ]
    together, apart = make_store(*subscriptions), make_store(*subscriptions)
    for store in (together, apart):
        invoice_run(store, date(2026, 1, 1), accounts=["C"])
    joint = invoice_run(together, date(2026, 2, 1)).documents
    single = [
        d
        for s in subscriptions
        for d in invoice_run(apart, date(2026, 2, 1), accounts=[s.account_id]).documents
    ]
    assert [_content(d) for d in joint] == [_content(d) for d in single]
    net = {d.account_id: d.net_total.amount for d in joint}
    # A: Jan + Feb; B: 17/31 of Jan + Feb; C: Feb only; D: Jan + 14/28 of Feb; E: 15 Jan–14 Feb
    assert net == {
        "A": D("100.00"),
        "B": D("77.42"),
        "C": D("50.00"),
        "D": D("75.00"),
        "E": D("50.00"),
        "F": D("100.00"),
    }
    for document in joint:
        for line in document.lines:
            assert all(t.subscription == line.subscription for t in line.terms)
            assert line.source_key.startswith(f"{line.subscription}/{line.item_id}/")


def test_item_shape_is_every_field_but_the_identity():
    # The run's memo keys an item's lines by its shape: a field missing from the shape
    # would let two different items share lines. The id and the order number only name
    # the item (usage records use the order number), they do not change its price.
    import attrs

    item = Item(id="a", product=SEATS, price=PerUnit(money("12.50", "EUR")))
    names = [f.name for f in attrs.fields(Item) if f.init and f.name not in ("id", "order_number")]
    assert item.shape.fields == tuple(getattr(item, name) for name in names)


def test_a_run_that_keeps_no_documents_still_counts_and_totals_them():
    from juston.testing import sample_store

    kept = invoice_run(sample_store(accounts=12), date(2026, 2, 1))
    store = sample_store(accounts=12)
    lean = invoice_run(store, date(2026, 2, 1), collect=False)
    assert lean.documents == ()
    assert lean.count == len(kept.documents) == len(list(store.documents())) > 0
    by_hand: dict[str, Decimal] = {}
    for document in kept.documents:
        code = document.currency.code
        by_hand[code] = by_hand.get(code, Decimal(0)) + document.total.amount
    assert lean.totals() == kept.totals() == by_hand
    assert finalize(store, collect=False) == []
    assert all(d.number for d in store.documents())


def test_finalize_refuses_a_document_listed_twice_and_numbers_nothing():
    from juston import ValidationError
    from juston.testing import sample_store

    store = sample_store(accounts=2)
    first, second = invoice_run(store, date(2026, 2, 1)).documents
    with pytest.raises(ValidationError, match="is listed twice"):
        finalize(store, [first, second, first])
    assert [d.number for d in finalize(store, [second, first])] == [
        "INV-2026-00001",
        "INV-2026-00002",
    ]


# --------------------------------------------------------------------------------------
# Shared line contents
# --------------------------------------------------------------------------------------


def _abroad(account: Account, country: str, postcode: str, city: str) -> Account:
    import attrs

    address = Address(street="Hauptplatz 1", postcode=postcode, city=city, country=country)
    return attrs.evolve(account, billing_address=address, vat_id="ATU13585627")


def test_alike_lines_share_one_content_and_keep_their_own_identity():
    store = make_store(sub("A", [seats()]), sub("B", [seats()]))
    a, b = invoice_run(store, date(2026, 1, 1)).documents
    (line_a,), (line_b,) = a.lines, b.lines
    assert line_a.content is line_b.content  # one value for both documents
    assert (line_a.subscription, line_b.subscription) == ("S-A", "S-B")
    assert [t.subscription for t in line_b.terms] == ["S-B"]
    assert line_b.source_key == "S-B/seats/2026-01-01"
    # Sharing never shows: the stored document is the one an account billed alone gets.
    alone = invoice_run(make_store(sub("B", [seats()])), date(2026, 1, 1)).documents[0]
    assert _content(b) == _content(alone)


def test_lines_are_shared_only_between_accounts_taxed_alike():
    # A consumer in Germany (19 %) and a business in Austria (reverse charge) with the
    # same item in one run: the Austrian must not get the German line.
    store = make_store(sub("DE", [seats()]), sub("AT", [seats()]))
    store.put_account(_abroad(store.account("AT"), "AT", "1010", "Wien"))
    by_account = {d.account_id: d for d in invoice_run(store, date(2026, 1, 1)).documents}
    assert by_account["DE"].lines[0].vat.rate == D(19)
    assert (by_account["AT"].lines[0].vat.category, by_account["AT"].tax_total) == (
        "AE",
        eur("0.00"),
    )


class _ByAccount:
    """A resolver whose decisions depend on the account id, and that cannot say so."""

    def resolve(self, *, company, account, product, day):
        from juston import TaxResult

        rate = D(7) if account.id == "A" else D(19)
        return TaxResult(rate=rate, category="S", rule=f"per account {account.id}")

    def changes(self, *, company, account, product):
        return ()


def test_a_resolver_without_an_account_key_is_asked_for_every_account():
    store = make_store(sub("A", [seats()]), sub("B", [seats()]))
    a, b = invoice_run(store, date(2026, 1, 1), tax=_ByAccount()).documents
    assert (a.lines[0].vat.rate, a.tax_total) == (D(7), eur("3.50"))
    assert (b.lines[0].vat.rate, b.tax_total) == (D(19), eur("9.50"))


def test_a_hand_made_line_refuses_terms_of_another_item():
    from juston import Line, TaxResult, Term, ValidationError
    from juston.pricing.models import Charge

    term = Term(
        "S-1",
        "other",
        date(2026, 1, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
        1,
        Charge(component="unit", quantity=D(1), unit_price=D(10), label="unit"),
    )
    with pytest.raises(ValidationError) as caught:
        Line.build(
            description="Seats",
            period=None,
            quantity=D(1),
            unit_code="C62",
            currency=eur("0").currency,
            unit_price_amount=D(10),
            billing_factor=D(1),
            discount_amount=D(0),
            net_amount=D(10),
            tax_class="standard",
            vat=TaxResult(rate=D(19), category="S", rule="test"),
            tax_amount=D("1.90"),
            explanation="",
            subscription="S-1",
            item_id="seats",
            terms=[term],
        )
    assert caught.value.field == "terms"


def test_a_run_whose_caches_start_afresh_bills_the_same(monkeypatch):
    from juston.billing.plan import _Memo
    from juston.testing import sample_store

    day = date(2026, 2, 1)
    full = [_content(d) for d in invoice_run(sample_store(accounts=40), day).documents]
    caches: list[_Memo] = []
    original = _Memo.trim

    def watched(memo: _Memo) -> None:
        original(memo)
        caches.append(memo)

    monkeypatch.setattr(_Memo, "LIMIT", 3)
    monkeypatch.setattr(_Memo, "EVERY", 1)
    monkeypatch.setattr(_Memo, "trim", watched)
    trimmed = [_content(d) for d in invoice_run(sample_store(accounts=40), day).documents]
    assert trimmed == full
    memo = caches[-1]
    assert len(memo.summaries) <= 3 + 10  # at most one account's additions past the limit


def test_the_memo_checks_its_limit_once_every_so_many_accounts(monkeypatch):
    from juston.billing.plan import _Memo

    monkeypatch.setattr(_Memo, "LIMIT", 1)
    monkeypatch.setattr(_Memo, "EVERY", 3)
    memo = _Memo()
    memo.trim()  # the first account checks: nothing to empty yet
    day = date(2026, 2, 1)
    memo.due_dates.update({("a", day): day, ("b", day): day})
    memo.trim()
    memo.trim()
    assert len(memo.due_dates) == 2
    memo.trim()  # the third account after the last check
    assert memo.due_dates == {}
