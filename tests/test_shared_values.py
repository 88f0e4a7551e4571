"""Values that alike objects share, so that an invoice run compares and hashes them cheaply.

Sharing must never change what a value means: these tests pin both that alike values are
one object and that unlike ones stay apart.
"""

from __future__ import annotations

import enum
import gc
import importlib
import pkgutil
from datetime import date
from decimal import Decimal

import attrs
import pytest

import juston
import juston.testing
from juston import (
    Account,
    Address,
    Alignment,
    BillingPeriod,
    Company,
    Flat,
    Item,
    MemoryStore,
    PerUnit,
    Product,
    Subscription,
    Unit,
    invoice_run,
    money,
)
from juston._enum import Enum
from juston.tax import TaxResult
from juston.testing import sample_company

SEAT = Product(code="SEAT", name="Seat")


def _seat(item_id: str, quantity: int = 5) -> Item:
    return Item(id=item_id, product=SEAT, price=PerUnit(money(10, "EUR")), quantity=quantity)


def test_every_enum_of_the_library_hashes_by_identity() -> None:
    found = []
    for info in pkgutil.walk_packages(juston.__path__, "juston."):
        if ".migrations." in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, enum.Enum)
                and value.__module__.startswith("juston.")
                and value is not Enum
            ):
                found.append(value)
    assert len(found) > 15
    for cls in found:
        assert issubclass(cls, Enum), cls
        for member in cls:
            assert hash(member) == object.__hash__(member)
            assert {member: 1}[cls(member.value)] == 1


def test_alike_items_share_one_shape_and_unlike_ones_do_not() -> None:
    a, b = _seat("a"), _seat("b")
    assert a.shape is b.shape
    assert attrs.evolve(a, quantity=6).shape is not a.shape
    assert attrs.evolve(a, quantity=6).shape != a.shape
    assert _seat("c", quantity=6).shape is attrs.evolve(a, quantity=6).shape


def test_shapes_of_items_no_longer_used_are_freed() -> None:
    from juston.model.subscriptions import _SHAPES

    product = Product(code="ONCE", name="Used once")
    item = Item(id="x", product=product, price=Flat(money(1, "EUR")))
    fields = item.shape.fields
    assert fields in _SHAPES
    del item
    gc.collect()
    assert fields not in _SHAPES


def test_subscriptions_with_equal_grids_share_one() -> None:
    def subscription(number: str, start: date, alignment: Alignment) -> Subscription:
        return Subscription(
            number=number,
            account_id="C-1",
            start=start,
            billing_period=BillingPeriod(1, Unit.MONTH),
            alignment=alignment,
        )

    calendar = Alignment.CALENDAR
    first = subscription("S-1", date(2026, 1, 10), calendar)
    # Calendar alignment anchors both on January 1.
    assert subscription("S-2", date(2026, 1, 20), calendar).grid is first.grid
    anniversary = subscription("S-3", date(2026, 1, 10), Alignment.ANNIVERSARY)
    assert anniversary.grid is not first.grid
    assert anniversary.grid.anchor == date(2026, 1, 10)


def test_subscription_knows_its_price_currencies_and_derived_items() -> None:
    from juston import Percentage

    plain = Subscription(
        number="S-1",
        account_id="C-1",
        start=date(2026, 1, 1),
        items=[
            _seat("a"),
            Item(id="b", product=SEAT, price=Flat(money(3, "CHF"))),
            _seat("c"),
        ],
    )
    assert [c.code for c in plain.price_currencies] == ["EUR", "CHF"]
    assert plain.any_derived is False
    with_fee = attrs.evolve(
        plain,
        items=[_seat("a"), Item(id="fee", product=SEAT, price=Percentage(Decimal(10), "EUR"))],
    )
    assert with_fee.any_derived is True
    assert (
        Subscription(number="S-2", account_id="C-1", start=date(2026, 1, 1)).price_currencies == ()
    )


def _store(*subscriptions: list[Item], company: Company | None = None) -> MemoryStore:
    """A store with one German consumer account per list of items (19 % VAT)."""
    store = MemoryStore()
    with store.transaction() as tx:
        tx.put_company(company or sample_company())
        for n, items in enumerate(subscriptions, start=1):
            tx.put_account(
                Account(
                    id=f"C-{n}",
                    name=f"Customer {n}",
                    billing_address=Address(
                        street="Hauptstraße 1", postcode="10115", city="Berlin", country="DE"
                    ),
                    currency="EUR",
                )
            )
            tx.put_subscription(
                Subscription(
                    number=f"S-{n}", account_id=f"C-{n}", start=date(2026, 1, 1), items=items
                )
            )
    return store


def test_documents_that_say_the_same_share_their_totals_but_not_their_lines() -> None:
    both = [_seat("seats"), _seat("more", quantity=2)]
    first, second = invoice_run(_store(both, both), date(2026, 1, 1)).documents
    assert [ln.content for ln in first.lines] == [ln.content for ln in second.lines]
    assert first.total is second.total
    assert first.tax_breakdown == second.tax_breakdown
    assert (first.buyer.id, second.buyer.id) == ("C-1", "C-2")
    assert [ln.subscription for ln in first.lines] == ["S-1", "S-1"]
    assert [ln.subscription for ln in second.lines] == ["S-2", "S-2"]
    # 5 + 2 seats at 10.00, 19 % VAT: 70.00 + 13.30.
    assert first.total == money("83.30", "EUR")


