"""The renderer seam: what every document renderer offers.

A renderer turns documents into bytes of one media type: HTML, PDF, EN 16931 XML. The
built-in ones and those of plugins are found through the ``juston_renderers`` hook and
looked up by name (:meth:`juston.Plugins.renderers`). Rendering many documents at once
(:meth:`Renderer.render_many`) lets a renderer share its start-up cost (fonts, templates,
schemas) across them.

    >>> from juston import Plugins
    >>> renderers = Plugins.load(entry_points=False).renderers()
    >>> renderers["html"].media_type
    'text/html'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from ..model.documents import Invoice

__all__ = ["Renderer", "RendersOneByOne"]


@runtime_checkable
class Renderer(Protocol):
    """Renders documents as one media type."""

    #: The name users pick it by (``html``, ``pdf``, ``xrechnung-ubl`` …).
    name: str
    #: The media type of what it makes (``application/pdf`` …).
    media_type: str
    #: The file name suffix for what it makes (``.pdf``).
    suffix: str

    def render(self, document: Invoice) -> bytes:
        """One document."""
        ...

    def render_many(self, documents: Sequence[Invoice]) -> Iterator[bytes]:
        """Several documents, one result each, in order."""
        ...


class RendersOneByOne:
    """A :meth:`Renderer.render_many` that renders each document on its own."""

    def render(self, document: Invoice) -> bytes:
        raise NotImplementedError

    def render_many(self, documents: Sequence[Invoice]) -> Iterator[bytes]:
        for document in documents:
            yield self.render(document)
