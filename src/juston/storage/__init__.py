"""Storage backends behind one interface (:class:`Store`)."""

from .base import Reader, Store, Transaction
from .memory import MemoryStore

__all__ = ["MemoryStore", "Reader", "Store", "Transaction"]
