"""juston: embeddable subscription billing and invoice management.

>>> from datetime import date
>>> import juston
>>> store = juston.testing.sample_store(accounts=2)
>>> result = juston.invoice_run(store, date(2026, 1, 1))
>>> [doc.number for doc in juston.finalize(store, result.documents)]
['INV-2026-00001', 'INV-2026-00002']
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import testing
from .billables import BillableMapping, ParentMapping, add_charge, remove_charge
from .billing.plan import RunOptions, Split, plan_account
from .billing.run import (
    AccountFailure,
    RunResult,
    cancel,
    delete_draft,
    finalize,
    forecast,
    invoice_run,
)
from .errors import (
    CannotCancel,
    CurrencyMismatch,
    EInvoiceError,
    FloatNotAllowed,
    InvalidVatId,
    JustonError,
    NotADraft,
    NotFound,
    PaymentTermsError,
    PluginError,
    PricingError,
    RenderError,
    StateError,
    StorageError,
    TaxError,
    TemplateError,
    ValidationError,
)
from .hookspecs import hookimpl
from .model import (
    Account,
    Address,
    BankAccount,
    Billable,
    Company,
    Contact,
    Counter,
    DocumentKind,
    DocumentReference,
    DocumentStatus,
    ElectronicAddress,
    Invoice,
    Item,
    ItemChange,
    Line,
    Numbering,
    PaymentTerms,
    Product,
    Reset,
    Subscription,
    SubscriptionStatus,
    Supply,
    TaxSubtotal,
    Term,
)
from .money import Money, currency, decimal, money
from .periods import Alignment, BillingPeriod, Grid, Period, Unit
from .plugins import Plugins, make_plugin_manager
from .pricing import (
    BillingType,
    Charge,
    Discount,
    Flat,
    Graduated,
    MinimumFee,
    Package,
    Percentage,
    PerUnit,
    Practice,
    PriceModel,
    PriceSchedule,
    TaxDate,
    Tier,
    Volume,
    price,
)
from .rounding import TaxRounding
from .storage import MemoryStore, Store, Transaction
from .tax import RateTable, Region, TaxEngine, TaxResolver, TaxResult, TaxRule, vat_id
from .usage import (
    Aggregation,
    IngestResult,
    LatePolicy,
    Metric,
    Rejection,
    UsageRecord,
    ingest_usage,
    read_usage_csv,
)

try:
    __version__ = version("juston")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"


def open_store(url: str = "memory:", *, plugins: Plugins | None = None) -> Store:
    """Open the store that *url* names through the storage plugins.

    >>> type(open_store("memory:")).__name__
    'MemoryStore'
    """
    return (plugins or Plugins.load()).open_store(url)


__all__ = [
    "Account",
    "AccountFailure",
    "Address",
    "Aggregation",
    "Alignment",
    "BankAccount",
    "Billable",
    "BillableMapping",
    "BillingPeriod",
    "BillingType",
    "CannotCancel",
    "Charge",
    "Company",
    "Contact",
    "Counter",
    "CurrencyMismatch",
    "Discount",
    "DocumentKind",
    "DocumentReference",
    "DocumentStatus",
    "EInvoiceError",
    "ElectronicAddress",
    "Flat",
    "FloatNotAllowed",
    "Graduated",
    "Grid",
    "IngestResult",
    "InvalidVatId",
    "Invoice",
    "Item",
    "ItemChange",
    "JustonError",
    "LatePolicy",
    "Line",
    "MemoryStore",
    "Metric",
    "MinimumFee",
    "Money",
    "NotADraft",
    "NotFound",
    "Numbering",
    "Package",
    "ParentMapping",
    "PaymentTerms",
    "PaymentTermsError",
    "PerUnit",
    "Percentage",
    "Period",
    "PluginError",
    "Plugins",
    "Practice",
    "PriceModel",
    "PriceSchedule",
    "PricingError",
    "Product",
    "RateTable",
    "Region",
    "Rejection",
    "RenderError",
    "Reset",
    "RunOptions",
    "RunResult",
    "Split",
    "StateError",
    "StorageError",
    "Store",
    "Subscription",
    "SubscriptionStatus",
    "Supply",
    "TaxDate",
    "TaxEngine",
    "TaxError",
    "TaxResolver",
    "TaxResult",
    "TaxRounding",
    "TaxRule",
    "TaxSubtotal",
    "TemplateError",
    "Term",
    "Tier",
    "Transaction",
    "Unit",
    "UsageRecord",
    "ValidationError",
    "Volume",
    "add_charge",
    "cancel",
    "currency",
    "decimal",
    "delete_draft",
    "finalize",
    "forecast",
    "hookimpl",
    "ingest_usage",
    "invoice_run",
    "make_plugin_manager",
    "money",
    "open_store",
    "plan_account",
    "price",
    "read_usage_csv",
    "remove_charge",
    "testing",
    "vat_id",
]
