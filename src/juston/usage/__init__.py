"""Usage data billing: records, ingestion and aggregation.

See :mod:`juston.usage.ingest` for getting records in and :mod:`juston.usage.aggregate`
for how stores total them; the invoice run rates the totals of each period.
"""

from ..model.usage import (
    Aggregation,
    LatePolicy,
    Metric,
    StoredUsage,
    UsageQuery,
    UsageRecord,
    UsageTotal,
)
from .aggregate import aggregate
from .ingest import IngestResult, Rejection, UsageItems, ingest_usage, read_usage_csv

__all__ = [
    "Aggregation",
    "IngestResult",
    "LatePolicy",
    "Metric",
    "Rejection",
    "StoredUsage",
    "UsageItems",
    "UsageQuery",
    "UsageRecord",
    "UsageTotal",
    "aggregate",
    "ingest_usage",
    "read_usage_csv",
]
