"""Griffe extension for the juston API reference: render reST-flavoured docstrings as Markdown.

juston's docstrings are plain text with a few reStructuredText habits. mkdocstrings renders
docstring text as Markdown, so before rendering this extension rewrites, per docstring:

* doctest blocks (``>>>`` lines with their continuation and output lines) into fenced
  ``pycon`` code blocks, wherever they are indented, with ``# doctest:`` flags removed;
* Sphinx roles such as :class:`~juston.model.Term` into inline code (``Term``);
* a paragraph ending in ``::`` (a reST literal block follows) into one ending in ``:``.

It also hides special methods of classes (``__str__``, ``__attrs_post_init__`` …) from
the reference. It changes only what is rendered, never the source. Loaded from ``mkdocs.yml``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")
_FLAGS = re.compile(r"\s*#\s*doctest:.*$")


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    target = target.strip()
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _fence_doctests(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if not stripped.startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = len(line) - len(stripped)
        block: list[str] = []
        while i < len(lines) and lines[i].strip():
            block.append(_FLAGS.sub("", lines[i][indent:]).rstrip())
            i += 1
        if out and out[-1].strip():
            out.append("")
        out.extend(["```pycon", *block, "```"])
        if i < len(lines):
            out.append("")
    return out


def rewrite(text: str) -> str:
    """The Markdown form of one docstring."""
    text = _ROLE.sub(_role, text)
    lines = _fence_doctests(text.splitlines())
    fixed = []
    for line in lines:
        if line.rstrip().endswith("::") and not line.lstrip().startswith(">>>"):
            body = line.rstrip()[:-2].rstrip()
            line = f"{body}:" if body else ""
        fixed.append(line)
    return "\n".join(fixed)


class RstDocstrings(griffe.Extension):
    """Rewrite every docstring of the loaded package once it is fully loaded."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()  # each object is rewritten once, however often we are called

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._visit(pkg)

    # griffe 1.x names this hook ``on_package_loaded``.
    on_package_loaded = on_package

    def _visit(self, obj: griffe.Object) -> None:
        if obj.path in self._seen:
            return
        self._seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
        for name, member in obj.members.items():
            if member.is_alias:
                continue
            if obj.is_class and name.startswith("__") and name.endswith("__"):
                member.public = False
            self._visit(member)  # type: ignore[arg-type]
