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
from .model.mandates import Mandate
from .model.receivables import (
    Balance,
    BalanceType,
    EntryStatus,
    Installment,
    InstallmentPlan,
    PaymentEntry,
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
from .receivables import (
    MatchRule,
    OpenItem,
    PaymentState,
    Registered,
    assign_payment,
    balance_of,
    chargeback,
    document_state,
    ignore_payment,
    match_payments,
    open_items,
    payout,
    prepay,
    refund,
    register_payment,
    register_payments,
    settle,
    write_off,
    write_off_small,
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
    "Balance",
    "BalanceType",
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
    "EntryStatus",
    "Flat",
    "FloatNotAllowed",
    "Graduated",
    "Grid",
    "IngestResult",
    "Installment",
    "InstallmentPlan",
    "InvalidVatId",
    "Invoice",
    "Item",
    "ItemChange",
    "JustonError",
    "LatePolicy",
    "Line",
    "Mandate",
    "MatchRule",
    "MemoryStore",
    "Metric",
    "MinimumFee",
    "Money",
    "NotADraft",
    "NotFound",
    "Numbering",
    "OpenItem",
    "Package",
    "ParentMapping",
    "PaymentEntry",
    "PaymentState",
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
    "Registered",
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
    "assign_payment",
    "balance_of",
    "cancel",
    "chargeback",
    "currency",
    "decimal",
    "delete_draft",
    "document_state",
    "finalize",
    "forecast",
    "hookimpl",
    "ignore_payment",
    "ingest_usage",
    "invoice_run",
    "make_plugin_manager",
    "match_payments",
    "money",
    "open_items",
    "open_store",
    "payout",
    "plan_account",
    "prepay",
    "price",
    "read_usage_csv",
    "refund",
    "register_payment",
    "register_payments",
    "remove_charge",
    "settle",
    "testing",
    "vat_id",
    "write_off",
    "write_off_small",
]
