"""The HTML of a document parsed by libxml2 (lxml) into the element tree WeasyPrint's own
HTML5 parser would build, about fifteen times faster.

WeasyPrint parses HTML with tinyhtml5, in pure Python: about 5 ms per invoice, more than
laying out its letterhead. lxml parses the same page in a tenth of a millisecond, but
libxml2 builds a slightly different tree where HTML5's tree construction adds or moves
things: HTML5 inserts the ``<tbody>`` around table rows, drops whitespace before
``<head>``, moves whitespace after ``</body>`` into the body and ignores the newline that
opens a ``<pre>``. :func:`parse_html` makes those same changes, and answers ``None`` for
anything where the two parsers may disagree in other ways: a parse error, a comment,
markup outside a conservative set of elements (no forms, scripts, SVG or MathML), a
paragraph, heading, link or list item that HTML5 would close implicitly, stray text in
tables. The caller then lets WeasyPrint parse the page itself.

The templates' HTML has a fixed shape whatever the documents contain (every value is
escaped), and the tests check that each kind of page parses to exactly the tree
tinyhtml5 builds.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

__all__ = ["parse_html"]

#: Elements whose parsing the two parsers agree on (given the checks below).
# fmt: off
_ELEMENTS = frozenset((
    "html", "head", "body", "meta", "title", "link", "style", "base", "div", "span", "p",
    "b", "strong", "i", "em", "small", "u", "s", "sub", "sup", "code", "abbr", "mark",
    "time", "br", "hr", "wbr", "img", "h1", "h2", "h3", "h4", "h5", "h6", "table",
    "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td", "ul", "ol",
    "li", "dl", "dt", "dd", "header", "footer", "main", "section", "article", "aside",
    "nav", "address", "blockquote", "figure", "figcaption", "a", "pre",
))
_VOID = frozenset(("meta", "link", "base", "br", "hr", "wbr", "img", "col"))
_HEAD = frozenset(("meta", "title", "link", "style", "base"))
#: Elements whose start tag closes an open ``<p>`` in HTML5.
_CLOSES_P = frozenset((
    "address", "article", "aside", "blockquote", "div", "dl", "figcaption", "figure",
    "footer", "header", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "main", "nav", "ol", "p",
    "pre", "section", "table", "ul", "li", "dd", "dt",
))
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# fmt: on
_TABLE_CHILDREN = {
    "table": frozenset(("caption", "colgroup", "thead", "tbody", "tfoot", "tr")),
    "thead": frozenset({"tr"}),
    "tbody": frozenset({"tr"}),
    "tfoot": frozenset({"tr"}),
    "tr": frozenset({"td", "th"}),
    "colgroup": frozenset({"col"}),
}
#: Where table parts may stand (HTML5 drops them elsewhere, libxml2 keeps them).
_TABLE_PARENTS = {
    "caption": frozenset({"table"}),
    "colgroup": frozenset({"table"}),
    "col": frozenset({"colgroup"}),
    "thead": frozenset({"table"}),
    "tbody": frozenset({"table"}),
    "tfoot": frozenset({"table"}),
    "tr": frozenset({"table", "thead", "tbody", "tfoot"}),
    "td": frozenset({"tr"}),
    "th": frozenset({"tr"}),
}
#: Character references as HTML5 and libxml2 both read them (with the semicolon), and
#: markup either parser treats specially.
_AMPERSAND = re.compile(r"&(?!#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
_SELF_CLOSED = (
    r"<(?!(?:area|base|br|col|embed|hr|img|input|link|meta|source|track|wbr)\b)[A-Za-z][^<>]*/>"
)
_SPECIAL = re.compile(r"<!--|<!\[|<\?|\r|\x00|" + _SELF_CLOSED)
_START_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9]*)[\s/>]")
_END_TAG = re.compile(r"</([A-Za-z][A-Za-z0-9]*)\s*>")
_DOCTYPE = re.compile(r"\A\s*<!DOCTYPE html>", re.I)
_BODY_END = re.compile(r"</body\s*>(\s*)(?:</html\s*>(\s*))?\Z", re.I)


def parse_html(source: str) -> ET.Element | None:
    """The ``<html>`` element HTML5 parsing (as WeasyPrint does it) builds from *source*,
    or ``None`` where this parser cannot promise the same tree."""
    if _SPECIAL.search(source) or _AMPERSAND.search(source):
        return None
    doctype = _DOCTYPE.match(source)
    end = _BODY_END.search(source)
    if doctype is None or end is None or not _all_closed(source):
        return None
    try:
        lxml_html = _lxml_html()
        parser = lxml_html.HTMLParser(remove_comments=False, remove_pis=False)
        root = lxml_html.document_fromstring(source, parser=parser)
    except Exception:
        return None
    if len(parser.error_log) or not _conforms(root):
        return None
    tree = _copy(root)
    tree.text = None  # HTML5 drops whitespace before <head>
    body = tree[1]
    body.tail = None
    trailing = "".join(part or "" for part in end.groups())
    if trailing:  # whitespace after </body> and </html> ends up at the end of the body
        if len(body):
            body[-1].tail = (body[-1].tail or "") + trailing
        else:
            body.text = (body.text or "") + trailing
    return tree


def _all_closed(source: str) -> bool:
    """Whether every element but the void ones has its end tag: where one is left out, the
    two parsers close it in different places."""
    starts = Counter(tag.lower() for tag in _START_TAG.findall(source))
    ends = Counter(tag.lower() for tag in _END_TAG.findall(source))
    for tag in (*_VOID, "html"):  # </html> may be left out: nothing follows it
        starts.pop(tag, None)
        ends.pop(tag, None)
    return starts == ends


def _lxml_html() -> Any:
    import lxml.html  # a dependency of juston; imported when the first PDF is parsed

    return lxml.html


def _conforms(root: Any) -> bool:
    """Whether libxml2's tree is one HTML5 builds the same (up to the fix-ups)."""
    if root.tag != "html" or [child.tag for child in root] != ["head", "body"]:
        return False
    if (root.text or "").strip() or (root[0].tail or "").strip():
        return False
    head = root[0]
    if (head.text or "").strip() or any(
        child.tag not in _HEAD or (child.tail or "").strip() for child in head
    ):
        return False
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or tag not in _ELEMENTS:
            return False
        if any(":" in name for name in element.attrib):
            return False
        allowed = _TABLE_CHILDREN.get(tag)
        if allowed is not None and (
            (element.text or "").strip()
            or any(child.tag not in allowed or (child.tail or "").strip() for child in element)
        ):
            return False
        parent = element.getparent()
        parents = _TABLE_PARENTS.get(tag)
        if parents is not None and (parent is None or parent.tag not in parents):
            return False
        if parent is not None and (
            (tag in _CLOSES_P and _inside(element, {"p"}))
            or (tag in _HEADINGS and _inside(element, _HEADINGS))
            or (tag == "a" and _inside(element, {"a"}))
            or (tag in {"li", "dt", "dd"} and parent.tag in {"li", "dt", "dd"})
            or (tag == "table" and parent.tag in {"table", "tbody", "thead", "tfoot", "tr"})
        ):
            return False
    return True


def _inside(element: Any, tags: set[str] | frozenset[str]) -> bool:
    return any(ancestor.tag in tags for ancestor in element.iterancestors())


def _copy(element: Any) -> ET.Element:
    """*element* and its descendants as :mod:`xml.etree.ElementTree` elements, rows of a
    table outside a row group inside a ``<tbody>`` as HTML5 puts them, and a ``<pre>``'s
    opening newline dropped."""
    copy = ET.Element(element.tag, dict(element.attrib))
    copy.text = element.text
    if element.tag == "pre" and copy.text and copy.text.startswith("\n"):
        copy.text = copy.text[1:] or None
    body: ET.Element | None = None
    for child in element:
        child_copy = _copy(child)
        child_copy.tail = child.tail
        if element.tag == "table" and child.tag == "tr":
            if body is None:
                body = ET.SubElement(copy, "tbody")
            body.append(child_copy)
        else:
            body = None
            copy.append(child_copy)
    return copy
