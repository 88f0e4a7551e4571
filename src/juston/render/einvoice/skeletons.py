"""The skeleton of a document's shape, built once per syntax, profile, shape and seller."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter

from lxml import etree

from .profiles import Profile
from .semantic import BusinessTerms, Day, Party, Payment, Totals
from .stamps import Anchors, Skeleton, probe, shape

__all__ = ["skeleton"]

_NESTED = (Party, Totals, Payment, Day)
_PARTY_TEXTS = attrgetter(*Party.__slots__)
_SKELETONS: dict[tuple[object, ...], Skeleton[BusinessTerms]] = {}
#: Real runs have a few dozen shapes; the cache is emptied if it ever grows past this.
_LIMIT = 1024

Document = Callable[[BusinessTerms, Profile, Anchors | None], etree._Element]


def skeleton(
    syntax: str, document: Document, terms: BusinessTerms, profile: Profile
) -> Skeleton[BusinessTerms]:
    """The skeleton that *document* (a syntax's whole-tree builder) makes for *terms*' shape."""
    # One seller issues most documents: its party is part of the skeleton, not slots.
    key = (syntax, profile.name, shape(terms), _PARTY_TEXTS(terms.seller))
    found = _SKELETONS.get(key)
    if found is None:
        if len(_SKELETONS) > _LIMIT:
            _SKELETONS.clear()
        found = _SKELETONS[key] = Skeleton(
            lambda values, anchors: document(values, profile, anchors),
            probe(terms, None, _NESTED, fixed=("seller",)),
        )
    return found
