"""Templates, formatting and the HTML renderer: sandbox, escaping, fallback, user templates,
locale formatting, and what the default documents show."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from moneyed import Money

import juston
from juston.errors import RenderError, TemplateError
from juston.model.documents import DocumentReference, Invoice
from juston.model.parties import Address
from juston.model.status import DocumentKind
from juston.render.base import Renderer
from juston.render.formatting import (
    format_date,
    format_money,
    format_percent,
    format_period,
    format_quantity,
    format_unit,
    format_unit_price,
)
from juston.render.html import HtmlRenderer, document_context, notebook_html, render_html
from juston.render.templates import CONTEXT_KEYS, Templates
from juston.testing import sample_store

D = Decimal
NBSP = "\xa0"


def text(page: str) -> str:
    """The page with entities resolved and no-break spaces as spaces, for content checks."""
    return html.unescape(page).replace(NBSP, " ").replace("\u2009", " ").replace("\u202f", " ")


@pytest.fixture(scope="module")
def billed() -> tuple[juston.MemoryStore, list[Invoice]]:
    store = sample_store(accounts=12, realistic=True)
    documents = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
    return store, documents


@pytest.fixture(scope="module")
def documents(billed: tuple[juston.MemoryStore, list[Invoice]]) -> list[Invoice]:
    return billed[1]


def pick(documents: list[Invoice], predicate: Callable[[Invoice], object]) -> Invoice:
    return next(d for d in documents if predicate(d))


@pytest.fixture(scope="module")
def german(documents: list[Invoice]) -> Invoice:
    """A domestic German invoice with a tax delta (first sample account)."""
    return pick(documents, lambda d: d.buyer.language == "de" and d.tax_delta.amount)


@pytest.fixture(scope="module")
def reverse_charge(documents: list[Invoice]) -> Invoice:
    return pick(
        documents,
        lambda d: d.buyer.language == "nl" and any(s.category == "AE" for s in d.tax_breakdown),
    )


@pytest.fixture(scope="module")
def cancellation(billed: tuple[juston.MemoryStore, list[Invoice]], german: Invoice) -> Invoice:
    store, _ = billed
    return juston.cancel(store, german, cancellation_date=date(2026, 2, 5))


def english(document: Invoice) -> Invoice:
    return attrs.evolve(document, buyer=attrs.evolve(document.buyer, language="en"))


# --- formatting ---------------------------------------------------------------------------


def test_money_is_formatted_per_language() -> None:
    amount = Money("1234.50", "EUR")
    assert format_money(amount, locale="de") == f"1.234,50{NBSP}€"
    assert format_money(amount, locale="en") == "€1,234.50"
    assert format_money(Money("-49.00", "CHF"), locale="de_CH") == "CHF-49.00"


def test_money_that_is_not_rounded_is_refused_not_rounded() -> None:
    with pytest.raises(RenderError, match="more decimals than EUR"):
        format_money(Money("2.345", "EUR"), locale="en")
    assert format_money(Money("2.3400", "EUR"), locale="en") == "€2.34"  # same value


@pytest.mark.parametrize(
    ("price", "en", "de"),
    [
        ("0.12345", "€0.12345", f"0,12345{NBSP}€"),
        ("84.240", "€84.24", f"84,24{NBSP}€"),
        ("2.5", "€2.50", f"2,50{NBSP}€"),
        ("1234.56789", "€1,234.56789", f"1.234,56789{NBSP}€"),
    ],
)
def test_unit_prices_keep_their_decimals(price: str, en: str, de: str) -> None:
    assert format_unit_price(Money(price, "EUR"), locale="en") == en
    assert format_unit_price(Money(price, "EUR"), locale="de") == de


def test_quantities_percentages_dates_periods_and_units() -> None:
    assert format_quantity(D("1234.500000"), locale="de") == "1.234,5"
    assert format_quantity(D("1234.5"), locale="en") == "1,234.5"
    assert format_percent(D(19), locale="de") == f"19{NBSP}%"
    assert format_percent(D("7.7"), locale="en") == "7.7%"
    assert format_date(date(2026, 2, 1), locale="de") == "01.02.2026"
    assert format_date(date(2026, 2, 1), locale="en") == "Feb 1, 2026"
    assert format_date(date(2026, 2, 1), locale="xx") == "Feb 1, 2026"  # unknown: English
    january = juston.Period(date(2026, 1, 1), date(2026, 2, 1))
    assert text(format_period(january, locale="de")) == "1.–31. Jan. 2026"
    assert text(format_period(january, locale="en")) == "Jan 1 – 31, 2026"
    assert format_unit("HUR", locale="de") == "Std."
    assert format_unit("MON", locale="en", quantity=D(3)) == "months"
    assert format_unit("ZZZ", locale="en") == "ZZZ"


# --- the sandbox ----------------------------------------------------------------------------

ATTACKS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__ }}",
    "{{ document.__class__.__init__.__globals__ }}",
    "{{ document.buyer.__dict__ }}",
    "{{ document._repr_html_() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ document | attr('__class__') }}",
    "{{ '{0.__class__}'.format(document) }}",
    "{{ document.lines.__len__() }}",
    "{{ seller.name.__class__.__base__.__subclasses__() }}",
    "{{ {'_secret': 1}._secret }}",
    "{{ [1].append(2) }}",
    "{{ {}.update(a=1) }}",
]


@pytest.mark.parametrize("source", ATTACKS)
def test_template_injection_is_refused_by_the_sandbox(source: str, german: Invoice) -> None:
    templates = Templates(strings={"de/invoice.html": source})
    with pytest.raises(TemplateError, match="forbidden by the template sandbox"):
        render_html(german, templates=templates)


@pytest.mark.parametrize(
    "source", ["{{ cycler.__init__.__globals__.os }}", "{{ lipsum.__globals__ }}", "{{ config }}"]
)
def test_globals_that_lead_to_python_are_absent(source: str, german: Invoice) -> None:
    templates = Templates(strings={"de/invoice.html": source})
    with pytest.raises(TemplateError, match=r"undefined|sandbox"):
        render_html(german, templates=templates)


def test_template_errors_name_template_and_line(german: Invoice) -> None:
    templates = Templates(strings={"de/invoice.html": "line one\n{{ document.nope }}"})
    with pytest.raises(TemplateError, match=r"de/invoice\.html, line 2: .*nope"):
        render_html(german, templates=templates)
    broken = Templates(strings={"de/invoice.html": "{% if %}"})
    with pytest.raises(TemplateError, match=r"de/invoice\.html, line 1: syntax error"):
        render_html(german, templates=broken)


def test_names_with_markup_are_escaped(german: Invoice) -> None:
    evil = "<script>alert('x')</script> & Co"
    buyer = attrs.evolve(german.buyer, name=evil)
    line = german.lines[0].replace(description="<img src=x onerror=alert(1)>")
    document = attrs.evolve(german, buyer=buyer, lines=(line, *german.lines[1:]))
    page = render_html(document)
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    fragment = notebook_html(document)
    assert "<script>" not in fragment and "&lt;script&gt;" in fragment


# --- finding templates ----------------------------------------------------------------------


def test_fallback_order_is_language_first_then_generic() -> None:
    assert Templates().candidates("credit", "de-AT") == (
        "de_AT/credit.html",
        "de_AT/document.html",
        "de/credit.html",
        "de/document.html",
        "en/credit.html",
        "en/document.html",
    )
    assert Templates().candidates("dunning-2", "en") == (
        "en/dunning-2.html",
        "en/dunning.html",
        "en/document.html",
    )


def test_fallback_in_practice() -> None:
    templates = Templates(
        strings={
            "en/quote.html": "EN quote {{ language }}",
            "de/reminder.html": "DE reminder family {{ kind }}",
            "nl/document.html": "NL generic {{ kind }}",
        }
    )
    assert templates.render("quote", "fr") == "EN quote en"  # language falls back to English
    assert templates.render("reminder-2", "de") == "DE reminder family reminder-2"
    assert templates.render("quote", "nl") == "NL generic quote"  # the generic, in Dutch
    with pytest.raises(TemplateError, match="is not a template kind"):
        templates.render("../secret", "en")


def test_a_language_without_templates_gets_english_with_english_formatting(
    documents: list[Invoice],
) -> None:
    french = pick(documents, lambda d: d.buyer.language == "fr")
    page = text(render_html(french))
    assert '<html lang="en">' in page
    assert "Invoice INV-" in page
    assert format_money(french.total, locale="en") in page


def test_strings_override_the_package_and_can_extend_it(german: Invoice) -> None:
    templates = Templates(
        strings={
            "de/invoice.html": '{% extends "default/de/invoice.html" %}'
            "{% block intro %}<p>Danke, {{ buyer.name }}!</p>{% endblock %}"
        }
    )
    page = text(render_html(german, templates=templates))
    assert f"Danke, {german.buyer.name}!" in page
    assert "Rechnung INV-" in page
    assert "vielen Dank für Ihren Auftrag" not in page


def test_a_user_directory_overrides_the_package(tmp_path: Path, german: Invoice) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "texts.html").write_text(
        '{% from "default/de/texts.html" import t as base %}'
        '{% set t = dict(base, titles=dict(base.titles, invoice="Honorarnote")) %}',
        encoding="utf-8",
    )
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "invoice.html").write_text("<p>Mine: {{ document.number }}</p>")
    templates = Templates(tmp_path)
    assert "Honorarnote INV-" in render_html(german, templates=templates)
    assert render_html(english(german), templates=templates) == f"<p>Mine: {german.number}</p>"
    with pytest.raises(TemplateError, match="does not exist"):
        Templates(tmp_path / "missing")


# --- the default documents ------------------------------------------------------------------


def test_the_default_invoice_shows_everything_an_invoice_needs(german: Invoice) -> None:
    page = text(render_html(german))
    seller, bank = german.seller, german.seller.bank_account
    assert seller.contact is not None and bank is not None
    for expected in [
        seller.name,
        seller.address.street,
        f"{seller.address.postcode} {seller.address.city}",
        f"USt-IdNr. {seller.vat_id}",
        f"Steuernr. {seller.tax_number}",
        bank.bank_name,
        "IBAN DE02 1203 0000 0000 2020 51",
        f"BIC {bank.bic}",
        seller.contact.name,
        seller.contact.email,
        seller.contact.phone,
        german.buyer.name,
        german.buyer.billing_address.street,
        f"{german.buyer.billing_address.postcode} {german.buyer.billing_address.city}",
        f"Rechnungsnummer</td><td>{german.number}",
        "Rechnungsdatum</td><td>01.02.2026",
        f"Fällig am</td><td>{format_date(german.due_date, locale='de')}",
        "Leistungszeitraum</td><td>1. Jan. – 28. Feb. 2026",
        f"Kundennummer</td><td>{german.buyer.id}",
        "Platform subscription",
        "1.–31. Jan. 2026",
        ">Monat<",
        "49,00 €",
        "USt. 19 % auf 153,00 €",
        "29,07 €",
        'Nettobetrag</td><td class="num">153,00 €',
        'Gesamtbetrag</td><td class="num">182,07 €',
        "um -0,01 € ab (Rundung)",  # the tax delta
        "Bitte überweisen Sie 182,07 € bis zum",
        f'Verwendungszweck</td><td class="strong">{german.number}',
    ]:
        assert expected in page, expected
    assert "Rechnungsanschrift" not in page  # the billing address is the recipient's


def test_address_blocks_are_lines_of_text_without_br(german: Invoice) -> None:
    # Multi-line blocks (footer columns, recipient, billing address) are lines joined with
    # newlines and printed with white-space: pre-line: WeasyPrint lays out each <br> as two
    # extra boxes, which the PDF renderer pays for on every page.
    legal = Address(street="Postfach 12 34", postcode="20001", city="Hamburg", country="DE")
    document = attrs.evolve(german, buyer=attrs.evolve(german.buyer, legal_address=legal))
    page = text(render_html(document))
    seller, billing = german.seller.address, german.buyer.billing_address
    assert f"{seller.street}\n{seller.postcode} {seller.city}\n" in page  # footer
    assert f"<b>{german.buyer.name}</b>\nPostfach 12 34\n20001 Hamburg</div>" in page
    assert f"{german.buyer.name}\n{billing.street}\n{billing.postcode} {billing.city}<" in page
    assert "<br" not in page


def test_english_invoice_formats_in_english(reverse_charge: Invoice) -> None:
    page = text(render_html(english(reverse_charge)))
    assert "Invoice no.</td><td>INV-" in page
    assert f'Total</td><td class="num">{format_money(reverse_charge.total, locale="en")}' in page
    assert "Invoice date</td><td>Feb 1, 2026" in page
    assert "VAT 0% (reverse charge) on €" in page
    assert "differs from the sum" not in page  # no tax delta


def test_a_reverse_charge_invoice_shows_its_notice(reverse_charge: Invoice) -> None:
    page = text(render_html(reverse_charge))  # Dutch buyer: English templates
    assert "Reverse charge: VAT to be accounted for by the recipient" in page
    assert f"Your VAT ID</td><td>{reverse_charge.buyer.vat_id}" in page
    german = attrs.evolve(reverse_charge, buyer=attrs.evolve(reverse_charge.buyer, language="de"))
    assert "Steuerschuldnerschaft des Leistungsempfängers" in text(render_html(german))


def test_a_recipient_other_than_the_billing_address_prints_both(german: Invoice) -> None:
    legal = Address(street="Postfach 12 34", postcode="20001", city="Hamburg", country="DE")
    document = attrs.evolve(german, buyer=attrs.evolve(german.buyer, legal_address=legal))
    page = text(render_html(document))
    assert "Postfach 12 34" in page
    assert "Rechnungsanschrift" in page and german.buyer.billing_address.street in page
    assert document_context(document)["billing_address"] == german.buyer.billing_address


def test_a_cancellation_says_what_it_cancels(cancellation: Invoice, german: Invoice) -> None:
    page = text(render_html(cancellation))
    assert "Stornorechnung CR-" in page
    assert f"Zu Rechnung</td><td>{german.number}" in page
    assert f"Storniert wird die Rechnung {german.number} vom 01.02.2026." in page
    assert "-182,07 €" in page


def test_a_credit_says_what_it_credits(cancellation: Invoice, german: Invoice) -> None:
    credit = attrs.evolve(
        cancellation,
        kind=DocumentKind.CREDIT,
        preceding=DocumentReference(german.number or "", date(2026, 2, 1)),
    )
    page = text(render_html(english(credit)))
    assert "Credit note CR-" in page
    assert f"This credit note refers to invoice {german.number} of Feb 1, 2026." in page
    assert f"Refers to invoice</td><td>{german.number}" in page


def test_unit_prices_keep_their_decimals_on_the_document(german: Invoice) -> None:
    line = german.lines[0].replace(unit_price_amount=D("0.12345"))
    page = text(render_html(attrs.evolve(german, lines=(line,))))
    assert "0,12345 €" in page


def test_a_draft_is_marked(german: Invoice) -> None:
    draft = attrs.evolve(german, number=None, status=juston.DocumentStatus.DRAFT)
    page = text(render_html(draft))
    assert (
        'class="draft">Entwurf' in page
        and 'Verwendungszweck</td><td class="strong">Entwurf' in page
    )


# --- dunning notices and statements ----------------------------------------------------------


def _eur(amount: str) -> Money:
    return Money(amount, "EUR")


@pytest.fixture(scope="module")
def dunning_context(documents: list[Invoice]) -> dict[str, object]:
    company = documents[0].seller
    account = documents[0].buyer
    return {
        "company": company,
        "account": account,
        "level": 1,
        "date": date(2026, 3, 20),
        "number": "DUN-2026-0007",
        "documents": [
            {
                "number": "INV-2026-00001",
                "invoice_date": date(2026, 2, 1),
                "due_date": date(2026, 2, 28),
                "days_overdue": 20,
                "total": _eur("182.07"),
                "open": _eur("182.07"),
            },
            {
                "number": "INV-2026-00031",
                "invoice_date": date(2026, 3, 1),
                "due_date": date(2026, 3, 15),
                "days_overdue": 5,
                "total": _eur("1234.50"),
                "open": _eur("1000.00"),
            },
        ],
        "outstanding": _eur("1182.07"),
        "fee": _eur("5.00"),
        "total": _eur("1187.07"),
        "pay_by": date(2026, 3, 30),
    }


@pytest.mark.parametrize(
    ("level", "language", "title", "wording"),
    [
        (1, "en", "Payment reminder", "may simply have been overlooked"),
        (2, "en", "First notice", "despite our reminder"),
        (3, "en", "Final demand", "hand the matter over for collection"),
        (1, "de", "Zahlungserinnerung", "sicher haben Sie es nur übersehen"),
        (2, "de", "1. Mahnung", "trotz unserer Zahlungserinnerung"),
        (3, "de", "Letzte Mahnung", "Inkassounternehmen"),
    ],
)
def test_dunning_notices_per_level(
    dunning_context: dict[str, object], level: int, language: str, title: str, wording: str
) -> None:
    context = {**dunning_context, "level": level}
    page = text(Templates().render(f"dunning-{level}", language, **context))
    assert f"<h1>{title}</h1>" in page and wording in page
    assert "INV-2026-00001" in page and "INV-2026-00031" in page
    if language == "de":
        assert "1.234,50 €" in page and "Mahngebühr" in page and "1.187,07 €" in page
        assert "bis zum 30.03.2026" in page
    else:
        assert "€1,234.50" in page and "Dunning fee" in page and "€1,187.07" in page
    assert ("disregard" in page or "gegenstandslos" in page) == (level < 3)


def test_dunning_optional_keys_may_be_left_out(dunning_context: dict[str, object]) -> None:
    context = {k: v for k, v in dunning_context.items() if k not in ("fee", "number")}
    page = text(Templates().render("dunning-1", "en", **context))
    assert "Dunning fee" not in page and "Reference" not in page
    assert set(CONTEXT_KEYS["dunning"]) >= set(dunning_context)


def test_account_statement(documents: list[Invoice]) -> None:
    context = {
        "company": documents[0].seller,
        "account": documents[0].buyer,
        "date": date(2026, 4, 1),
        "start": date(2026, 3, 1),
        "end": date(2026, 3, 31),
        "opening_balance": _eur("182.07"),
        "entries": [
            {
                "date": date(2026, 3, 1),
                "reference": "INV-2026-00031",
                "description": "Invoice",
                "debit": _eur("1234.50"),
                "credit": None,
                "balance": _eur("1416.57"),
            },
            {
                "date": date(2026, 3, 10),
                "reference": "PAY-88",
                "description": "Payment, thank you",
                "debit": None,
                "credit": _eur("182.07"),
                "balance": _eur("1234.50"),
            },
        ],
        "closing_balance": _eur("1234.50"),
        "open_items": [
            {
                "number": "INV-2026-00031",
                "invoice_date": date(2026, 3, 1),
                "due_date": date(2026, 3, 15),
                "open": _eur("1234.50"),
            }
        ],
    }
    page = text(Templates().render("statement", "de", **context))
    for expected in ["Kontoauszug", "Anfangssaldo", "182,07 €", "PAY-88", "Endsaldo", "1.234,50 €"]:
        assert expected in page, expected
    assert "Bitte begleichen Sie den Endsaldo von 1.234,50 €" in page
    settled = {**context, "closing_balance": _eur("0.00"), "open_items": None}
    assert "Your account is settled" in text(Templates().render("statement", "en", **settled))


# --- renderers and notebooks ----------------------------------------------------------------


def test_html_renderer(documents: list[Invoice]) -> None:
    renderer = HtmlRenderer()
    assert isinstance(renderer, Renderer)
    assert (renderer.name, renderer.media_type, renderer.suffix) == ("html", "text/html", ".html")
    pages = list(renderer.render_many(documents[:3]))
    assert len(pages) == 3
    for document, page in zip(documents[:3], pages, strict=True):
        assert page.startswith(b"<!DOCTYPE html>")
        assert f"{document.number}</td>".encode() in page
        assert b"<style>" in page  # standalone: the stylesheet is inline


def test_notebook_html_via_repr_html(german: Invoice) -> None:
    fragment = german._repr_html_()
    assert fragment.startswith('<div class="juston-nb">') and fragment.endswith("</div>")
    assert "<html" not in fragment and "<body" not in fragment
    assert ".juston-nb table" in fragment  # every rule is scoped to the fragment
    page = text(fragment)
    assert f"Rechnung {german.number}" in page
    assert "182,07 €" in page and "Platform subscription" in page
