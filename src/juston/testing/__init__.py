"""Helpers for tests, demos and notebooks: generated sample data."""

from .sample import sample_accounts, sample_changes, sample_company, sample_store

__all__ = ["sample_accounts", "sample_changes", "sample_company", "sample_store"]
