"""Price models, discounts, billing types and proration.

Everything here is pure: values in, values out, usable without a store.
"""

from .discounts import Discount
from .models import (
    Charge,
    Flat,
    Graduated,
    MinimumFee,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    PriceSchedule,
    Tier,
    Volume,
    price,
    tiers,
)
from .proration import BillingType, Measure, Practice, TaxDate

__all__ = [
    "BillingType",
    "Charge",
    "Discount",
    "Flat",
    "Graduated",
    "Measure",
    "MinimumFee",
    "Package",
    "PerUnit",
    "Percentage",
    "Practice",
    "PriceModel",
    "PriceSchedule",
    "TaxDate",
    "Tier",
    "Volume",
    "price",
    "tiers",
]
