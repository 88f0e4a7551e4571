"""ISO 20022 bank statements (camt.053) and notifications (camt.054) as payment entries.

Every version from .001.02 to .001.08 is read the same way: elements are found by their
local names, whatever the namespace. Each transaction detail (``Ntry/NtryDtls/TxDtls``)
becomes one :class:`~juston.model.receivables.PaymentEntry`; an entry without details
becomes one payment of the entry's amount. Only booked entries are read (pending and
information-only ones are not money yet).

    >>> xml = b'''<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
    ... <BkToCstmrStmt><Stmt><Ntry><Amt Ccy="EUR">119.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    ... <Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-01-09</Dt></BookgDt><AcctSvcrRef>B-1</AcctSvcrRef>
    ... <NtryDtls><TxDtls><RmtInf><Ustrd>INV-2026-00001</Ustrd></RmtInf></TxDtls></NtryDtls>
    ... </Ntry></Stmt></BkToCstmrStmt></Document>'''
    >>> [(e.id, e.amount, e.reference) for e in read_camt(xml)]
    [('B-1', Money('119.00', 'EUR'), 'INV-2026-00001')]
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, cast

from lxml import etree
from moneyed import Money

from ..errors import ValidationError
from ..model.receivables import PaymentEntry
from ..money import money
from .entry_ids import EntryIds

__all__ = ["hardened_parser", "read_camt"]

Element = etree._Element

# The message element under Document, and the element of each account report in it.
_REPORTS = {"BkToCstmrStmt": "Stmt", "BkToCstmrDbtCdtNtfctn": "Ntfctn"}
# Entry status: a code (BOOK) from .001.07 on, plain text before; banks' proprietary
# spelling is "Booked".
_BOOKED = {"BOOK", "BOOKED"}
# Bank transaction code families of SEPA direct debits (received, issued).
_DIRECT_DEBIT = {"RDDT", "IDDT"}
# What a debtor's bank writes when the payer gave no end-to-end id.
_NO_END_TO_END = "NOTPROVIDED"


def read_camt(source: bytes | str | Path, *, name: str | None = None) -> list[PaymentEntry]:
    """The payment entries of a camt.053 or camt.054 file (*source*: its bytes or path).

    *name* (the file name when *source* is a path) is the entries' ``source`` and starts
    error messages. A file that is not such a message, declares a DTD, or has an entry
    without a readable amount, sign or date raises :class:`~juston.ValidationError`.
    """
    if not isinstance(source, bytes):
        path = Path(source)
        name = name or path.name
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise ValidationError("file", str(path), f"cannot be read ({exc.strerror})") from None
    label = name or "camt file"
    root = _parse(source, label)
    message = _first_child(root)
    if (
        etree.QName(root).localname != "Document"
        or message is None
        or (etree.QName(message).localname not in _REPORTS)
    ):
        raise ValidationError("file", label, "is not a camt.053 statement or camt.054 notification")
    ids = EntryIds("camt")
    entries = []
    for report in _children(message, _REPORTS[etree.QName(message).localname]):
        own_iban = _compact(_text(report, "Acct/Id/IBAN"))
        for number, ntry in enumerate(_children(report, "Ntry"), start=1):
            if not _booked(ntry):
                continue
            entries.extend(_Entry(ntry, f"{label}: Ntry {number}", own_iban, name).payments(ids))
    return entries


def hardened_parser() -> etree.XMLParser:
    """The parser for bank files, which come from outside: it expands no entity, loads no
    DTD, never touches the network and refuses huge trees. A new one per file, because
    lxml parsers keep state and must not be shared between threads."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse(content: bytes, label: str) -> Element:
    parser = hardened_parser()
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise ValidationError("file", label, f"is not well-formed XML ({exc})") from None
    # lxml-stubs lack DocInfo.doctype: the declaration's text, "" when there is none.
    doctype: str = cast(Any, root.getroottree().docinfo).doctype
    if doctype:
        # Bank messages never declare one; a DTD here is at best junk, at worst an attack.
        raise ValidationError("file", label, "declares a DTD, which camt files never do")
    return root