def test_breakdown_rows_are_shared_by_their_sums_not_by_their_lines() -> None:
    def cents(item_id: str, quantity: int, price: str) -> Item:
        return Item(id=item_id, product=SEAT, price=PerUnit(money(price, "EUR")), quantity=quantity)

    # Worked by hand, 19 %: 2 × 0.03 = 0.06, line tax 0.0114 → 0.01; 6 × 0.01 = 0.06,
    # line tax 0.01; 1 × 0.03 twice: 0.03 each, line tax 0.0057 → 0.01 each, 0.02 in
    # all, while the row's tax from its basis 0.06 is 0.01.
    one, same, split = invoice_run(
        _store(
            [cents("a", 2, "0.03")],
            [cents("b", 6, "0.01")],
            [cents("c", 1, "0.03"), cents("d", 1, "0.03")],
        ),
        date(2026, 1, 1),
    ).documents
    assert one.lines[0].content != same.lines[0].content
    assert same.tax_breakdown[0] is one.tax_breakdown[0]
    row = split.tax_breakdown[0]
    assert row is not one.tax_breakdown[0]
    assert (row.basis, row.tax, row.line_tax) == (
        money("0.06", "EUR"),
        money("0.01", "EUR"),
        money("0.02", "EUR"),
    )
    assert one.tax_breakdown[0].line_tax == money("0.01", "EUR")
    assert split.total == money("0.07", "EUR")


def test_category_rounding_still_gives_each_line_its_share() -> None:
    from juston import TaxRounding

    def pair(first: str, second: str) -> list[Item]:
        return [
            Item(id="s1", product=SEAT, price=PerUnit(money(first, "EUR"))),
            Item(id="s2", product=SEAT, price=PerUnit(money(second, "EUR"))),
        ]

    company = attrs.evolve(sample_company(), tax_rounding=TaxRounding.CATEGORY)
    # Equal sums (nets 0.06, line taxes 0.0095 → 0.01 + 0.0019 → 0.00 and 0.0076 → 0.01
    # + 0.0038 → 0.00), different lines: the shares must be each document's own.
    store = _store(pair("0.05", "0.01"), pair("0.04", "0.02"), company=company)
    first, second = invoice_run(store, date(2026, 1, 1)).documents
    for document, nets in ((first, ["0.05", "0.01"]), (second, ["0.04", "0.02"])):
        assert [str(ln.net.amount) for ln in document.lines] == nets
        # The row's tax, 0.01 from a basis of 0.06, goes to the larger net.
        assert [str(ln.tax.amount) for ln in document.lines] == ["0.01", "0.00"]
        assert document.tax_breakdown[0].delta == money(0, "EUR")
        assert document.total == money("0.07", "EUR")


def test_a_bound_line_is_the_line_the_constructor_makes() -> None:
    from juston.model.documents import Line, bind_line

    store = _store([_seat("seats")])
    (line,) = invoice_run(store, date(2026, 1, 1)).documents[0].lines
    bound = bind_line(line.content, "S-9", "x")
    made = Line(line.content, "S-9", "x")
    assert bound == made
    assert hash(bound) == hash(made)
    assert repr(bound) == repr(made)
    assert bound.source_key == "S-9/x/2026-01-01"


class _FreshDecisions:
    """A resolver that answers every line with a new (equal) decision object."""

    def resolve(
        self, *, company: Company, account: Account, product: Product, day: date
    ) -> TaxResult:
        return TaxResult(rate=Decimal(19), category="S", rule="flat")

    def changes(self, *, company: Company, account: Account, product: Product) -> tuple[date, ...]:
        return ()

    def account_key(self, *, company: Company, account: Account) -> object:
        return "everyone"


def test_lines_taxed_alike_share_one_decision() -> None:
    support = Product(code="SUPPORT", name="Support")
    items = [_seat("seats"), Item(id="help", product=support, price=Flat(money(30, "EUR")))]
    (document,) = invoice_run(_store(items), date(2026, 1, 1), tax=_FreshDecisions()).documents
    seats, help_ = document.lines
    assert seats.vat is help_.vat  # one VAT group, found without grouping the lines
    assert len(document.tax_breakdown) == 1
    # 50.00 + 30.00 at 19 %.
    assert document.total == money("95.20", "EUR")


_DERIVED = {"lines", "currency", "kind", "tax_breakdown", "net_total", "tax_total", "total"}


@pytest.mark.parametrize("rounding", list(juston.TaxRounding))
def test_a_run_makes_the_documents_create_makes_from_their_lines(
    rounding: juston.TaxRounding,
) -> None:
    # Realistic sample data: several countries, reverse charge, exports, two VAT rates in
    # one document. The run shares decisions, rows and totals between documents; each
    # document must still be what `Invoice.create` makes of its lines alone.
    store = juston.testing.sample_store(120, realistic=True)
    with store.transaction() as tx:
        tx.put_company(attrs.evolve(tx.company(), tax_rounding=rounding))
    documents = invoice_run(store, date(2026, 2, 1)).documents
    assert len({len(d.tax_breakdown) for d in documents}) > 1
    for document in documents:
        fields = {f.name: getattr(document, f.name) for f in attrs.fields(juston.Invoice)}
        kept = {name: value for name, value in fields.items() if name not in _DERIVED}
        made = juston.Invoice.create(lines=document.lines, currency=document.currency, **kept)
        assert document == made
