"""Bank files: payment entries from CSV exports and camt files, imported once each.

:func:`read_payments_csv` reads a bank's CSV export with configurable columns
(:class:`CsvColumns`), JustOn's amount = credit − debit (an empty cell counts as 0), and
German number and date formats on request. :func:`import_bank_file` registers a file's
entries, matches and assigns them, and records the file, all in one transaction: a file
(by name or by content) is never imported twice, and a file that fails stores nothing.

    >>> entries = read_payments_csv(
    ...     "Buchungstag;Haben;Soll;Verwendungszweck\\n"
    ...     "09.01.2026;1.234,56;;INV-2026-00001\\n"
    ...     "10.01.2026;;12,50;Kontoführung\\n",
    ...     columns=CsvColumns(booking_date="Buchungstag", credit="Haben", debit="Soll",
    ...                        reference="Verwendungszweck"),
    ...     currency="EUR", decimal_comma=True)
    >>> [(str(e.booking_date), e.amount.amount) for e in entries]
    [('2026-01-09', Decimal('1234.56')), ('2026-01-10', Decimal('-12.50'))]
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs
from moneyed import Currency

from ..errors import ValidationError
from ..model.receivables import ImportedFile, PaymentEntry
from ..money import currency as as_currency
from ..money import money
from ..storage.base import Store
from .camt import read_camt
from .entry_ids import EntryIds
from .matching import DEFAULT_RULES, MatchRule
from .payments import Registered, receive

__all__ = ["CsvColumns", "CsvFormat", "import_bank_file", "read_payments_csv"]

Format = Literal["auto", "csv", "camt"]


def _check_column(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(f"columns.{field.name}", value, "must be a column name or None")


def _column(default: str) -> Any:
    return attrs.field(default=default, validator=_check_column)


@attrs.frozen(kw_only=True)
class CsvColumns:
    """The file's column (header) for each entry field.

    A field left at its own name is read when the file has that column; a column you
    name must be in the file; ``None`` means the file has no such column. The amount is
    one signed column (*amount*, money in positive) or, JustOn's way, *credit* − *debit*,
    an empty cell counting as 0. Without an *id* column an entry's id is a digest of its
    row (see :mod:`juston.receivables.entry_ids`).

        >>> CsvColumns(booking_date="Buchungstag", amount="Betrag").amount
        'Betrag'
    """

    booking_date: str | None = _column("booking_date")
    amount: str | None = _column("amount")
    credit: str | None = _column("credit")
    debit: str | None = _column("debit")
    currency: str | None = _column("currency")
    id: str | None = _column("id")
    reference: str | None = _column("reference")
    payer_name: str | None = _column("payer_name")
    payer_iban: str | None = _column("payer_iban")
    value_date: str | None = _column("value_date")
    mandate_reference: str | None = _column("mandate_reference")
    end_to_end_id: str | None = _column("end_to_end_id")
    method: str | None = _column("method")

    @classmethod
    def of(cls, names: Mapping[str, str | None]) -> CsvColumns:
        """Columns from a mapping of field → column; an unknown field is an error."""
        fields = attrs.fields_dict(cls)
        for field in names:
            if field not in fields:
                raise ValidationError("columns", field, f"is not a field ({', '.join(fields)})")
        return cls(**names)


def _check_delimiter(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, str) or len(value) != 1):
        raise ValidationError(field.name, value, "must be one character")


def _optional_currency(value: object) -> Currency | None:
    return None if value is None else as_currency(value)


@attrs.frozen(kw_only=True)
class CsvFormat:
    """How a bank's CSV export is written; :func:`read_payments_csv` explains each option."""

    columns: CsvColumns = attrs.field(factory=CsvColumns)
    currency: Currency | None = attrs.field(default=None, converter=_optional_currency)
    delimiter: str | None = attrs.field(default=None, validator=_check_delimiter)
    decimal_comma: bool = False
    date_format: str | None = None
    encoding: str = "utf-8-sig"

    def read(self, source: str | bytes | Path, *, name: str | None = None) -> list[PaymentEntry]:
        """The entries of *source*; see :func:`read_payments_csv`."""
        text, name = _text_of(source, name, self.encoding)
        return _CsvReader(self, name).entries(text)


