"""Usage data billing: records, ingestion and aggregation.

See :mod:`juston.usage.ingest` for getting records in (:func:`ingest_usage_rows` for
millions of plain rows), :mod:`juston.usage.rows` for the plain form stores write them
in, and :mod:`juston.usage.aggregate` for how stores total them; the invoice run rates
the totals of each period.
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
from .ingest import (
    IngestResult,
    Rejection,
    UsageItems,
    ingest_usage,
    ingest_usage_rows,
    read_usage_csv,
)
from .rows import UsageRow

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
    "UsageRow",
    "UsageTotal",
    "aggregate",
    "ingest_usage",
    "ingest_usage_rows",
    "read_usage_csv",
]
