"""The built-in renderers, registered like any plugin's."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .base import Renderer

__all__ = ["juston_renderers"]


@hookimpl
def juston_renderers() -> list[Renderer]:
    """HTML, PDF and Factur-X (need ``juston[pdf]``), and EN 16931 XML in each syntax and
    profile."""
    from .einvoice import renderers as xml_renderers
    from .facturx import FacturXRenderer
    from .html import HtmlRenderer
    from .pdf import PdfRenderer

    return [HtmlRenderer(), PdfRenderer(), *xml_renderers(), FacturXRenderer()]