def read_payments_csv(
    source: str | bytes | Path,
    *,
    columns: CsvColumns | None = None,
    currency: str | Currency | None = None,
    delimiter: str | None = None,
    decimal_comma: bool = False,
    date_format: str | None = None,
    encoding: str = "utf-8-sig",
    name: str | None = None,
) -> list[PaymentEntry]:
    """The payment entries of a CSV file with a header row.

    *source* is a :class:`~pathlib.Path`, the file's bytes, or a string: the CSV text
    when it has a line break, else a path. *currency* applies when there is no currency
    column (or its cell is empty). *delimiter* defaults to the one of ``;``, ``,`` and tab
    the header uses most. *decimal_comma* reads ``1.234,56``; *date_format* is a
    :func:`~datetime.datetime.strptime` format, by default ``YYYY-MM-DD`` or ``DD.MM.YYYY``.
    Rows without any text, and rows whose amount is 0, are skipped. A bad row raises a
    :class:`~juston.ValidationError` naming the row (1 is the first after the header),
    the column and the value.
    """
    options = CsvFormat(
        columns=columns or CsvColumns(),
        currency=currency,
        delimiter=delimiter,
        decimal_comma=decimal_comma,
        date_format=date_format,
        encoding=encoding,
    )
    return options.read(source, name=name)


def _text_of(source: str | bytes | Path, name: str | None, encoding: str) -> tuple[str, str]:
    """The text of *source* and the name errors call it by."""
    if isinstance(source, str) and ("\n" in source or "\r" in source):
        return source.removeprefix("\ufeff"), name or "CSV text"
    if not isinstance(source, bytes):
        path = Path(source)
        name = name or path.name
        source = _read_bytes(path)
    label = name or "CSV file"
    try:
        # A byte order mark survives encodings other than utf-8-sig; it is not a header.
        return source.decode(encoding).removeprefix("\ufeff"), label
    except (UnicodeDecodeError, LookupError) as exc:
        raise ValidationError(
            "encoding", encoding, f"cannot decode {label} ({exc}); pass the file's encoding"
        ) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError("file", str(path), f"cannot be read ({exc.strerror})") from None


# --- reading rows --------------------------------------------------------------------------


_POINT = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")
_DEFAULT_DATES = ("%Y-%m-%d", "%d.%m.%Y")


class _CsvReader:
    """Reads the rows of one file under one :class:`CsvFormat`."""

    def __init__(self, options: CsvFormat, name: str) -> None:
        self.options = options
        self.name = name
        self.ids = EntryIds("csv")
        self.columns: dict[str, str] = {}  # field → the file's column, set from the header

    def entries(self, text: str) -> list[PaymentEntry]:
        first_line = text.split("\n", 1)[0]
        delimiter = self.options.delimiter or max(";,\t", key=first_line.count)
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [cell.strip() for cell in next(rows, [])]
        self.columns = self._layout(header)
        entries = []
        for number, row in enumerate(rows, start=1):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValidationError(
                    f"{self.name} row {number}", delimiter.join(row),
                    f"has {len(row)} cells, the header {len(header)}",
                )  # fmt: skip
            entry = self._entry(number, dict(zip(header, (c.strip() for c in row), strict=True)))
            if entry is not None:
                entries.append(entry)
        return entries

    def _layout(self, header: list[str]) -> dict[str, str]:
        """Field → column for the columns this file has; an error for a named one it lacks."""
        if len(set(header)) != len(header):
            raise ValidationError("header", header, f"of {self.name} names a column twice")
        found = {}
        for field, column in attrs.asdict(self.options.columns).items():
            if column in header:
                found[field] = column
            elif column is not None and column != field:
                raise ValidationError(
                    f"columns.{field}", column, f"is not in the header of {self.name} ({header})"
                )
        if "booking_date" not in found:
            raise ValidationError("header", header, f"of {self.name} has no booking date column")
        if "amount" in found and ("credit" in found or "debit" in found):
            raise ValidationError(
                "header", header, "has an amount and credit/debit columns: set one of them to None"
            )
        if not {"amount", "credit", "debit"} & found.keys():
            raise ValidationError("header", header, f"of {self.name} has no amount column")
        if "currency" not in found and self.options.currency is None:
            raise ValidationError("currency", None, f"{self.name} has no currency column: pass one")
        return found

    def _entry(self, number: int, row: dict[str, str]) -> PaymentEntry | None:
        where = f"{self.name} row {number}"
        values = {f: row[c] or None for f, c in self.columns.items()}
        code = values.get("currency") or self.options.currency
        amount = sum(
            (sign * self._decimal(where, field, values.get(field)) for field, sign in
             (("amount", 1), ("credit", 1), ("debit", -1))),
            Decimal(0),
        )  # fmt: skip
        if not amount:
            return None  # nothing moved (JustOn: credit − debit with both empty)
        try:
            value = money(amount, code, field="currency")
        except ValidationError as exc:
            raise self._error(where, "currency", code, exc.reason) from None
        booked = values["booking_date"]
        if booked is None:
            raise self._error(where, "booking_date", booked, "is empty")
        booking_date = self._date(where, "booking_date", booked)
        valued = values.get("value_date")
        value_date = None if valued is None else self._date(where, "value_date", valued)
        entry_id = values.get("id") or self.ids.next(sorted(f"{k}={v}" for k, v in row.items()))
        try:
            return PaymentEntry(
                id=entry_id, amount=value, booking_date=booking_date, value_date=value_date,
                reference=values.get("reference") or "",
                method=values.get("method") or "bank_transfer",
                payer_name=values.get("payer_name"), payer_iban=values.get("payer_iban"),
                mandate_reference=values.get("mandate_reference"),
                end_to_end_id=values.get("end_to_end_id"), source=self.name,
            )  # fmt: skip
        except ValidationError as exc:
            raise self._error(where, exc.field, exc.value, exc.reason) from None

    def _error(self, where: str, field: str, value: object, reason: str) -> ValidationError:
        names = [self.columns[f] for f in ("amount", "credit", "debit") if f in self.columns]
        column = self.columns.get(field) or ("/".join(names) if field == "amount" else field)
        return ValidationError(f"{where}, column {column!r}", value, reason)

    def _decimal(self, where: str, field: str, text: str | None) -> Decimal:
        if text is None:
            return Decimal(0)
        compact = text.replace(" ", "").replace("\u00a0", "").replace("'", "")
        if compact.endswith("-"):  # some banks write the sign last: 12,50-
            compact = "-" + compact[:-1]
        comma = self.options.decimal_comma
        if not (_COMMA if comma else _POINT).fullmatch(compact):
            example = "1.234,56" if comma else "1,234.56"
            raise self._error(where, field, text, f"is not an amount like {example}")
        if comma:
            compact = compact.replace(".", "").replace(",", ".")
        return Decimal(compact.replace(",", ""))

    def _date(self, where: str, field: str, text: str) -> date:
        formats = (self.options.date_format,) if self.options.date_format else _DEFAULT_DATES
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        shown = self.options.date_format or "YYYY-MM-DD or DD.MM.YYYY"
        raise self._error(where, field, text, f"is not a date ({shown})")


