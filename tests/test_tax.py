"""The tax engine: worked cases computed by hand, rate data, VAT ids, rounding, the hook.

Figures: every net and tax below is worked out in the comment next to it (rates from the
rate data: DE 19/7 and 16/5 from 2020-07-01 to 2020-12-31; AT reduced 10 for e-books).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import juston
from juston import (
    Account,
    Address,
    BillingType,
    Flat,
    InvalidVatId,
    Item,
    MemoryStore,
    PerUnit,
    Product,
    RateTable,
    Subscription,
    TaxDate,
    TaxEngine,
    TaxError,
    TaxResult,
    TaxRounding,
    ValidationError,
    hookimpl,
    invoice_run,
    money,
)
from juston.model.documents import Invoice, Line
from juston.model.status import DocumentStatus
from juston.testing import sample_company

D = Decimal
SUPPORT = Product(code="SUPPORT", name="Support")  # a service
EBOOK = Product(code="EBOOK", name="Handbook (e-book)", tax_class="reduced", supply="digital")
SAAS = Product(code="SAAS", name="Platform", supply="digital")
MACHINE = Product(code="MACHINE", name="Machine", supply="goods", unit_code="H87")
THERAPY = Product(code="THERAPY", name="Physiotherapy", tax_class="exempt-medical")

ADDRESSES = {
    "DE": Address(street="Ring 2", postcode="80331", city="München", country="DE"),
    "FR": Address(street="1 rue de Rivoli", postcode="75001", city="Paris", country="FR"),
    "AT": Address(street="Graben 1", postcode="1010", city="Wien", country="AT"),
    "US": Address(street="1 Main St", postcode="10001", city="New York", country="US"),
}
VAT_IDS = {"DE": "DE136695976", "FR": "FR40303265045", "AT": "ATU13585627"}


def account(country: str, business: bool = False, account_id: str | None = None) -> Account:
    return Account(
        id=account_id or f"C-{country}{'-B' if business else ''}",
        name=f"Customer {country}",
        billing_address=ADDRESSES[country],
        currency="EUR",
        vat_id=VAT_IDS[country] if business else None,
    )


def store_with(buyer: Account, items, *, start=date(2026, 1, 1), company=None) -> MemoryStore:
    store = MemoryStore()
    store.put_company(company or sample_company())
    store.put_account(buyer)
    store.put_subscription(
        Subscription(number="S-1", account_id=buyer.id, start=start, items=items)
    )
    return store


def run_one(buyer: Account, items, *, start=date(2026, 1, 1), billing_date=None, company=None):
    store = store_with(buyer, items, start=start, company=company)
    (document,) = invoice_run(store, billing_date or start).documents
    return document


def item(product, price: str, quantity=1, **kw) -> Item:
    kw.setdefault("billing_type", BillingType.RECURRING)
    return Item(
        id=product.code.lower(),
        product=product,
        price=PerUnit(money(price, "EUR")),
        quantity=D(quantity),
        **kw,
    )


def resolve(buyer: Account, product: Product, day=date(2026, 3, 1)) -> TaxResult:
    return TaxEngine.default().resolve(
        company=sample_company(), account=buyer, product=product, day=day
    )


# --------------------------------------------------------------------------------------
# Worked cases
# --------------------------------------------------------------------------------------


def test_german_consumer_standard_and_reduced():
    doc = run_one(account("DE"), [item(SUPPORT, "100.00"), item(EBOOK, "19.90")])
    support, ebook = doc.lines
    assert (support.vat.category, support.tax_rate, support.tax.amount) == ("S", D(19), D("19.00"))
    # 19.90 × 7 % = 1.393 → 1.39
    assert (ebook.vat.category, ebook.tax_rate, ebook.tax.amount) == ("S", D(7), D("1.39"))
    assert [(s.rate, s.basis.amount, s.tax.amount) for s in doc.tax_breakdown] == [
        (D(19), D("100.00"), D("19.00")),
        (D(7), D("19.90"), D("1.39")),
    ]
    assert doc.total.amount == D("140.29")  # 119.90 + 20.39
    assert doc.notices == ()


def test_line_across_the_2020_rate_cut_is_split():
    # Anniversary month 2020-06-15..2020-07-14 (30 days), 30.00 per month, prorated by days:
    # 16 days at 19 % → 16.00 net, 3.04 tax; 14 days at 16 % → 14.00 net, 2.24 tax.
    seats = item(SUPPORT, "30.00", billing_type=BillingType.RECURRING_PRORATED)
    doc = run_one(account("DE"), [seats], start=date(2020, 6, 15))
    assert [(str(ln.period), ln.net.amount, ln.tax_rate, ln.tax.amount) for ln in doc.lines] == [
        ("2020-06-15..2020-06-30", D("16.00"), D(19), D("3.04")),
        ("2020-07-01..2020-07-14", D("14.00"), D(16), D("2.24")),
    ]
    assert [(s.rate, s.basis.amount, s.tax.amount) for s in doc.tax_breakdown] == [
        (D(19), D("16.00"), D("3.04")),
        (D(16), D("14.00"), D("2.24")),
    ]
    assert doc.total.amount == D("35.28")


def test_the_split_is_billed_once():
    seats = item(SUPPORT, "30.00", billing_type=BillingType.RECURRING_PRORATED)
    store = store_with(account("DE"), [seats], start=date(2020, 6, 15))
    assert len(invoice_run(store, date(2020, 6, 15)).documents) == 1
    assert invoice_run(store, date(2020, 7, 1)).documents == ()


@pytest.mark.parametrize(
    ("policy", "rate", "tax"),
    [
        # the last day served, 2020-07-14, is in the 16 % period: 30.00 × 16 % = 4.80
        (TaxDate.END_OF_SERVICE_PERIOD, D(16), D("4.80")),
        # booked on the invoice date 2020-06-15: 30.00 × 19 % = 5.70
        (TaxDate.BOOKING_DATE, D(19), D("5.70")),
    ],
)
def test_date_policies_tax_the_whole_line_once(policy, rate, tax):
    seats = item(SUPPORT, "30.00", billing_type=BillingType.RECURRING_PRORATED, tax_date=policy)
    (line,) = run_one(account("DE"), [seats], start=date(2020, 6, 15)).lines
    assert (line.net.amount, line.tax_rate, line.tax.amount) == (D("30.00"), rate, tax)


def test_french_business_buying_a_service_is_reverse_charge():
    buyer = account("FR", business=True)
    doc = run_one(buyer, [item(SUPPORT, "500.00")])
    (line,) = doc.lines
    assert (line.vat.category, line.tax_rate, line.tax.amount) == ("AE", D(0), D("0.00"))
    assert line.vat.exemption_code == "VATEX-EU-AE"
    assert line.vat.exemption_reason == "Reverse charge"
    assert doc.buyer.vat_id == "FR40303265045"
    assert doc.notices and "Reverse charge" in doc.notices[0]
    (subtotal,) = doc.tax_breakdown
    assert (subtotal.category, subtotal.exemption_code) == ("AE", "VATEX-EU-AE")
    assert doc.total.amount == D("500.00")


def test_french_consumer_buying_a_service_pays_german_vat():
    # Without a VAT id the buyer is a consumer: a non-digital service is taxed at the seller's.
    result = resolve(account("FR"), SUPPORT)
    assert (result.category, result.rate, result.rule) == ("S", D(19), "domestic")


def test_austrian_consumer_buying_an_ebook_pays_austrian_reduced_rate():
    # OSS: 19.90 × 10 % = 1.99
    (line,) = run_one(account("AT"), [item(EBOOK, "19.90")]).lines
    assert (line.vat.category, line.tax_rate, line.tax.amount, line.vat.rule) == (
        "S",
        D(10),
        D("1.99"),
        "oss",
    )
    assert "AT reduced rate" in line.explanation


def test_us_customer_is_not_subject():
    doc = run_one(account("US"), [item(SAAS, "99.00")])
    (line,) = doc.lines
    assert (line.vat.category, line.tax_rate, line.tax.amount) == ("O", D(0), D("0.00"))
    assert line.vat.exemption_code == "VATEX-EU-O"
    assert doc.total.amount == D("99.00") and doc.notices


def test_exports_and_intra_community_goods():
    assert resolve(account("US"), MACHINE).category == "G"
    assert resolve(account("US"), MACHINE).exemption_code == "VATEX-EU-G"
    k = resolve(account("FR", business=True), MACHINE)
    assert (k.category, k.exemption_code, k.rate) == ("K", "VATEX-EU-IC", D(0))
    # to a consumer in another member state, goods are taxed where they go (OSS): FR 20 %
    assert resolve(account("FR"), MACHINE).rate == D(20)


def test_exempt_medical_service_carries_its_reason():
    (line,) = run_one(account("DE"), [item(THERAPY, "80.00")]).lines
    assert (line.vat.category, line.tax_rate, line.tax.amount) == ("E", D(0), D("0.00"))
    assert line.vat.exemption_code == "VATEX-EU-132-1C"
    assert "medical" in line.vat.exemption_reason


def test_explanation_names_the_rule_and_why():
    (line,) = run_one(account("FR", business=True), [item(SUPPORT, "10.00")]).lines
    assert "rule reverse-charge" in line.explanation
    assert "business in FR (eu)" in line.explanation


# --------------------------------------------------------------------------------------
# Rounding: JustOn's worked example, both policies
# --------------------------------------------------------------------------------------


def _juston_example(policy: TaxRounding) -> Invoice:
    company = attrs.evolve(sample_company(), tax_rounding=policy)
    items = [
        item(Product(code="A", name="A"), "0.69", 3),  # 2.07 → tax 0.3933 → 0.39
        item(Product(code="B", name="B"), "0.99", 4),  # 3.96 → tax 0.7524 → 0.75
    ]
    return run_one(account("DE"), items, company=company)


def test_juston_rounding_example_line_policy_has_a_visible_delta():
    doc = _juston_example(TaxRounding.LINE)
    assert [ln.tax.amount for ln in doc.lines] == [D("0.39"), D("0.75")]  # row-wise 1.14
    (subtotal,) = doc.tax_breakdown
    # column-wise: 6.03 × 19 % = 1.1457 → 1.15
    assert (subtotal.basis.amount, subtotal.tax.amount) == (D("6.03"), D("1.15"))
    assert subtotal.line_tax.amount == D("1.14")
    assert doc.tax_delta.amount == D("0.01")
    assert doc.tax_total.amount == D("1.15") and doc.total.amount == D("7.18")


def test_juston_rounding_example_category_policy_shares_the_category_tax():
    doc = _juston_example(TaxRounding.CATEGORY)
    # 1.15 shared by net: 0.39478… and 0.75522…; the left-over cent goes to the larger rest
    assert [ln.tax.amount for ln in doc.lines] == [D("0.39"), D("0.76")]
    assert doc.tax_delta.amount == D("0.00")
    assert doc.tax_total.amount == D("1.15") and doc.total.amount == D("7.18")


EUR = money(0, "EUR").currency
RATES = {"S": [D(19), D(7), D(16), D(5), D("20"), D("5.5")], "Z": [D(0)], "AE": [D(0)]}


@st.composite
def documents(draw, policy: TaxRounding):
    lines = []
    for n in range(draw(st.integers(1, 8))):
        category = draw(st.sampled_from(sorted(RATES)))
        rate = draw(st.sampled_from(RATES[category]))
        net = D(draw(st.integers(-50_000, 200_000))) / 100
        lines.append(
            Line.build(
                description=f"line {n}",
                period=None,
                quantity=D(1),
                unit_code="C62",
                currency=EUR,
                unit_price_amount=net,
                billing_factor=D(1),
                discount_amount=D("0.00"),
                net_amount=net,
                tax_class="standard",
                vat=TaxResult(rate=rate, category=category, rule="test"),
                tax_amount=juston.rounding.round_amount(net * rate / 100, "EUR"),
                explanation="",
            )
        )
    return draft(lines, attrs.evolve(sample_company(), tax_rounding=policy))


def draft(lines, seller) -> Invoice:
    day = date(2026, 1, 1)
    return Invoice.create(
        lines=lines,
        currency=EUR,
        id=None,
        status=DocumentStatus.DRAFT,
        number=None,
        invoice_date=day,
        due_date=day,
        billing_date=day,
        seller=seller,
        buyer=account("DE"),
        payment_terms=seller.payment_terms,
    )


def _check_breakdown(doc: Invoice) -> None:
    assert sum(s.basis.amount for s in doc.tax_breakdown) == doc.net_total.amount
    assert sum(s.tax.amount for s in doc.tax_breakdown) == doc.tax_total.amount
    assert doc.total.amount == doc.net_total.amount + doc.tax_total.amount
    for s in doc.tax_breakdown:
        exact = s.basis.amount * s.rate / 100
        assert abs(s.tax.amount - exact) <= D("0.005")  # BR-CO-17: rounded from the basis
        assert s.delta.amount == s.tax.amount - s.line_tax.amount
    assert len({(s.category, s.rate) for s in doc.tax_breakdown}) == len(doc.tax_breakdown)


@given(documents(TaxRounding.LINE))
def test_line_policy_delta_is_exactly_the_difference(doc):
    _check_breakdown(doc)
    line_tax = sum(ln.tax.amount for ln in doc.lines)
    assert doc.tax_delta.amount == doc.tax_total.amount - line_tax
    # each line keeps its own rounded tax
    assert all(
        ln.tax.amount == juston.rounding.round_amount(ln.net.amount * ln.tax_rate / 100, "EUR")
        for ln in doc.lines
    )


@given(documents(TaxRounding.CATEGORY))
def test_category_policy_lines_add_up_to_the_breakdown(doc):
    _check_breakdown(doc)
    assert sum(ln.tax.amount for ln in doc.lines) == doc.tax_total.amount
    assert doc.tax_delta.amount == 0
    for s in doc.tax_breakdown:
        assert s.line_tax == s.tax


@given(documents(TaxRounding.LINE))
def test_a_negated_document_nets_to_zero(doc):
    mirror = draft([ln.negated() for ln in doc.lines], doc.seller)
    assert mirror.total.amount == -doc.total.amount
    assert mirror.tax_delta.amount == -doc.tax_delta.amount


# --------------------------------------------------------------------------------------
# VAT ids, rate data, rules
# --------------------------------------------------------------------------------------


def test_invalid_vat_id_is_rejected_at_the_boundary():
    with pytest.raises(InvalidVatId) as caught:
        Account(
            id="C-1",
            name="X",
            billing_address=ADDRESSES["DE"],
            currency="EUR",
            vat_id="DE123456789",
        )
    assert caught.value.field == "vat_id" and "DE123456789" in str(caught.value)
    with pytest.raises(InvalidVatId):
        attrs.evolve(sample_company(), vat_id="FR00000000000")


def test_vat_id_is_normalized():
    buyer = attrs.evolve(account("AT"), vat_id="atu 135 856 27")
    assert buyer.vat_id == "ATU13585627"


def test_every_eu_state_has_a_standard_rate_today():
    table = RateTable.default()
    for country in juston.tax.EU:
        assert table.rate(country, "standard", date(2026, 11, 24)) > 0, country
        assert all(r.source for r in table.rates[country, "standard"])


def test_user_rate_file_overrides_shipped_rates(tmp_path):
    path = tmp_path / "rates.toml"
    path.write_text(
        'version = "test"\n[[rate]]\ncountry = "DE"\nkind = "standard"\nrate = "21"\n'
        'from = 2021-01-01\nsource = "a test"\n'
    )
    table = RateTable.load(path)
    assert table.rate("DE", "standard", date(2026, 1, 1)) == D(21)
    assert table.rate("DE", "standard", date(2020, 8, 1)) == D(16)  # shipped history kept
    assert table.rate("AT", "reduced", date(2026, 1, 1)) == D(10)
    engine = TaxEngine.default(table)
    assert resolve_with(engine, account("DE"), SUPPORT).rate == D(21)


def resolve_with(engine, buyer, product, day=date(2026, 3, 1)):
    return engine.resolve(company=sample_company(), account=buyer, product=product, day=day)


def test_bad_rate_file_names_the_field(tmp_path):
    path = tmp_path / "rates.toml"
    path.write_text('[[rate]]\ncountry = "DE"\nkind = "standard"\nrate = 19\nfrom = 2021-01-01\n')
    with pytest.raises(ValidationError) as caught:
        RateTable.load(path)
    assert caught.value.field == "rate"


def test_missing_rate_is_a_tax_error():
    with pytest.raises(TaxError, match="no standard VAT rate for DE on 1990-01-01"):
        resolve(account("DE"), SUPPORT, day=date(1990, 1, 1))


def test_a_run_with_a_tax_gap_fails_only_that_account():
    store = store_with(account("DE"), [item(SUPPORT, "1.00")], start=date(1990, 1, 1))
    result = invoice_run(store, date(1990, 1, 1))
    assert result.documents == () and isinstance(result.failures[0].error, TaxError)


def test_user_rules_come_first():
    special = juston.TaxRule(name="club", category="Z", tax_classes={"club"}, why="members")
    engine = TaxEngine((special, *juston.tax.default_rules()))
    club = Product(code="CLUB", name="Club", tax_class="club")
    result = resolve_with(engine, account("DE"), club)
    assert (result.category, result.rule) == ("Z", "club")


def test_rule_rejects_unknown_category():
    with pytest.raises(ValidationError) as caught:
        juston.TaxRule(name="x", category="X")
    assert caught.value.field == "category"


# --------------------------------------------------------------------------------------
# The juston_tax_provider hook
# --------------------------------------------------------------------------------------


class FlatTen:
    """An external provider: 10 % on everything."""

    def resolve(self, *, company, account, product, day):
        return TaxResult(rate=D(10), category="S", rule="external")

    def changes(self, *, company, account, product):
        return ()


class ExternalPlugin:
    @hookimpl
    def juston_tax_provider(self, company):
        return FlatTen()


def test_the_run_asks_the_tax_provider_hook():
    plugins = juston.Plugins.load(entry_points=False)
    plugins.pm.register(ExternalPlugin(), name="external-tax")
    store = store_with(account("DE"), [item(SUPPORT, "50.00")], start=date(2026, 1, 1))
    (doc,) = invoice_run(store, date(2026, 1, 1), plugins=plugins).documents
    assert (doc.lines[0].vat.rule, doc.tax_total.amount) == ("external", D("5.00"))


def test_built_in_engine_is_a_plugin():
    plugins = juston.Plugins.load(entry_points=False)
    assert isinstance(plugins.tax_provider(sample_company()), TaxEngine)
    blocked = juston.Plugins.load(entry_points=False, blocked=["juston.tax_provider"])
    with pytest.raises(juston.PluginError):
        blocked.tax_provider(sample_company())


def test_flat_model_alias_used():
    # Flat items on a consumer in Germany: 49.00 × 19 % = 9.31
    flat = Item(id="p", product=SAAS, price=Flat(money("49.00", "EUR")), billing_type="recurring")
    (line,) = run_one(account("DE"), [flat]).lines
    assert line.tax.amount == D("9.31")
