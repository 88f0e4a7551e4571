"""Bad input is refused with errors that name the field and the value."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from juston import (
    Address,
    CannotCancel,
    Discount,
    Flat,
    FloatNotAllowed,
    Graduated,
    Item,
    ItemChange,
    JustonError,
    NotADraft,
    Package,
    Percentage,
    Period,
    PerUnit,
    PricingError,
    Product,
    StateError,
    Subscription,
    Tier,
    ValidationError,
    Volume,
    currency,
    decimal,
    money,
    price,
)

D = Decimal
SEATS = Product(code="SEATS", name="User seats")


def eur(amount: str):
    return money(amount, "EUR")


def seats_item(**kw) -> Item:
    fields = {"id": "seats", "product": SEATS, "price": PerUnit(eur("10.00")), "quantity": D(1)}
    fields.update(kw)
    return Item(**fields)


def assert_names(error: ValidationError, field: str) -> None:
    assert error.field == field
    assert str(error).startswith(f"{field}:"), str(error)


# --------------------------------------------------------------------------------------
# Floats
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: money(1.5, "EUR"), "amount"),
        (lambda: money(1.5, "EUR", field="unit_price"), "unit_price"),
        (lambda: decimal(0.5, field="quantity"), "quantity"),
        (lambda: seats_item(quantity=1.5), "quantity"),
        (lambda: ItemChange(effective=date(2026, 1, 1), quantity=2.0), "quantity"),
        (lambda: seats_item().change_quantity(date(2026, 2, 1), 3.0), "quantity"),
        (lambda: Discount(percent=10.0), "percent"),
        (lambda: Tier(10.0, eur("2.50")), "up_to"),
        (lambda: Package(eur("30.00"), 10.0), "size"),
        (lambda: Percentage(10.0, "EUR"), "rate"),
        (lambda: price(PerUnit(eur("10.00")), 2.5), "quantity"),
    ],
)
def test_float_rejected_naming_the_field(make, field):
    with pytest.raises(FloatNotAllowed) as info:
        make()
    error = info.value
    assert isinstance(error, JustonError)
    assert isinstance(error, TypeError)
    assert isinstance(error, ValidationError)
    assert_names(error, field)
    assert "float" in str(error)


def test_float_message():
    with pytest.raises(FloatNotAllowed) as info:
        money(1.5, "EUR")
    assert str(info.value) == "amount: 1.5 is a float; pass a Decimal, int or str such as '1.50'"


def test_float_can_be_caught_as_type_error():
    with pytest.raises(TypeError):
        decimal(2.5, field="quantity")


def test_plain_number_is_not_money():
    with pytest.raises(ValidationError) as info:
        PerUnit(Decimal("10.00"))  # type: ignore[arg-type]
    assert_names(info.value, "unit_price")
    with pytest.raises(ValidationError) as info:
        Flat(10)  # type: ignore[arg-type]
    assert_names(info.value, "amount")


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", True, None, [1]])
def test_junk_numbers_rejected(value):
    with pytest.raises(ValidationError) as info:
        decimal(value, field="quantity")
    assert_names(info.value, "quantity")
    assert not isinstance(info.value, FloatNotAllowed)


@pytest.mark.parametrize("code", ["EURO", "XXY", "", 978, "E"])
def test_bad_currency_code(code):
    with pytest.raises(ValidationError):
        currency(code)


# --------------------------------------------------------------------------------------
# Items and subscriptions
# --------------------------------------------------------------------------------------


def test_negative_quantity_rejected():
    with pytest.raises(ValidationError) as info:
        seats_item(quantity=D(-1))
    assert_names(info.value, "quantity")
    assert info.value.value == D(-1)


def test_negative_quantity_change_rejected():
    with pytest.raises(ValidationError) as info:
        seats_item().change_quantity(date(2026, 2, 1), -3)
    assert_names(info.value, "quantity")


def test_zero_quantity_allowed():
    assert seats_item(quantity=0).quantity == D(0)


def test_duplicate_item_ids_rejected():
    with pytest.raises(ValidationError) as info:
        Subscription(
            number="S1",
            account_id="C1",
            start=date(2026, 1, 1),
            items=[seats_item(), seats_item(quantity=D(2))],
        )
    assert_names(info.value, "items")
    assert "'seats'" in str(info.value)


def test_with_item_replaces_rather_than_duplicates():
    subscription = Subscription(
        number="S1", account_id="C1", start=date(2026, 1, 1), items=[seats_item()]
    )
    replaced = subscription.with_item(seats_item(quantity=D(3)))
    assert [(i.id, i.quantity) for i in replaced.items] == [("seats", D(3))]


def test_item_end_must_be_after_start():
    with pytest.raises(ValidationError) as info:
        seats_item(start=date(2026, 3, 1), end=date(2026, 3, 1))
    assert_names(info.value, "end")


def test_subscription_end_must_be_after_start():
    with pytest.raises(ValidationError) as info:
        Subscription(number="S1", account_id="C1", start=date(2026, 3, 1), end=date(2026, 2, 1))
    assert_names(info.value, "end")


def test_datetime_is_not_a_date():
    with pytest.raises(ValidationError) as info:
        Subscription(number="S1", account_id="C1", start=datetime(2026, 1, 1, 12, 0))  # type: ignore[arg-type]
    assert_names(info.value, "start")


def test_empty_item_id_rejected():
    with pytest.raises(ValidationError) as info:
        seats_item(id="  ")
    assert_names(info.value, "id")


def test_change_with_nothing_rejected():
    with pytest.raises(ValidationError):
        ItemChange(effective=date(2026, 1, 1))


def test_price_change_to_other_currency_rejected():
    with pytest.raises(ValidationError) as info:
        seats_item().change_price(date(2026, 2, 1), PerUnit(money("10.00", "USD")))
    assert_names(info.value, "changes")


# --------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["de", "DEU", "D1", "", "D", 49])
def test_bad_country_code(country):
    with pytest.raises(ValidationError) as info:
        Address(street="Ring 2", postcode="80331", city="München", country=country)
    assert_names(info.value, "country")


def test_good_country_code():
    assert Address(street="Ring 2", postcode="80331", city="München", country="AT").country == "AT"


# --------------------------------------------------------------------------------------
# Price models
# --------------------------------------------------------------------------------------

BOUNDED = [Tier(10, eur("2.50")), Tier(20, eur("2.40")), Tier(30, eur("2.30"))]


def test_volume_beyond_last_bounded_tier():
    assert price(Volume(BOUNDED), 30) == eur("69.00")  # 30 × 2.30, still inside
    with pytest.raises(PricingError) as info:
        price(Volume(BOUNDED), 31)
    error = info.value
    assert isinstance(error, ValidationError)
    assert isinstance(error, JustonError)
    assert_names(error, "quantity")


def test_graduated_beyond_last_bounded_tier():
    with pytest.raises(PricingError) as info:
        price(Graduated(BOUNDED), 31)
    assert_names(info.value, "quantity")


def test_unbounded_last_tier_prices_any_quantity():
    tiers = [Tier(10, eur("2.50")), Tier(None, eur("2.00"))]
    # volume: 1000 × 2.00; graduated: 10 × 2.50 + 990 × 2.00 = 25.00 + 1980.00
    assert price(Volume(tiers), 1000) == eur("2000.00")
    assert price(Graduated(tiers), 1000) == eur("2005.00")


@pytest.mark.parametrize(
    "tiers",
    [
        [],
        [Tier(10, None)],
        [Tier(10, eur("2.50")), Tier(10, eur("2.40"))],
    ],
)
def test_bad_tiers(tiers):
    with pytest.raises(ValidationError) as info:
        Volume(tiers)
    assert_names(info.value, "tiers")


def test_mixed_currency_tiers():
    with pytest.raises(ValidationError):
        Volume([Tier(10, eur("2.50")), Tier(20, money("2.40", "USD"))])


@pytest.mark.parametrize("size", [0, -10])
def test_package_size_must_be_positive(size):
    with pytest.raises(ValidationError) as info:
        Package(eur("30.00"), size)
    assert_names(info.value, "size")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({}, "discount"),
        ({"percent": D(10), "amount": eur("5.00")}, "discount"),
        ({"percent": D(101)}, "percent"),
        ({"percent": D(-1)}, "percent"),
        ({"amount": eur("-5.00")}, "amount"),
        ({"percent": D(10), "start": date(2026, 2, 1), "end": date(2026, 2, 1)}, "end"),
    ],
)
def test_bad_discounts(kw, field):
    with pytest.raises(ValidationError) as info:
        Discount(**kw)
    assert_names(info.value, field)


# --------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [date(2026, 1, 1), date(2025, 12, 31)])
def test_period_end_must_be_after_start(end):
    with pytest.raises(ValidationError) as info:
        Period(date(2026, 1, 1), end)
    assert_names(info.value, "end")


def test_period_of_one_day():
    period = Period(date(2026, 1, 1), date(2026, 1, 2))
    assert (period.days, period.last_day) == (1, date(2026, 1, 1))


# --------------------------------------------------------------------------------------
# Error hierarchy
# --------------------------------------------------------------------------------------


def test_state_errors_are_juston_errors():
    assert issubclass(NotADraft, StateError)
    assert issubclass(CannotCancel, StateError)
    assert issubclass(StateError, JustonError)
    assert issubclass(PricingError, ValidationError)
    assert issubclass(ValidationError, ValueError)
