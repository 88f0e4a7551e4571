"""Parties: the own company (business entity) and customer accounts, with addresses."""

from __future__ import annotations

import functools
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from moneyed import Currency

from .._fields import check_instance, check_optional_instance, check_optional_text, check_text
from ..errors import ValidationError
from ..money import currency
from ..rounding import TaxRounding
from ..vatid import optional_vat_id
from .numbering import Numbering
from .terms import PaymentTerms, optional_payment_terms, payment_terms

__all__ = ["Account", "Address", "BankAccount", "Company", "Contact", "ElectronicAddress"]


def _check_country(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or len(value) != 2 or not value.isalpha() or not value.isupper():
        raise ValidationError(
            field.name, value, "is not an ISO 3166 alpha-2 country code like 'DE'"
        )


@attrs.frozen(kw_only=True)
class Address:
    """A postal address; *country* is an ISO 3166 alpha-2 code.

    >>> Address(street="Hauptstr. 1", postcode="10115", city="Berlin", country="DE").country
    'DE'
    """

    street: str = attrs.field(validator=check_text)
    postcode: str = attrs.field(validator=check_text)
    city: str = attrs.field(validator=check_text)
    country: str = attrs.field(validator=_check_country)
    line2: str | None = attrs.field(default=None, validator=check_optional_text)
    region: str | None = attrs.field(default=None, validator=check_optional_text)

    def lines(self) -> tuple[str, ...]:
        """The address as printed, line by line."""
        parts = [self.street, self.line2, f"{self.postcode} {self.city}", self.region, self.country]
        return tuple(p for p in parts if p)


@attrs.frozen(kw_only=True)
class BankAccount:
    """Bank details printed on documents for payment by transfer."""

    iban: str = attrs.field(validator=check_text)
    bic: str | None = None
    bank_name: str | None = None


@attrs.frozen
class ElectronicAddress:
    """Where e-invoices are delivered (EN 16931 BT-34/BT-49): an identifier and its EAS
    scheme (``0204`` Leitweg-ID, ``9930`` German VAT id, ``EM`` e-mail, ``0088`` GLN …).

        >>> ElectronicAddress("0204", "991-12345-67")
        ElectronicAddress(scheme='0204', value='991-12345-67')
    """

    scheme: str = attrs.field(validator=check_text)
    value: str = attrs.field(validator=check_text)


@attrs.frozen(kw_only=True)
class Contact:
    """A person to contact about a document."""

    name: str = attrs.field(validator=check_text)
    email: str | None = None
    phone: str | None = None


def _check_time_zone(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        zone(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(
            field.name, value, "is not an IANA time zone such as 'Europe/Berlin'"
        ) from None


def _check_optional_time_zone(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _check_time_zone(instance, field, value)


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The time zone *name* (cached: every usage record asks for its account's)."""
    return ZoneInfo(name)


@attrs.frozen(kw_only=True)
class Company:
    """The own business entity that issues documents.

    *id* keys its number counters, so two companies never share a sequence.

        >>> Company(id="acme", name="ACME GmbH",
        ...         address=Address(street="Hauptstr. 1", postcode="10115", city="Berlin",
        ...                         country="DE")).payment_terms
        PaymentTerms(pattern='14d')
    """

    id: str = attrs.field(validator=check_text)
    name: str = attrs.field(validator=check_text)
    address: Address = attrs.field(validator=check_instance(Address))
    vat_id: str | None = attrs.field(default=None, converter=optional_vat_id)
    tax_number: str | None = None
    bank_account: BankAccount | None = attrs.field(
        default=None, validator=check_optional_instance(BankAccount)
    )
    contact: Contact | None = attrs.field(default=None, validator=check_optional_instance(Contact))
    #: Used when neither the subscription nor the account sets payment terms.
    payment_terms: PaymentTerms = attrs.field(default=PaymentTerms("14d"), converter=payment_terms)
    #: Number counters per document kind.
    numbering: Numbering = attrs.field(factory=Numbering, validator=check_instance(Numbering))
    #: Tax per line with a visible tax delta (JustOn), or per VAT category (EN 16931).
    tax_rounding: TaxRounding = attrs.field(default=TaxRounding.LINE, converter=TaxRounding)
    #: The IANA time zone whose dates usage records count for, unless the account has its own.
    time_zone: str = attrs.field(default="UTC", validator=_check_time_zone)
    #: Where buyers' systems send messages to the seller (e-invoices: BT-34).
    electronic_address: ElectronicAddress | None = attrs.field(
        default=None, validator=check_optional_instance(ElectronicAddress)
    )
    #: The SEPA creditor identifier direct debits are collected under (``DE98ZZZ09999999999``).
    creditor_id: str | None = attrs.field(default=None, validator=check_optional_text)


@attrs.frozen(kw_only=True)
class Account:
    """A customer account.

    *legal_address* (the invoice recipient, when it differs) and *shipping_address* are
    optional; documents copy them at creation, so later edits never change an issued
    document.

        >>> Account(id="C-1", name="Kunde AG", currency="EUR",
        ...         billing_address=Address(street="Ring 2", postcode="80331", city="München",
        ...                                 country="DE")).country
        'DE'
    """

    id: str = attrs.field(validator=check_text)
    name: str = attrs.field(validator=check_text)
    billing_address: Address = attrs.field(validator=check_instance(Address))
    currency: Currency = attrs.field(converter=currency)
    legal_address: Address | None = attrs.field(
        default=None, validator=check_optional_instance(Address)
    )
    shipping_address: Address | None = attrs.field(
        default=None, validator=check_optional_instance(Address)
    )
    language: str = "en"
    vat_id: str | None = attrs.field(default=None, converter=optional_vat_id)
    email: str | None = None
    payment_terms: PaymentTerms | None = attrs.field(default=None, converter=optional_payment_terms)
    #: The account's billing time zone (IANA name); ``None``: the company's.
    time_zone: str | None = attrs.field(default=None, validator=_check_optional_time_zone)
    #: The buyer's reference for its documents (BT-10); for German public buyers the
    #: Leitweg-ID that XRechnung requires.
    buyer_reference: str | None = attrs.field(default=None, validator=check_optional_text)
    #: Where e-invoices for this account are delivered (BT-49).
    electronic_address: ElectronicAddress | None = attrs.field(
        default=None, validator=check_optional_instance(ElectronicAddress)
    )
    #: The customer's own bank account: payments from its IBAN are matched to this account.
    bank_account: BankAccount | None = attrs.field(
        default=None, validator=check_optional_instance(BankAccount)
    )
    #: The payment provider that collects this account's documents (``bank_transfer``,
    #: ``sepa_direct_debit`` or a plugin's name); bank transfer when ``None``.
    payment_method: str | None = attrs.field(default=None, validator=check_optional_text)

    @property
    def country(self) -> str:
        """The billing country (ISO 3166 alpha-2)."""
        return self.billing_address.country

    @property
    def recipient_address(self) -> Address:
        """The address a document is sent to: the legal address if set, else the billing one."""
        return self.legal_address or self.billing_address