# --- finding elements by local name -------------------------------------------------------------


def _children(parent: Element, name: str) -> Iterator[Element]:
    for child in parent:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            yield child


def _first_child(parent: Element) -> Element | None:
    return next((c for c in parent if isinstance(c.tag, str)), None)


def _find(parent: Element | None, path: str) -> Element | None:
    node = parent
    for name in path.split("/"):
        if node is None:
            return None
        node = next(_children(node, name), None)
    return node


def _text(parent: Element | None, path: str) -> str | None:
    node = _find(parent, path)
    text = (node.text or "").strip() if node is not None else ""
    return text or None


def _texts(parent: Element | None, path: str) -> list[str]:
    """The texts of every element at *path* (each step may repeat: RmtInf, Ustrd …)."""
    nodes = [] if parent is None else [parent]
    for name in path.split("/"):
        nodes = [child for node in nodes for child in _children(node, name)]
    return [text for node in nodes if (text := (node.text or "").strip())]


def _compact(iban: str | None) -> str | None:
    return "".join(iban.split()).upper() if iban else None


def _booked(ntry: Element) -> bool:
    status = _text(ntry, "Sts/Cd") or _text(ntry, "Sts/Prtry") or _text(ntry, "Sts")
    return status is None or status.upper() in _BOOKED


# --- one entry ----------------------------------------------------------------------------------


class _Entry:
    """One ``Ntry``: reads its own fields once, then one payment per transaction detail."""

    def __init__(self, ntry: Element, where: str, own_iban: str | None, name: str | None) -> None:
        self.ntry = ntry
        self.own_iban = own_iban
        self.source = name
        self.reference = _text(ntry, "AcctSvcrRef")
        self.where = f"{where} ({self.reference})" if self.reference else where
        self.amount = _amount(ntry, self.where)
        self.credit = _credit(ntry, self.where)
        booked = _date(ntry, "BookgDt", self.where) or _date(ntry, "ValDt", self.where)
        if booked is None:
            raise ValidationError(f"{self.where}, BookgDt", None, "is missing")
        self.booked = booked
        self.details = [
            d for dtls in _children(ntry, "NtryDtls") for d in _children(dtls, "TxDtls")
        ]

    def payments(self, ids: EntryIds) -> list[PaymentEntry]:
        if not self.details:
            return self._payment(None, 0, ids)
        return [p for n, tx in enumerate(self.details, 1) for p in self._payment(tx, n, ids)]

    def _payment(self, tx: Element | None, n: int, ids: EntryIds) -> list[PaymentEntry]:
        where = f"{self.where}, TxDtls {n}" if n else self.where
        amount = self._detail_amount(tx, where)
        credit = self.credit if _text(tx, "CdtDbtInd") is None else _credit(tx, where)
        signed = amount if credit else -amount
        if not signed.amount:
            return []  # nothing moved: an information line, not a payment
        payer_name, payer_iban = self._payer(tx, credit)
        reference = _reference(tx, self.ntry)
        end_to_end = _text(tx, "Refs/EndToEndId")
        entry_id = self._id(tx, n) or ids.next(
            [str(self.own_iban), str(self.booked), str(signed.amount), signed.currency.code,
             reference, end_to_end or "", payer_iban or "", payer_name or ""]
        )  # fmt: skip
        try:
            return [
                PaymentEntry(
                    id=entry_id,
                    amount=signed,
                    booking_date=self.booked,
                    value_date=_date(self.ntry, "ValDt", self.where),
                    reference=reference,
                    payer_name=payer_name,
                    payer_iban=payer_iban,
                    method=self._method(tx),
                    mandate_reference=_text(tx, "Refs/MndtId"),
                    end_to_end_id=None if end_to_end == _NO_END_TO_END else end_to_end,
                    return_reason=_text(tx, "RtrInf/Rsn/Cd") or _text(tx, "RtrInf/Rsn/Prtry"),
                    foreign_amount=_foreign(tx, signed, where),
                    source=self.source,
                )
            ]
        except ValidationError as exc:
            raise ValidationError(f"{where}, {exc.field}", exc.value, exc.reason) from None

    def _detail_amount(self, tx: Element | None, where: str) -> Money:
        node = _find(tx, "Amt")
        if node is None:  # .001.02 has the amount only in the amount details
            node = _find(tx, "AmtDtls/TxAmt/Amt")
        if node is not None:
            return _money(node, where)
        if len(self.details) > 1:
            # A batch's total cannot be split by guessing.
            raise ValidationError(f"{where}, Amt", None, "is missing in a batch entry")
        return self.amount

    def _id(self, tx: Element | None, n: int) -> str | None:
        own = _text(tx, "Refs/AcctSvcrRef")
        if own or not self.reference:
            return own
        # The bank's reference names the whole entry: number the transactions of a batch.
        return self.reference if len(self.details) <= 1 else f"{self.reference}/{n}"

    def _payer(self, tx: Element | None, credit: bool) -> tuple[str | None, str | None]:
        """The other party: the debtor of money in, the creditor of money out, unless that
        side is this account itself (a returned direct debit names the payer as debtor)."""
        parties = _find(tx, "RltdPties")
        for side in ("Dbtr", "Cdtr") if credit else ("Cdtr", "Dbtr"):
            name = _text(parties, f"{side}/Pty/Nm") or _text(parties, f"{side}/Nm")
            iban = _text(parties, f"{side}Acct/Id/IBAN")
            ours = (
                iban is not None and self.own_iban is not None and _compact(iban) == self.own_iban
            )
            if (name or iban) and not ours:
                return name, iban
        return None, None

    def _method(self, tx: Element | None) -> str:
        families = {_text(node, "BkTxCd/Domn/Fmly/Cd") for node in (tx, self.ntry)}
        if families & _DIRECT_DEBIT or _text(tx, "Refs/MndtId"):
            return "sepa_direct_debit"
        return "bank_transfer"


