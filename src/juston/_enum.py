"""The base class of juston's enums."""

from __future__ import annotations

import enum

__all__ = ["Enum"]


class Enum(enum.Enum):
    """An :class:`enum.Enum` whose members hash by identity.

    Members are singletons that compare by identity, so hashing by identity agrees with
    equality. ``enum.Enum.__hash__`` is a Python function (``hash(self._name_)``), and an
    invoice run hashes members in its memo keys (billing type, practice, units …) millions
    of times; the identity hash is the interpreter's own, several times cheaper.
    """

    __hash__ = object.__hash__
