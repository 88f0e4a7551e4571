"""Helpers for tests, demos and notebooks: generated sample data."""

from .fake_provider import FakeProvider
from .receivables import issue
from .sample import populate, sample_accounts, sample_changes, sample_company, sample_store
from .usage import usage_accounts, usage_records, usage_store

__all__ = [
    "FakeProvider",
    "issue",
    "populate",
    "sample_accounts",
    "sample_changes",
    "sample_company",
    "sample_store",
    "usage_accounts",
    "usage_records",
    "usage_store",
]
