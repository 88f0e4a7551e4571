"""The SEPA direct-debit file (ISO 20022 pain.008.001.02), written with sepaxml.

Pure: values in, bytes out. sepaxml lays the message out; its random message and
payment-information ids and its clock-read creation time are then replaced by ones
derived from the arguments, so the same batch gives the same file byte for byte (a run
repeated after a crash can write it again, and the bank's duplicate check sees the same
message id). The result is checked against the XSD that sepaxml ships.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from importlib.resources import as_file, files

import attrs
from lxml import etree
from moneyed import Money
from schwifty import IBAN
from sepaxml import SepaDD

from ..errors import ValidationError
from ..model.mandates import Mandate, Scheme, iban, optional_bic, sepa_id
from ..model.parties import Company
from ..rounding import minor_digits

__all__ = ["SCHEMA", "Creditor", "Debit", "creditor", "pain008"]

SCHEMA = "pain.008.001.02"
_NS = {"p": f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"}


@attrs.frozen
class Creditor:
    """Who collects: the company's name, account and SEPA creditor identifier."""

    name: str
    iban: str
    bic: str
    creditor_id: str


def creditor(company: Company) -> Creditor:
    """The creditor of *company*; ValidationError naming the field that is missing."""
    if company.creditor_id is None:
        raise ValidationError(
            "creditor_id",
            None,
            f"of company {company.id} is required to collect by SEPA direct debit",
        )
    account = company.bank_account
    if account is None:
        raise ValidationError(
            "bank_account",
            None,
            f"of company {company.id} is required to collect by SEPA direct debit",
        )
    own_iban = iban(account.iban, field="bank_account.iban")
    # pain.008.001.02 needs the creditor's BIC; the IBAN's bank gives it where schwifty knows it.
    bic = optional_bic(account.bic, field="bank_account.bic")
    if bic is None and (known := IBAN(own_iban).bic) is not None:
        bic = str(known.compact)
    if bic is None:
        raise ValidationError(
            "bank_account.bic", None, f"of company {company.id} is required (pain.008.001.02)"
        )
    return Creditor(company.name, own_iban, bic, company.creditor_id)


@attrs.frozen
class Debit:
    """One direct debit of a file."""

    end_to_end_id: str
    amount: Money
    mandate: Mandate
    #: ``FRST`` for a mandate's first collection, ``RCUR`` afterwards.
    sequence: str
    debtor_name: str
    description: str


def _cents(amount: Money) -> int:
    if amount.currency.code != "EUR":
        raise ValidationError("amount", amount, "SEPA direct debits are in EUR")
    cents = amount.amount.scaleb(minor_digits("EUR"))
    if cents != cents.to_integral_value():
        raise ValidationError("amount", amount, "has more decimals than EUR has minor units")
    return int(cents)


def pain008(
    creditor: Creditor,
    debits: Sequence[Debit],
    *,
    message_id: str,
    collection_date: date,
    scheme: Scheme,
    created_at: datetime,
) -> bytes:
    """The pain.008 file that collects *debits* on *collection_date* (at least one)."""
    sepa_id(message_id, field="message_id")
    if not debits:
        raise ValidationError("debits", debits, "must not be empty: a pain.008 needs a debit")
    config = {
        "name": creditor.name,
        "IBAN": creditor.iban,
        "BIC": creditor.bic,
        "batch": True,
        "creditor_id": creditor.creditor_id,
        "currency": "EUR",
        "instrument": scheme.value,
    }
    file = SepaDD(config, schema=SCHEMA, clean=True)
    for debit in debits:
        payment = {
            "name": debit.debtor_name,
            "IBAN": debit.mandate.iban,
            "amount": _cents(debit.amount),
            "type": debit.sequence,
            "collection_date": collection_date,
            "mandate_id": debit.mandate.reference,
            "mandate_date": debit.mandate.signed_on,
            "description": debit.description,
            "endtoend_id": sepa_id(debit.end_to_end_id, field="end_to_end_id"),
        }
        if debit.mandate.bic is not None:
            payment["BIC"] = debit.mandate.bic
        file.add_payment(payment)
    xml = _deterministic(file.export(validate=False), message_id, created_at)
    try:
        _schema().assertValid(etree.fromstring(xml))
    except etree.DocumentInvalid as exc:
        raise ValidationError(
            "debits", message_id, f"do not make a valid {SCHEMA} file: {exc}"
        ) from None
    return xml


@functools.cache
def _schema() -> etree.XMLSchema:
    # The XSD sepaxml ships, compiled once (sepaxml's own check recompiles it per file).
    with as_file(files("sepaxml") / "schemas" / f"{SCHEMA}.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path)))


def _deterministic(xml: bytes, message_id: str, created_at: datetime) -> bytes:
    root = etree.fromstring(xml)
    header = root.find("p:CstmrDrctDbtInitn/p:GrpHdr", _NS)
    assert header is not None
    _set(header, "p:MsgId", message_id)
    _set(header, "p:CreDtTm", created_at.replace(microsecond=0, tzinfo=None).isoformat())
    for n, info in enumerate(root.iterfind("p:CstmrDrctDbtInitn/p:PmtInf", _NS), start=1):
        # One block per sequence type: at most a few, so the id stays within 35 characters.
        _set(info, "p:PmtInfId", f"{message_id[:32]}-{n}")
    # The declaration as sepaxml writes it (double quotes): some bank portals insist.
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + bytes(
        etree.tostring(root, xml_declaration=False, encoding="UTF-8")
    )


def _set(parent: etree._Element, path: str, text: str) -> None:
    node = parent.find(path, _NS)
    assert node is not None, path
    node.text = text