# --- importing a file ----------------------------------------------------------------------


def import_bank_file(
    store: Store,
    path: str | Path,
    *,
    on: date,
    format: Format = "auto",
    csv_format: CsvFormat | None = None,
    rules: Sequence[MatchRule] = DEFAULT_RULES,
    assign: bool = True,
) -> Registered:
    """Import the payment entries of a bank file (CSV or camt.053/.054), once.

    Registers, matches and assigns the entries (unless *assign* is false) like
    :func:`~juston.receivables.register_payments`, and records the file as imported *on*
    that day. A file whose name or content (SHA-256) was imported before is refused with
    a :class:`~juston.ValidationError` naming the earlier import. *format* ``auto`` reads
    a file that starts with ``<`` as camt, anything else as CSV under *csv_format*. One
    transaction: a file that fails stores nothing.

        >>> from datetime import date
        >>> import juston, tempfile, pathlib
        >>> store = juston.testing.sample_store(accounts=1)
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "bank.csv").write_text("booking_date,amount,reference\\n2026-01-09,50.00,?\\n")
        >>> str(import_bank_file(store, folder / "bank.csv", on=date(2026, 1, 10),
        ...                      csv_format=CsvFormat(currency="EUR")))
        '1 new (0 assigned, 1 waiting), 0 duplicate'
    """
    if format not in ("auto", "csv", "camt"):
        raise ValidationError("format", format, "is not auto, csv or camt")
    path = Path(path)
    content = _read_bytes(path)
    digest = hashlib.sha256(content).hexdigest()
    if format == "auto":
        format = "camt" if content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else "csv"
    if format == "camt":
        entries = read_camt(content, name=path.name)
    else:
        entries = (csv_format or CsvFormat()).read(content, name=path.name)
    with store.transaction() as tx:
        earlier = tx.imported_file(path.name, digest)
        if earlier is not None:
            how = "" if earlier.name == path.name else f" as {earlier.name!r} (the same content)"
            raise ValidationError("file", path.name, f"was imported on {earlier.imported_on}{how}")
        result = receive(tx, entries, rules, assign=assign)
        tx.add_imported_file(
            ImportedFile(name=path.name, digest=digest, imported_on=on, entries=len(entries))
        )
    return result