def _money(node: Element, where: str) -> Money:
    text = (node.text or "").strip()
    try:
        return money(text, node.get("Ccy"))
    except ValidationError as exc:
        raise ValidationError(
            f"{where}, Amt", text, f"{exc.reason} (Ccy {node.get('Ccy')!r})"
        ) from None


def _amount(ntry: Element, where: str) -> Money:
    node = _find(ntry, "Amt")
    if node is None:
        raise ValidationError(f"{where}, Amt", None, "is missing")
    return _money(node, where)


def _credit(node: Element | None, where: str) -> bool:
    code = _text(node, "CdtDbtInd")
    if code not in ("CRDT", "DBIT"):
        raise ValidationError(f"{where}, CdtDbtInd", code, "is not CRDT or DBIT")
    return code == "CRDT"


def _date(node: Element | None, path: str, where: str) -> date | None:
    text = _text(node, f"{path}/Dt") or _text(node, f"{path}/DtTm")
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])  # a DtTm's day, in the bank's own time zone
    except ValueError:
        raise ValidationError(f"{where}, {path}", text, "is not a date like 2026-01-09") from None


def _reference(tx: Element | None, ntry: Element) -> str:
    lines = _texts(tx, "RmtInf/Ustrd") + _texts(tx, "RmtInf/Strd/CdtrRefInf/Ref")
    if lines:
        return " ".join(lines)
    # Fees and bank bookings carry no remittance information, only a description.
    return _text(tx, "AddtlTxInf") or _text(ntry, "AddtlNtryInf") or ""


def _foreign(tx: Element | None, amount: Money, where: str) -> Money | None:
    node = _find(tx, "AmtDtls/InstdAmt/Amt")
    if node is None:
        return None
    instructed = _money(node, where)
    if instructed.currency == amount.currency:
        return None
    return instructed if amount.amount > 0 else -instructed
