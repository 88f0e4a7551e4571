"""The domain model: frozen attrs values with validators that name the field and value."""

from .billables import Billable
from .catalog import Product, Supply
from .documents import (
    DirectDebit,
    DocumentKind,
    DocumentReference,
    DocumentStatus,
    Invoice,
    Line,
    LineContent,
    TaxSubtotal,
    Term,
)
from .numbering import Counter, Numbering, Reset
from .parties import Account, Address, BankAccount, Company, Contact, ElectronicAddress
from .subscriptions import Item, ItemChange, Subscription, SubscriptionStatus
from .terms import PaymentTerms

__all__ = [
    "Account",
    "Address",
    "BankAccount",
    "Billable",
    "Company",
    "Contact",
    "Counter",
    "DirectDebit",
    "DocumentKind",
    "DocumentReference",
    "DocumentStatus",
    "ElectronicAddress",
    "Invoice",
    "Item",
    "ItemChange",
    "Line",
    "LineContent",
    "Numbering",
    "PaymentTerms",
    "Product",
    "Reset",
    "Subscription",
    "SubscriptionStatus",
    "Supply",
    "TaxSubtotal",
    "Term",
]
