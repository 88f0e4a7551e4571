"""Computed styles shared by the documents a PDF renderer prints.

WeasyPrint computes each element's style lazily, one property at a time, the first time
layout or drawing asks for it: some 7,000 property computations per invoice, a fifth of its
printing time. Within one document it already gives elements with the same parent style and
the same matching rules one style object; between documents it starts afresh. Documents
printed with the same stylesheets have the same few hundred distinct styles, so
:class:`StyleSharing` hands each new document the style objects of earlier documents
wherever the parent style and the cascaded declarations are the same: their properties are
computed once per renderer instead of once per document, and the PDF comes out byte for byte
the same.

A computed style is a function of its parent's computed style, its cascaded declarations
and what every style of the document shares (base URL, font configuration, the page size
for viewport units). Declarations from the renderer's own stylesheets are the same objects
in every document; those from the document itself (the ``lang`` and ``id`` attributes)
compare by value. A document with stylesheets of its own (``<style>``, ``<link>``) is
printed with its own styles, as the page size or a rule could differ from the shared ones.

This relies on WeasyPrint internals (the style table of ``StyleFor`` and the attributes of
``ComputedStyle``, WeasyPrint 62 to 70); where they differ, documents keep their own styles,
which prints the same, only slower.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

__all__ = ["StyleSharing"]

_STYLE_ATTRIBUTES = ("parent_style", "root_style", "cascaded", "pseudo_type", "cache")
_BY_IDENTITY = object()  # marks a declaration value keyed by identity


class StyleSharing:
    """The computed styles of the documents printed with *sheets* (the user-agent and user
    stylesheets every document gets), shared from one document to the next.

    At most *limit* styles are kept; past that the table starts afresh (between documents,
    so a document never mixes styles of two tables).
    """

    def __init__(self, sheets: Iterable[Any], *, limit: int = 20_000) -> None:
        self._sheets = tuple(sheets)
        self._limit = limit
        self._styles: dict[Hashable, Any] = {}
        #: Styles taken from earlier documents, and styles new to the table (for tests).
        self.reused = 0
        self.added = 0

    def share(self, style_for: Any) -> bool:
        """Replace the styles of one document's ``StyleFor`` by equal ones of earlier
        documents, and remember the new ones; ``False`` (nothing changed) where the document
        has stylesheets of its own or WeasyPrint's internals are not the expected ones."""
        styles = getattr(style_for, "_computed_styles", None)
        sheets = getattr(style_for, "_sheets", None)
        if not isinstance(styles, dict) or not isinstance(sheets, list):
            return False
        if not all(sheet in self._sheets for sheet, *_ in sheets):
            return False
        if not all(hasattr(s, a) for s in styles.values() for a in _STYLE_ATTRIBUTES):
            return False
        if len(self._styles) > self._limit:
            self._styles.clear()
        shared: dict[int, Any] = {}  # id of this document's style -> the style it uses
        for slot, style in styles.items():
            replacement = shared.get(id(style))
            if replacement is None:
                replacement = shared[id(style)] = self._share_one(style, shared)
            styles[slot] = replacement
        return True

    def _share_one(self, style: Any, shared: dict[int, Any]) -> Any:
        parent = style.parent_style
        if parent is None:  # the root element
            origin: tuple[Hashable, ...] = (None, style.base_url, id(style.font_config))
        else:
            parent = shared.get(id(parent), parent)
            origin = (id(parent),)
        key = (*origin, style.pseudo_type, _declarations_key(style.cascaded))
        known = self._styles.get(key)
        if known is not None:
            self.reused += 1
            return known
        if parent is not None and parent is not style.parent_style:
            style.parent_style = parent
            style.root_style = shared.get(id(style.root_style), style.root_style)
            style.cache = parent.cache
        # The table keeps the style, hence its parent and its declarations, alive: the ids
        # in its key cannot be reused by other objects while the key is there.
        self._styles[key] = style
        self.added += 1
        return style


def _declarations_key(cascaded: dict[str, tuple[Any, Any]]) -> Hashable:
    """The cascaded declarations ``{name: (value, weight)}`` as a key: values by value
    where they are hashable (parsed anew per document, like ``lang``), else by identity
    (the parsed values of the shared stylesheets, the same objects in every document)."""
    items = []
    for name, (value, weight) in cascaded.items():
        try:
            hash(value)
        except TypeError:
            value = (_BY_IDENTITY, id(value))
        items.append((name, value, weight))
    return tuple(items)
