"""Document templates: Jinja2 in a sandbox, per document kind and language.

A template is found by its name, ``<language>/<kind>.html``, in three places, first match
wins: the *strings* given to :class:`Templates` (name → source), the user's *directory*, and
the templates that ship with juston (``juston/render/templates/``). The package's are also
reachable as ``default/<name>``, so a user template can extend the one it replaces::

    {% extends "default/de/invoice.html" %}
    {% block intro %}Vielen Dank für Ihren Auftrag!{% endblock %}

**Fallback.** For kind ``credit`` in language ``de-AT`` the names tried are
``de_AT/credit.html``, ``de_AT/document.html``, ``de/credit.html``, ``de/document.html``,
``en/credit.html``, ``en/document.html``: the language first (region, language, then
English), within it the kind-specific template before the generic ``document.html``. A kind
with a level (``dunning-2``) falls back to its family (``dunning``) first.

**Kinds** shipped: ``invoice``, ``credit``, ``cancellation`` (context: ``document``, an
:class:`~juston.Invoice`, see :func:`juston.render.html.document_context`), ``dunning-1`` …
``dunning-3`` and ``statement`` (plain contexts, keys in :data:`CONTEXT_KEYS`). Languages
shipped: ``en`` and ``de``.

**The sandbox.** Templates run in Jinja2's ``ImmutableSandboxedEnvironment`` with
autoescaping and strict undefined names: a template cannot reach Python internals (no
``_``-names, no ``__class__``/``__globals__`` walks, no mutating methods), every value is
HTML-escaped, and a misspelt name is an error instead of an empty string. All of these, and
syntax errors, raise :class:`~juston.errors.TemplateError` naming the template and line.

    >>> templates = Templates(strings={"en/note.html": "<p>{{ name }}: {{ amount | money }}</p>"})
    >>> from moneyed import Money
    >>> templates.render("note", "en", name="<b>ACME</b>", amount=Money("1234.5", "EUR"))
    '<p>&lt;b&gt;ACME&lt;/b&gt;: €1,234.50</p>'
    >>> templates.render("note", "en", name="x", amount="".join)
    Traceback (most recent call last):
    ...
    juston.errors.TemplateError: en/note.html, line 1: money needs a Money, not builtin_function_or_method
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from babel import Locale
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from moneyed import Money

from ..errors import RenderError, TemplateError
from . import formatting as fmt

__all__ = [
    "CONTEXT_KEYS",
    "DEFAULT_LANGUAGE",
    "KINDS",
    "PACKAGE_TEMPLATES",
    "Templates",
    "default_templates",
]

#: Where juston's own templates live.
PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
#: The language every lookup ends with.
DEFAULT_LANGUAGE = "en"
#: The kinds the package has templates for.
KINDS = ("invoice", "credit", "cancellation", "dunning-1", "dunning-2", "dunning-3", "statement")
#: The generic template every kind falls back to.
GENERIC = "document"

#: The context keys of the plain-context kinds; keys marked optional default to ``None``.
#: Amounts are ``Money`` (already rounded), dates ``datetime.date``; items of lists may be
#: dicts or objects with the attributes named.
CONTEXT_KEYS: Mapping[str, Mapping[str, str]] = {
    "dunning": {
        "company": "the seller (juston.Company); its bank_account is printed for transfers",
        "account": "the customer (juston.Account); its legal or billing address is the recipient",
        "level": "the dunning level, 1 for the first (the template is picked by the kind, "
        "dunning-<level>, at most dunning-3)",
        "date": "the date of the notice",
        "number": "optional: the notice's own reference (DUN-2026-00001)",
        "draft": "optional: true for a draft (not numbered yet), marked as such",
        "documents": "the overdue invoices: number, invoice_date, due_date (of the oldest "
        "unpaid part), days_overdue, open (Money, all still to pay); optionally overdue "
        "(Money, what of it is due now; default: open), total (Money, the invoice's total), "
        "level (reached with this notice), interest (Money, added by this notice), flat_fee "
        "(Money, the € 40 of § 288 (5) BGB added by this notice)",
        "outstanding": "sum of the documents' overdue (else open) amounts (Money)",
        "fee": "optional: the dunning fee (Money; never taxed)",
        "interest": "optional: default interest added by this notice (Money)",
        "flat_fees": "optional: flat fees added by this notice (Money)",
        "credits": "optional: credits on the account taken off the total (Money, negative)",
        "total": "what to pay now: outstanding + fee + interest + flat fees + credits (Money)",
        "pay_by": "the date by which to pay (the notice's due date)",
        "direct_debit": "optional: true when the account pays by SEPA direct debit (the "
        "notice then says the amount is collected, not where to transfer it)",
    },
    "statement": {
        "company": "the seller (juston.Company)",
        "account": "the customer (juston.Account)",
        "date": "the date of the statement",
        "start": "first day the statement covers",
        "end": "last day the statement covers",
        "opening_balance": "balance before start (Money; positive: the customer owes)",
        "entries": "the bookings in order: date, reference, description, debit (Money or "
        "None), credit (Money or None), balance (Money, after the entry); optionally kind "
        "(a juston.receivables.statements.MovementKind value, worded by the template) and "
        "other (the number of the other document it refers to); neither debit nor credit: "
        "an internal move",
        "total_debit": "optional: the sum of the entries' debits (Money)",
        "total_credit": "optional: the sum of the entries' credits (Money)",
        "closing_balance": "balance after end (Money)",
        "open_items": "optional: open documents on end: number, invoice_date, due_date, open "
        "(Money), optionally days_overdue",
        "on_account": "optional: money on the account, not on a document (Money; with the "
        "open items it makes the closing balance)",
        "open_total": "optional: the sum of the open items (Money)",
        "ageing": "optional: the open items by days overdue: bucket (current, 1-30, 31-60, "
        "61-90, over-90), amount (Money)",
    },
}

_DEFAULTS: Mapping[str, Mapping[str, object]] = {
    family: {key: None for key, text in keys.items() if text.startswith("optional")}
    for family, keys in CONTEXT_KEYS.items()
}
_KIND = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_LANGUAGE = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{2,8}))?\Z")


def _kind_chain(kind: str) -> tuple[str, ...]:
    if not _KIND.match(kind):
        raise TemplateError(
            f"kind {kind!r} is not a template kind such as 'invoice' or 'dunning-2'"
        )
    chain = [kind]
    family = kind.rsplit("-", 1)[0] if "-" in kind else None
    if family and family not in chain:
        chain.append(family)
    if GENERIC not in chain:
        chain.append(GENERIC)
    return tuple(chain)


def language_chain(language: str) -> tuple[str, ...]:
    """The languages tried for *language*, most specific first, English last.

    >>> language_chain("de-at"), language_chain("en"), language_chain("../etc")
    (('de_AT', 'de', 'en'), ('en',), ('en',))
    """
    match = _LANGUAGE.match(language or "")
    if not match:
        return (DEFAULT_LANGUAGE,)
    base, region = match.group(1).lower(), match.group(2)
    chain = [f"{base}_{region.upper() if len(region) == 2 else region}"] if region else []
    chain.append(base)
    if DEFAULT_LANGUAGE not in chain:
        chain.append(DEFAULT_LANGUAGE)
    return tuple(chain)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, also refusing ``_``-names that are dictionary keys."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute.startswith("_"):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)


def _locale(context: Any) -> Locale:
    value = context.get("locale")
    return value if isinstance(value, Locale) else fmt.locale_for(str(value or "en"))


def _money_only(name: str, value: object) -> Money:
    if not isinstance(value, Money):
        raise RenderError(f"{name} needs a Money, not {type(value).__name__}")
    return value


def _filters() -> dict[str, Callable[..., Any]]:
    @jinja2.pass_context
    def money(context: Any, value: object) -> str:
        return fmt.format_money(_money_only("money", value), locale=_locale(context))

    @jinja2.pass_context
    def unit_price(context: Any, value: object) -> str:
        return fmt.format_unit_price(_money_only("unit_price", value), locale=_locale(context))

    @jinja2.pass_context
    def quantity(context: Any, value: Any) -> str:
        return fmt.format_quantity(value, locale=_locale(context))

    @jinja2.pass_context
    def percent(context: Any, value: Any) -> str:
        return fmt.format_percent(value, locale=_locale(context))

    @jinja2.pass_context
    def date(context: Any, value: Any, format: str = "medium") -> str:
        return fmt.format_date(value, locale=_locale(context), format=format)

    @jinja2.pass_context
    def period(context: Any, value: Any) -> str:
        return fmt.format_period(value, locale=_locale(context))

    @jinja2.pass_context
    def unit(context: Any, code: str, quantity: Any = None) -> str:
        return fmt.format_unit(code, locale=_locale(context), quantity=quantity)

    @jinja2.pass_context
    def country(context: Any, code: str) -> str:
        return fmt.format_country(code, locale=_locale(context))

    @jinja2.pass_context
    def address(context: Any, value: Any, home_country: str | None = None) -> tuple[str, ...]:
        return fmt.address_lines(value, locale=_locale(context), home_country=home_country)

    return {
        "money": money,
        "unit_price": unit_price,
        "quantity": quantity,
        "number": quantity,
        "percent": percent,
        "date": date,
        "period": period,
        "unit": unit,
        "country": country,
        "address": address,
        "iban": fmt.format_iban,
    }


def _template_line(tb: TracebackType | None) -> tuple[str | None, int | None]:
    """The template file and line a rendering error happened at (Jinja maps its frames)."""
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == "<template>" or filename.endswith((".html", ".css")):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


class Templates:
    """The templates documents are rendered with: user *strings* (name → source) before
    the user's *directory* before the package's own.

        >>> Templates().candidates("dunning-2", "de")[:3]
        ('de/dunning-2.html', 'de/dunning.html', 'de/document.html')
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        strings: Mapping[str, str] | None = None,
    ) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if strings:
            loaders.append(jinja2.DictLoader(dict(strings)))
        if directory is not None:
            if not Path(directory).is_dir():
                raise TemplateError(f"template directory {os.fspath(directory)!r} does not exist")
            loaders.append(jinja2.FileSystemLoader(os.fspath(directory)))
        package = jinja2.FileSystemLoader(os.fspath(PACKAGE_TEMPLATES))
        loaders += [package, jinja2.PrefixLoader({"default": package})]
        self.directory = None if directory is None else Path(directory)
        self.environment: jinja2.Environment = _Sandbox(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        for name in ("lipsum", "cycler", "joiner"):
            self.environment.globals.pop(name, None)
        self.environment.filters.update(_filters())

    def __repr__(self) -> str:
        return f"Templates(directory={self.directory!r})"

    def candidates(self, kind: str, language: str) -> tuple[str, ...]:
        """The template names tried for *kind* in *language*, in order."""
        kinds = _kind_chain(kind)
        return tuple(f"{lang}/{k}.html" for lang in language_chain(language) for k in kinds)

    def resolve(self, kind: str, language: str) -> tuple[jinja2.Template, Locale]:
        """The template used for *kind* in *language*, and the locale it formats with: the
        requested one when the template is in its language, else the template's own."""
        names = self.candidates(kind, language)
        try:
            template = self.environment.select_template(names)
        except jinja2.TemplatesNotFound:
            raise TemplateError(
                f"no template for kind {kind!r} in language {language!r}; tried " + ", ".join(names)
            ) from None
        except jinja2.TemplateError as exc:
            raise self._error(exc, names[0]) from exc
        found = (template.name or "").split("/", 1)[0]
        requested = language_chain(language)[0]
        same = requested.split("_")[0] == found.split("_")[0]
        return template, fmt.locale_for(requested if same else found)

    def render(self, kind: str, language: str, /, **context: object) -> str:
        """Render the template for *kind* in *language* with *context*.

        The context gains ``locale`` (the babel ``Locale`` the filters format with) and
        ``language`` (its tag); the optional keys of the plain-context kinds
        (:data:`CONTEXT_KEYS`) default to ``None``.
        """
        template, locale = self.resolve(kind, language)
        chain = _kind_chain(kind)
        values: dict[str, object] = dict(_DEFAULTS.get(chain[-2] if len(chain) > 1 else kind, {}))
        values.update(context)
        values.setdefault("kind", kind)
        values["locale"] = locale
        values["language"] = str(locale).replace("_", "-")
        return self._render(template, values)

    def texts(self, language: str) -> Mapping[str, Any]:
        """The texts (``t``) of ``<language>/texts.html``, with the same language fallback.

        >>> Templates().texts("de-CH")["titles"]["invoice"]
        'Rechnung'
        """
        names = [f"{lang}/texts.html" for lang in language_chain(language)]
        try:
            texts = getattr(self.environment.select_template(names).module, "t", None)
        except jinja2.TemplatesNotFound:
            raise TemplateError("no texts template; tried " + ", ".join(names)) from None
        except Exception as exc:
            raise self._error(exc, names[0]) from exc
        if not isinstance(texts, Mapping):
            raise TemplateError(f"{names[0]}: does not set the texts dictionary t")
        return texts

    def render_name(self, name: str, /, **context: object) -> str:
        """Render the template called *name* (``base/style.css`` …) as it is."""
        try:
            template = self.environment.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"no template {name!r}") from None
        except jinja2.TemplateError as exc:
            raise self._error(exc, name) from exc
        return self._render(template, {"locale": fmt.locale_for(DEFAULT_LANGUAGE), **context})

    def _render(self, template: jinja2.Template, context: dict[str, object]) -> str:
        try:
            return template.render(context)
        except TemplateError:
            raise
        except Exception as exc:
            raise self._error(exc, template.name) from exc

    def _error(self, exc: BaseException, name: str | None) -> TemplateError:
        if isinstance(exc, jinja2.TemplateSyntaxError):
            where = f"{exc.name or exc.filename or name}, line {exc.lineno}"
            return TemplateError(f"{where}: syntax error: {exc.message}")
        filename, line = _template_line(exc.__traceback__)
        where = name or "<string>"
        if filename and filename != "<template>":
            where = self._short(filename)
        if line is not None:
            where += f", line {line}"
        if isinstance(exc, SecurityError):
            return TemplateError(f"{where}: forbidden by the template sandbox: {exc}")
        if isinstance(exc, jinja2.UndefinedError):
            return TemplateError(f"{where}: {exc}")
        return TemplateError(f"{where}: {exc}")

    def _short(self, filename: str) -> str:
        path = Path(filename)
        for root in (self.directory, PACKAGE_TEMPLATES):
            if root is not None and path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return path.name


@functools.cache
def default_templates() -> Templates:
    """The package's own templates (one shared instance)."""
    return Templates()
