"""Stable ids for payment entries that a bank file does not number itself.

An id is a digest of what the entry says plus how often the same content came before in
the same file: two identical rows in one file are two payments, and the same row in a
later export of the same account gets the same id, so registering it again is a
duplicate, not a second payment.

    >>> ids = EntryIds("csv")
    >>> first, second = ids.next(["2026-01-09", "119.00", "INV-7"]), ids.next(["2026-01-09", "119.00", "INV-7"])
    >>> first != second, first == EntryIds("csv").next(["2026-01-09", "119.00", "INV-7"])
    (True, True)
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

__all__ = ["EntryIds"]

# A separator no bank text contains, so ("ab", "c") and ("a", "bc") digest differently.
_UNIT = "\x1f"


class EntryIds:
    """Hands out ``<prefix>-<digest>`` ids for the entries of one file, in file order."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._seen: Counter[str] = Counter()

    def next(self, parts: Iterable[str]) -> str:
        content = _UNIT.join(parts)
        self._seen[content] += 1
        text = f"{content}{_UNIT}{self._seen[content]}"
        return f"{self._prefix}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"
