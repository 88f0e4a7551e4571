"""Payment terms (due dates) and document numbering (counters, resets, shared series)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from juston import (
    Account,
    Address,
    BillingType,
    Counter,
    DocumentKind,
    Flat,
    Item,
    JustonError,
    MemoryStore,
    Numbering,
    PaymentTerms,
    PaymentTermsError,
    PerUnit,
    Product,
    Reset,
    Subscription,
    ValidationError,
    cancel,
    finalize,
    invoice_run,
    money,
)
from juston.testing import sample_company

D = Decimal
SEATS = Product(code="SEATS", name="User seats")
REBATE = Product(code="REBATE", name="Partner rebate")


def eur(amount: str):
    return money(amount, "EUR")


# --------------------------------------------------------------------------------------
# Payment terms
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "invoice_date", "due"),
    [
        ("14d", date(2026, 5, 20), date(2026, 6, 3)),  # May 20 + 14 days (11 left in May + 3)
        ("30d", date(2026, 1, 31), date(2026, 3, 2)),  # Jan 31 + 30 = Mar 2 (Feb has 28 days)
        ("0d", date(2026, 5, 20), date(2026, 5, 20)),
        ("eom", date(2026, 5, 20), date(2026, 5, 31)),
        ("eom", date(2026, 2, 1), date(2026, 2, 28)),
        ("eom", date(2028, 2, 1), date(2028, 2, 29)),  # leap year
        ("14d eom", date(2026, 5, 20), date(2026, 6, 30)),  # Jun 3 -> end of June
        ("14d eom", date(2026, 5, 10), date(2026, 5, 31)),  # May 24 -> end of May
        ("10", date(2026, 5, 5), date(2026, 5, 10)),  # next 10th after May 5
        ("10", date(2026, 5, 10), date(2026, 6, 10)),  # strictly after: not May 10 itself
        ("10", date(2026, 5, 20), date(2026, 6, 10)),
        ("10", date(2026, 12, 20), date(2027, 1, 10)),  # over the year end
        ("31", date(2026, 2, 10), date(2026, 2, 28)),  # day past the month's end -> last day
        ("31", date(2026, 2, 28), date(2026, 3, 31)),
        ("eom 10", date(2026, 2, 12), date(2026, 3, 10)),  # Feb 28 -> next 10th is Mar 10
        ("eom 10", date(2026, 2, 5), date(2026, 3, 10)),
        ("14d eom 20", date(2026, 5, 20), date(2026, 7, 20)),  # Jun 3 -> Jun 30 -> Jul 20
        ("14D  EOM", date(2026, 5, 20), date(2026, 6, 30)),  # case and spaces do not matter
    ],
)
def test_due_dates(pattern, invoice_date, due):
    assert PaymentTerms(pattern).due_date(invoice_date) == due


@pytest.mark.parametrize("pattern", ["14x", "", "   ", "eom 0", "eom 32", "d", "-14d", "14 days"])
def test_bad_pattern_raises_naming_the_field(pattern):
    with pytest.raises(PaymentTermsError) as info:
        PaymentTerms(pattern)
    error = info.value
    assert isinstance(error, ValidationError)
    assert isinstance(error, JustonError)
    assert error.field == "payment_terms"
    assert str(error).startswith("payment_terms")


def test_bad_pattern_on_account_raises():
    with pytest.raises(PaymentTermsError) as info:
        make_account("C1", payment_terms="net 14")
    assert "payment_terms" in str(info.value)


def test_payment_terms_not_a_string():
    with pytest.raises(PaymentTermsError):
        PaymentTerms(14)  # type: ignore[arg-type]


def test_coerce_days():
    assert PaymentTerms.coerce(30) == PaymentTerms("30d")
    assert PaymentTerms.coerce("14d eom") == PaymentTerms("14d eom")
    with pytest.raises(PaymentTermsError):
        PaymentTerms.coerce(-1)


# --------------------------------------------------------------------------------------
# Payment terms on documents
# --------------------------------------------------------------------------------------


def make_account(account_id: str, **kw) -> Account:
    return Account(
        id=account_id,
        name=f"Kunde {account_id}",
        billing_address=Address(street="Ring 2", postcode="80331", city="München", country="DE"),
        currency="EUR",
        **kw,
    )


def seats(quantity: int = 5) -> Item:
    return Item(id="seats", product=SEATS, price=PerUnit(eur("10.00")), quantity=D(quantity))


def make_store(
    *accounts: Account, company=None, start=date(2026, 1, 1), subscription_kw=None
) -> MemoryStore:
    store = MemoryStore()
    store.put_company(company or sample_company())
    for account in accounts:
        store.put_account(account)
        store.put_subscription(
            Subscription(
                number=f"S-{account.id}",
                account_id=account.id,
                start=start,
                items=[seats()],
                **(subscription_kw or {}),
            )
        )
    return store


def test_due_date_from_company_default():
    store = make_store(make_account("C1"))
    (doc,) = invoice_run(store, date(2026, 1, 1)).documents
    # sample company: 14d -> Jan 1 + 14 = Jan 15
    assert doc.invoice_date == date(2026, 1, 1)
    assert doc.due_date == date(2026, 1, 15)


def test_due_date_from_account_terms():
    store = make_store(make_account("C1", payment_terms="14d eom"), start=date(2026, 5, 20))
    (doc,) = invoice_run(store, date(2026, 5, 20)).documents
    assert doc.due_date == date(2026, 6, 30)


def test_due_date_from_subscription_terms_win_over_account():
    store = make_store(
        make_account("C1", payment_terms="30d"),
        start=date(2026, 2, 12),
        subscription_kw={"payment_terms": "eom 10"},
    )
    (doc,) = invoice_run(store, date(2026, 2, 12)).documents
    assert doc.due_date == date(2026, 3, 10)


def test_invoice_date_option_and_finalize_redating():
    store = make_store(make_account("C1", payment_terms="14d eom"))
    (doc,) = invoice_run(store, date(2026, 1, 1), invoice_date=date(2026, 1, 2)).documents
    # Jan 2 + 14 = Jan 16 -> Jan 31
    assert (doc.invoice_date, doc.due_date) == (date(2026, 1, 2), date(2026, 1, 31))
    (final,) = finalize(store, [doc], invoice_date=date(2026, 1, 20))
    # Jan 20 + 14 = Feb 3 -> Feb 28
    assert (final.invoice_date, final.due_date) == (date(2026, 1, 20), date(2026, 2, 28))


# --------------------------------------------------------------------------------------
# Counters on their own
# --------------------------------------------------------------------------------------


def test_counter_format_placeholders():
    counter = Counter(series="invoice", pattern="[AccountNo]/[Year]-[Month]-[Day]/{0000}")
    assert counter.format(7, date(2026, 3, 5), account_id="C-9") == "C-9/2026-03-05/0007"
    assert Counter(series="x").format(42, date(2026, 3, 5), account_id="C1") == "2026-00042"
    # A sequence wider than the mask is not cut off.
    assert (
        Counter(series="x", pattern="{00}").format(123, date(2026, 1, 1), account_id="C1") == "123"
    )


def test_counter_buckets():
    day = date(2026, 3, 5)
    assert Counter(series="x", reset=Reset.YEARLY).bucket(day) == "2026"
    assert Counter(series="x", reset=Reset.MONTHLY).bucket(day) == "2026-03"
    assert Counter(series="x", reset=Reset.NEVER).bucket(day) == Counter(
        series="x", reset=Reset.NEVER
    ).bucket(date(2030, 12, 31))


@pytest.mark.parametrize("pattern", ["INV-[Year]", "{000}-{000}", "INV-[Yr]-{000}", ""])
def test_counter_bad_patterns(pattern):
    with pytest.raises(ValidationError) as info:
        Counter(series="invoice", pattern=pattern)
    assert info.value.field == "pattern"


def test_counter_bad_start():
    with pytest.raises(ValidationError) as info:
        Counter(series="invoice", start=-1)
    assert info.value.field == "start"


# --------------------------------------------------------------------------------------
# Numbering through finalize
# --------------------------------------------------------------------------------------


def company_with(**numbering) -> object:
    return attrs.evolve(sample_company(), numbering=Numbering(**numbering))


def numbers(store: MemoryStore, billing_date: date) -> list[str]:
    return [d.number for d in finalize(store, invoice_run(store, billing_date).documents)]


def test_yearly_reset_starts_again_in_the_new_year():
    store = make_store(make_account("C1"), make_account("C2"), start=date(2026, 11, 1))
    assert numbers(store, date(2026, 11, 1)) == ["INV-2026-00001", "INV-2026-00002"]
    assert numbers(store, date(2026, 12, 1)) == ["INV-2026-00003", "INV-2026-00004"]
    assert numbers(store, date(2027, 1, 1)) == ["INV-2027-00001", "INV-2027-00002"]
    assert numbers(store, date(2027, 2, 1)) == ["INV-2027-00003", "INV-2027-00004"]


def test_number_follows_the_finalize_date():
    store = make_store(make_account("C1"), start=date(2026, 12, 1))
    drafts = invoice_run(store, date(2026, 12, 1)).documents
    (final,) = finalize(store, drafts, invoice_date=date(2027, 1, 4))
    assert final.number == "INV-2027-00001"


def test_monthly_reset():
    company = company_with(
        invoice=Counter(series="invoice", pattern="RE[Year][Month]-{000}", reset=Reset.MONTHLY)
    )
    store = make_store(make_account("C1"), make_account("C2"), company=company)
    assert numbers(store, date(2026, 1, 1)) == ["RE202601-001", "RE202601-002"]
    assert numbers(store, date(2026, 2, 1)) == ["RE202602-001", "RE202602-002"]


def test_never_reset():
    company = company_with(invoice=Counter(series="invoice", pattern="{000000}", reset=Reset.NEVER))
    store = make_store(make_account("C1"), start=date(2026, 12, 1))
    store.put_company(company)
    assert numbers(store, date(2026, 12, 1)) == ["000001"]
    assert numbers(store, date(2027, 1, 1)) == ["000002"]


def test_start_offset():
    company = company_with(
        invoice=Counter(series="invoice", pattern="INV-[Year]-{00000}", start=100)
    )
    store = make_store(
        make_account("C1"), make_account("C2"), company=company, start=date(2026, 12, 1)
    )
    # start=100: the first number is 101, after every reset too
    assert numbers(store, date(2026, 12, 1)) == ["INV-2026-00101", "INV-2026-00102"]
    assert numbers(store, date(2027, 1, 1)) == ["INV-2027-00101", "INV-2027-00102"]


def test_account_number_placeholder():
    company = company_with(
        invoice=Counter(series="invoice", pattern="[AccountNo]-[Year][Month][Day]-{0000}")
    )
    store = make_store(
        make_account("C1"), make_account("C2"), company=company, start=date(2026, 3, 5)
    )
    # One counter for both accounts: the sequence continues across them.
    assert numbers(store, date(2026, 3, 5)) == ["C1-20260305-0001", "C2-20260305-0002"]


def test_cancellation_shares_the_credit_series_by_default():
    rebate = Item(
        id="rebate", product=REBATE, price=Flat(eur("-20.00")), billing_type=BillingType.RECURRING
    )
    store = make_store(make_account("C1"))
    store.put_account(make_account("C2"))
    store.put_subscription(
        Subscription(number="S-C2", account_id="C2", start=date(2026, 1, 1), items=[rebate])
    )

    invoice, credit = invoice_run(store, date(2026, 1, 1)).documents
    assert credit.kind is DocumentKind.CREDIT
    (invoice,) = finalize(store, [invoice])
    assert invoice.number == "INV-2026-00001"
    mirror = cancel(store, invoice, cancellation_date=date(2026, 1, 10))
    assert mirror.number == "CR-2026-00001"
    (credit,) = finalize(store, [credit])
    assert credit.number == "CR-2026-00002"
    # The invoice series is untouched by credits and cancellations.
    assert numbers(store, date(2026, 1, 10)) == ["INV-2026-00002"]


def test_separate_cancellation_series():
    company = company_with(
        cancellation=Counter(series="cancellation", pattern="STO-[Year]-{00000}")
    )
    rebate = Item(
        id="rebate", product=REBATE, price=Flat(eur("-20.00")), billing_type=BillingType.RECURRING
    )
    store = make_store(make_account("C1"), company=company)
    store.put_account(make_account("C2"))
    store.put_subscription(
        Subscription(number="S-C2", account_id="C2", start=date(2026, 1, 1), items=[rebate])
    )

    invoice, credit = finalize(store, invoice_run(store, date(2026, 1, 1)).documents)
    assert (invoice.number, credit.number) == ("INV-2026-00001", "CR-2026-00001")
    mirror = cancel(store, invoice, cancellation_date=date(2026, 1, 10))
    assert mirror.number == "STO-2026-00001"


def test_counters_are_per_company():
    store = make_store(make_account("C1"))
    assert numbers(store, date(2026, 1, 1)) == ["INV-2026-00001"]
    other = attrs.evolve(sample_company(), id="suedwind", name="Südwind GmbH")
    store.put_company(other)
    assert numbers(store, date(2026, 2, 1)) == ["INV-2026-00001"]


def _two_pass(pattern: str, sequence: int, day: date, account_id: str) -> str:
    """The numbering rule as first written: placeholders, then the sequence mask."""
    import re

    values = {
        "Year": f"{day.year:04d}",
        "Month": f"{day.month:02d}",
        "Day": f"{day.day:02d}",
        "AccountNo": account_id,
    }
    text = re.sub(r"\[(Year|Month|Day|AccountNo)\]", lambda m: values[m.group(1)], pattern)
    return re.sub(r"\{(0+)\}", lambda m: f"{sequence:0{len(m.group(1))}d}", text)


_PIECES = st.sampled_from(
    ["INV-", "/", "[Year]", "[Month]", "[Day]", "[AccountNo]", "{x}", "}", "{", "-", "A"]
)


@given(
    before=st.lists(_PIECES, max_size=5),
    after=st.lists(_PIECES, max_size=5),
    width=st.integers(1, 8),
    sequence=st.integers(0, 10**9),
    day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    account_id=st.text("ABC-0123456789/[]x", min_size=1, max_size=12),
)
def test_numbers_follow_the_pattern_as_the_two_pass_rule_does(
    before: list[str], after: list[str], width: int, sequence: int, day: date, account_id: str
) -> None:
    pattern = "".join(before) + "{" + "0" * width + "}" + "".join(after)
    try:
        counter = Counter(series="x", pattern=pattern)
    except ValidationError:
        return  # e.g. a second mask formed across pieces: refused as before
    expected = _two_pass(pattern, sequence, day, account_id)
    assert counter.format(sequence, day, account_id=account_id) == expected


def test_an_account_number_with_braces_is_printed_as_it_is() -> None:
    counter = Counter(series="x", pattern="[AccountNo]-{000}")
    assert counter.format(5, date(2026, 1, 1), account_id="K{00}") == "K{00}-005"
