"""Documents as PDF/A-3b, printed by WeasyPrint from the HTML templates.

:class:`PdfRenderer` lays out each document's HTML (:func:`juston.render.html.render_html`)
on A4 and writes one PDF/A-3b file per document (ISO 19005-3, level B: fonts embedded,
sRGB output intent, XMP metadata with ``pdfaid:part 3`` and ``pdfaid:conformance B``;
PDF/A-3 also allows the embedded XML of a Factur-X/ZUGFeRD invoice).
:func:`pdf_bytes` is the same for one document, with optional attachments and extra XMP
metadata for that step.

Rendering many documents shares everything that does not depend on the document: the font
configuration, the parsed stylesheets (WeasyPrint's user-agent stylesheet without the
footnote and note rules, which cost every element a few styles and juston's documents never
use), decoded images and the computed styles, whose properties WeasyPrint computes one by
one as layout asks for them (:mod:`juston.render.pdf_styles`: a fifth of the time a document
took). A page's HTML is parsed by lxml into the tree WeasyPrint's pure-Python HTML5 parser
would build (:mod:`juston.render.pdf_parse`; WeasyPrint parses what lxml cannot promise to
parse the same). Each PDF embeds only the glyphs it uses (HarfBuzz subsetting, well under a
millisecond per font; where WeasyPrint only has fontTools, which takes about 100 ms, the
fonts are embedded whole, compressed once per renderer). What remains per document is
WeasyPrint's layout and drawing, which grow with the number of boxes and lines of text, so
juston's templates keep those few (see ``base/layout.html``). Both shortcuts use WeasyPrint
internals and fall back to WeasyPrint's own path where those differ; either way the PDF is
byte for byte the same. WeasyPrint is imported only when the first PDF is made; without it a
:class:`~juston.errors.RenderError` says to install ``juston[pdf]``.

Resources a template refers to (images, stylesheets, fonts) are read only from the template
folders and ``data:`` URLs: a template cannot make the renderer read other files or fetch
from the network.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import attrs

from ..errors import RenderError
from ..model.documents import Invoice
from .html import render_html
from .pdf_parse import parse_html
from .pdf_styles import StyleSharing
from .templates import PACKAGE_TEMPLATES, Templates, default_templates

__all__ = ["PDF_VARIANT", "PdfAttachment", "PdfRenderer", "html_pdf_bytes", "pdf_bytes"]

#: The PDF flavour juston writes.
PDF_VARIANT = "pdf/a-3b"
_STYLESHEET_MARKER = '<meta name="juston-stylesheet"'


@attrs.frozen
class PdfAttachment:
    """A file embedded in the PDF (PDF/A-3 associated file), such as an e-invoice's XML.

    *relationship* is the PDF ``AFRelationship`` (``Data``, ``Source``, ``Alternative``,
    ``Supplement``, ``Unspecified``).
    """

    name: str
    content: bytes
    description: str | None = None
    relationship: str = "Data"


def _weasyprint() -> Any:
    try:
        weasyprint = importlib.import_module("weasyprint")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RenderError(
            "PDF rendering needs WeasyPrint, which is not installed: pip install 'juston[pdf]'"
        ) from exc
    except OSError as exc:  # pragma: no cover - WeasyPrint without its system libraries
        raise RenderError(
            f"PDF rendering needs WeasyPrint and its system libraries (Pango): {exc}"
        ) from exc
    return weasyprint


#: Rules of WeasyPrint's user-agent stylesheet that juston's documents do not need but that
#: cost every document: the footnote and note pseudo-elements match *every* element (and
#: ``::marker`` does too), so WeasyPrint computes five or six extra styles per element, and
#: the footnote and note areas are set up on every page. juston's templates have no
#: footnotes; list markers keep their style as ``li::marker``.
_UA_EVERY_ELEMENT = re.compile(r"^::(?:footnote|note)-[a-z-]+ \{[^\n]*\}\n", re.M)
_UA_NOTE_AREAS = re.compile(r"^ *@(?:footnote|note-area) [^\n]*\n", re.M)


@functools.cache
def _html_class(weasyprint: Any) -> Any:
    """WeasyPrint's ``HTML`` printing with the leaner user-agent stylesheet (parsed once per
    process), made from an already parsed ``tree`` as well as from a string, and, where an
    instance has a ``style_sharing`` (:class:`~juston.render.pdf_styles.StyleSharing`),
    printing with the computed styles shared with the documents printed before it. Each of
    these falls back to WeasyPrint's own way (``HTML`` itself at worst) where this WeasyPrint
    lacks what it needs: documents then print the same, only slower."""
    html = weasyprint.HTML
    source = getattr(importlib.import_module("weasyprint.html"), "UA", None)
    if not isinstance(source, str) or not callable(getattr(html, "_ua_stylesheets", None)):
        return html  # pragma: no cover - another WeasyPrint
    source = _UA_NOTE_AREAS.sub("", _UA_EVERY_ELEMENT.sub("", source))
    stylesheet = weasyprint.CSS(string=source.replace("\n::marker {", "\nli::marker {"))
    document_class = _style_sharing_document(weasyprint)
    parsed_fields = _parsed_html_fields(weasyprint)

    class DocumentHTML(html):  # type: ignore[misc, valid-type]
        ua_stylesheet = stylesheet
        style_sharing: StyleSharing | None = None
        #: Whether ``tree`` (an already parsed page, see :mod:`juston.render.pdf_parse`)
        #: can stand for the page's source.
        takes_trees = parsed_fields is not None

        def __init__(self, *args: Any, tree: Any = None, **kwargs: Any) -> None:
            if tree is None or parsed_fields is None:
                super().__init__(*args, **kwargs)
                return
            # What WeasyPrint's own __init__ sets after parsing (checked once per process).
            find_base_url, wrapper = parsed_fields
            self.base_url = find_base_url(tree, kwargs.get("base_url"))
            self.url_fetcher = kwargs.get("url_fetcher") or weasyprint.urls.URLFetcher()
            self.media_type = kwargs.get("media_type", "print")
            self.wrapper_element = wrapper.from_html_root(tree, content_language=None)
            self.etree_element = self.wrapper_element.etree_element

        def _ua_stylesheets(self, *args: Any, **kwargs: Any) -> list[Any]:
            sheets: list[Any] = super()._ua_stylesheets(*args, **kwargs)
            return [stylesheet, *sheets[1:]]

        if document_class is not None:

            def render(
                self,
                font_config: Any = None,
                counter_style: Any = None,
                color_profiles: Any = None,
                **options: Any,
            ) -> Any:
                if self.style_sharing is None or not set(options) <= set(
                    weasyprint.DEFAULT_OPTIONS
                ):
                    return super().render(font_config, counter_style, color_profiles, **options)
                options = {**weasyprint.DEFAULT_OPTIONS, **options}
                return document_class._render(
                    self, font_config, counter_style, color_profiles, options
                )

    return DocumentHTML


def _parsed_html_fields(weasyprint: Any) -> tuple[Any, Any] | None:
    """What an ``HTML`` made from an already parsed tree needs (``None`` where this
    WeasyPrint's ``HTML`` keeps other things than base URL, URL fetcher, media type and
    the element tree, which a tree alone could not give it)."""
    find_base_url = getattr(weasyprint, "_find_base_url", None)
    wrapper = getattr(importlib.import_module("cssselect2"), "ElementWrapper", None)
    if not callable(find_base_url) or not hasattr(weasyprint.urls, "URLFetcher"):
        return None  # pragma: no cover - another WeasyPrint
    fields = set(vars(weasyprint.HTML(string="<p>")))
    expected = {"base_url", "url_fetcher", "media_type", "wrapper_element", "etree_element"}
    if fields != expected or wrapper is None:
        return None  # pragma: no cover - another WeasyPrint
    return find_base_url, wrapper


def _style_sharing_document(weasyprint: Any) -> Any:
    """WeasyPrint's ``Document`` handing each document's styles to its HTML's
    ``style_sharing`` before layout, or ``None`` where this WeasyPrint is built otherwise."""
    document = getattr(importlib.import_module("weasyprint.document"), "Document", None)
    if not (
        isinstance(getattr(weasyprint, "DEFAULT_OPTIONS", None), dict)
        and callable(getattr(document, "_render", None))
        and callable(getattr(document, "_build_layout_context", None))
    ):
        return None  # pragma: no cover - another WeasyPrint

    class StyleSharingDocument(document):  # type: ignore[misc, valid-type]
        @classmethod
        def _build_layout_context(cls, html: Any, *args: Any, **kwargs: Any) -> Any:
            context = super()._build_layout_context(html, *args, **kwargs)
            sharing = getattr(html, "style_sharing", None)
            style_for = getattr(context, "style_for", None)
            if sharing is not None and style_for is not None:
                sharing.share(style_for)
            return context

    return StyleSharingDocument


def _harfbuzz_subsets() -> bool:
    """Whether WeasyPrint subsets fonts with HarfBuzz (under a millisecond a font) rather
    than with fontTools (about 100 ms a font)."""
    try:
        ffi = importlib.import_module("weasyprint.text.ffi")
        return bool(ffi.harfbuzz_subset) and bool(ffi.harfbuzz.hb_version_atleast(4, 1, 0))
    except Exception:  # pragma: no cover - another WeasyPrint
        return False


def _file_url(path: Path) -> str:
    return path.resolve().as_uri() + ("/" if path.is_dir() else "")


def _inside(url: str, roots: Sequence[Path]) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "data":
        return True
    if parts.scheme != "file":
        return False
    path = Path(url2pathname(unquote(parts.path))).resolve()
    return any(path.is_relative_to(root) for root in roots)


def _url_fetcher(weasyprint: Any, roots: Sequence[Path]) -> Any:
    """A WeasyPrint URL fetcher that reads only ``data:`` URLs and files under *roots*."""

    def refuse(url: str) -> None:
        if not _inside(url, roots):
            raise ValueError(f"{url[:80]} is outside the template folders; not fetched")

    base = getattr(weasyprint.urls, "URLFetcher", None)
    if base is not None:  # WeasyPrint 68 and later: a fetcher class

        class Fetcher(base):  # type: ignore[misc, valid-type]
            def fetch(self, url: str, headers: Any = None) -> Any:
                refuse(url)
                return super().fetch(url, headers)

        return Fetcher(allowed_protocols=("file", "data"))

    default = weasyprint.default_url_fetcher  # pragma: no cover - older WeasyPrint

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        refuse(url)
        return default(url, *args, **kwargs)

    return fetch  # pragma: no cover


class _Press:
    """What every document of one set of templates shares: WeasyPrint, the font
    configuration, the parsed stylesheets, the computed styles, an image cache and (fonts
    embedded whole) the compressed fonts."""

    def __init__(self, templates: Templates, *, subset_fonts: bool) -> None:
        self.templates = templates
        #: Whether documents share their computed styles (tests compare with and without).
        self.share_styles = True
        self.weasyprint = _weasyprint()
        fonts = importlib.import_module("weasyprint.text.fonts")

        self.subset_fonts = subset_fonts
        roots = [PACKAGE_TEMPLATES.resolve()]
        if templates.directory is not None:
            roots.insert(0, templates.directory.resolve())
        self.base_url = _file_url(roots[0])
        self.url_fetcher = _url_fetcher(self.weasyprint, roots)
        self.html = _html_class(self.weasyprint)
        #: Whether pages are parsed with lxml where it builds WeasyPrint's tree (tests
        #: compare with and without).
        self.parse_fast = bool(getattr(self.html, "takes_trees", False))
        self.font_config = fonts.FontConfiguration()
        self.cache: dict[str, Any] = {}
        self.compressed: dict[bytes, bytes] = {}
        self.fonts = self._stylesheet("base/fonts.css")
        self._style: Any = None
        self._style_sharing: StyleSharing | None = None

    def _stylesheet(self, name: str) -> Any:
        template = self.templates.environment.get_template(name)
        base = Path(template.filename).parent if template.filename else PACKAGE_TEMPLATES / "base"
        return self.weasyprint.CSS(
            string=self.templates.render_name(name),
            base_url=_file_url(base),
            url_fetcher=self.url_fetcher,
            font_config=self.font_config,
        )

    @property
    def style(self) -> Any:
        if self._style is None:
            self._style = self._stylesheet("base/style.css")
        return self._style

    @property
    def style_sharing(self) -> StyleSharing:
        """The computed styles shared by the documents printed with the renderer's
        stylesheets (see :mod:`juston.render.pdf_styles`)."""
        if self._style_sharing is None:
            ua = getattr(self.html, "ua_stylesheet", None)
            self._style_sharing = StyleSharing([ua, self.fonts, self.style])
        return self._style_sharing

    def layout(self, document: Invoice) -> Any:
        """The document laid out in pages (a WeasyPrint ``Document``)."""
        html = render_html(document, templates=self.templates, shared_stylesheet=True)
        return self.layout_html(html, f"document {document.number or document.id}")

    def layout_html(self, html: str, label: str) -> Any:
        """A page of these templates, already HTML, laid out in pages; *label* names it
        in errors."""
        stylesheets = [self.fonts]
        if _STYLESHEET_MARKER in html:
            stylesheets.append(self.style)
        try:
            tree = parse_html(html) if self.parse_fast else None
            source = {"string": html} if tree is None else {"tree": tree}
            page = self.html(**source, base_url=self.base_url, url_fetcher=self.url_fetcher)
            if self.share_styles and hasattr(page, "style_sharing"):
                page.style_sharing = self.style_sharing
            return page.render(
                font_config=self.font_config,
                stylesheets=stylesheets,
                pdf_variant=PDF_VARIANT,
                cache=self.cache,
            )
        except Exception as exc:
            raise RenderError(f"{label}: {exc}") from exc

    def write(
        self,
        pages: Any,
        *,
        attachments: Sequence[PdfAttachment] = (),
        xmp_metadata: Sequence[bytes] = (),
    ) -> bytes:
        """The PDF/A-3b bytes of a laid-out document."""
        options: dict[str, Any] = {
            "pdf_variant": PDF_VARIANT,
            "full_fonts": not self.subset_fonts,
            "finisher": self._compress,
        }
        if attachments:
            options["attachments"] = [
                self.weasyprint.Attachment(
                    string=a.content,
                    name=a.name,
                    description=a.description,
                    relationship=a.relationship,
                    url_fetcher=self.url_fetcher,
                )
                for a in attachments
            ]
        if xmp_metadata:
            options["xmp_metadata"] = [io.BytesIO(fragment) for fragment in xmp_metadata]
        pdf: bytes = pages.write_pdf(**options)
        return pdf

    def _compress(self, document: Any, pdf: Any) -> None:
        """Compress the PDF's streams before WeasyPrint writes them: font files (and large
        images) once per renderer, as every document embeds the same ones, the rest at a
        faster zlib level than pydyf's 9 (a few percent larger, several times faster).
        Without the pydyf internals this relies on, pydyf compresses as usual."""
        pydyf = importlib.import_module("pydyf")
        to_bytes = getattr(pydyf, "_to_bytes", None)
        if to_bytes is None:  # pragma: no cover - another pydyf
            return
        for stream in pdf.objects:
            if not (isinstance(stream, pydyf.Stream) and stream.compress):
                continue
            raw = b"\n".join(
                i if isinstance(i, bytes) else bytes(to_bytes(i)) for i in stream.stream
            )
            shared = "Length1" in stream.extra or "Subtype" in stream.extra
            if shared and len(raw) > 16384 and not self.subset_fonts:
                key = hashlib.blake2b(raw, digest_size=16).digest()
                data = self.compressed.get(key)
                if data is None:
                    if len(self.compressed) >= 64:
                        self.compressed.clear()
                    data = self.compressed[key] = zlib.compress(raw, 6)
            else:
                data = zlib.compress(raw, 3)
            stream.stream = [data]
            stream.compress = False
            stream.extra["Filter"] = "/FlateDecode"


@functools.lru_cache(maxsize=8)
def _press(templates: Templates, subset_fonts: bool | None = None) -> _Press:
    if subset_fonts is None:
        subset_fonts = _harfbuzz_subsets()
    return _Press(templates, subset_fonts=subset_fonts)


class PdfRenderer:
    """Documents as PDF/A-3b files (``pdf``), one per document.

    *templates* defaults to juston's own. *subset_fonts*: ``None`` (the default) embeds
    only the glyphs each document uses when WeasyPrint subsets with HarfBuzz, which is
    fast, and the whole fonts otherwise (juston's fonts are small, and subsetting with
    fontTools costs about 100 ms per font and document); ``True`` or ``False`` decide it.
    """

    name = "pdf"
    media_type = "application/pdf"
    suffix = ".pdf"

    def __init__(
        self, templates: Templates | None = None, *, subset_fonts: bool | None = None
    ) -> None:
        self.templates = templates or default_templates()
        self.subset_fonts = subset_fonts

    def render(self, document: Invoice) -> bytes:
        return next(self.render_many([document]))

    def render_many(self, documents: Sequence[Invoice]) -> Iterator[bytes]:
        """One PDF per document, in order, sharing fonts, stylesheets and images."""
        press = _press(self.templates, self.subset_fonts)
        for document in documents:
            yield press.write(press.layout(document))


def pdf_bytes(
    document: Invoice,
    *,
    templates: Templates | None = None,
    attachments: Sequence[PdfAttachment] = (),
    xmp_metadata: Sequence[bytes] = (),
) -> bytes:
    """The PDF/A-3b of *document*, with *attachments* embedded as associated files and
    *xmp_metadata* (XML fragments, ``rdf:Description`` elements) added to its XMP packet:
    what a Factur-X/ZUGFeRD invoice needs.

        >>> from datetime import date
        >>> import juston
        >>> from juston.testing import sample_store
        >>> doc = juston.invoice_run(sample_store(accounts=1), date(2026, 2, 1)).documents[0]
        >>> pdf_bytes(doc)[:8]
        b'%PDF-1.7'
    """
    press = _press(templates or default_templates())
    return press.write(press.layout(document), attachments=attachments, xmp_metadata=xmp_metadata)


def html_pdf_bytes(html: str, *, label: str, templates: Templates | None = None) -> bytes:
    """The PDF/A-3b of a page of *templates* that is already HTML (a statement, a dunning
    notice, rendered with ``shared_stylesheet=True``); *label* names it in errors."""
    press = _press(templates or default_templates())
    pdf: bytes = press.write(press.layout_html(html, label))
    return pdf
