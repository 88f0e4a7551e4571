"""Matching payment entries to documents and accounts, in JustOn's order.

1. An open document's number found in the reference (or end-to-end id) wins.
2. Then the rules, in order: a regular expression on a field of the entry whose
   matches are looked up as a document number, an account id, an IBAN or a mandate
   reference (shipped: payer IBAN, mandate reference, account number in the reference).
3. Then heuristics: the one open document whose open amount is the entry's amount;
   the one account whose name is the payer's name.

What nothing matches stays in the queue with the reason. A pure function on values:
the shell builds the :class:`MatchContext` once for a batch of entries.

    >>> from datetime import date
    >>> from juston import money
    >>> from juston.model.receivables import OpenAmount, PaymentEntry
    >>> context = MatchContext.build(
    ...     [OpenAmount("D1", "C-1", money("119.00", "EUR"), date(2026, 1, 1), "INV-7")], [])
    >>> entry = PaymentEntry(id="E1", amount=money("119.00", "EUR"),
    ...                      booking_date=date(2026, 1, 9), reference="Rechnung INV-7, danke")
    >>> match(entry, context)
    Match(account_id='C-1', document_ids=('D1',), reason="document number 'INV-7' in the reference")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs

from .._fields import check_text
from ..errors import ValidationError
from ..model.mandates import Mandate
from ..model.parties import Account
from ..model.receivables import OpenAmount, PaymentEntry

__all__ = ["DEFAULT_RULES", "Lookups", "Match", "MatchContext", "MatchRule", "lookup", "match"]

Field = Literal["reference", "payer_iban", "payer_name", "mandate_reference"]
Target = Literal["document", "account", "iban", "mandate"]

# Words of a reference: what an invoice number or account id can look like.
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9/_.\-]*[A-Za-z0-9])?")


def _check_pattern(instance: object, field: attrs.Attribute[Any], value: object) -> None:
    check_text(instance, field, value)
    try:
        compiled = re.compile(str(value))
    except re.error as exc:
        raise ValidationError(field.name, value, f"is not a regular expression ({exc})") from None
    if compiled.groups > 1:
        raise ValidationError(field.name, value, "may have at most one capturing group")


@attrs.frozen
class MatchRule:
    """Look up what *pattern* finds in the entry's *field* as a *target*.

    With a capturing group, the group is looked up, else the whole match; every match
    in the field is tried, left to right.

        >>> MatchRule("customer number", r"KD[- ]?(\\d+)", target="account").name
        'customer number'
    """

    name: str = attrs.field(validator=check_text)
    pattern: str = attrs.field(validator=_check_pattern)
    field: Field = "reference"
    target: Target = "account"

    def values(self, entry: PaymentEntry) -> Iterable[str]:
        text = getattr(entry, self.field) or ""
        for found in re.finditer(self.pattern, text):
            value = found.group(1) if found.re.groups else found.group(0)
            if value:
                yield value.strip()


#: JustOn's shipped rules: the payer's IBAN, the mandate, an account number in the text.
DEFAULT_RULES: tuple[MatchRule, ...] = (
    MatchRule("payer IBAN", r".+", field="payer_iban", target="iban"),
    MatchRule("mandate reference", r".+", field="mandate_reference", target="mandate"),
    MatchRule("account number", _TOKEN.pattern, target="account"),
)


@attrs.frozen
class Match:
    """An entry's match: the account, and the documents it pays (oldest first), if any."""

    account_id: str
    document_ids: tuple[str, ...]
    reason: str


def compact_iban(value: str) -> str:
    return "".join(value.split()).upper()


class Lookups(Protocol):
    """What matching asks about the store; :class:`MatchContext` answers from values held
    in memory, the shell's lazy version by asking the store only what an entry needs."""

    def open_number(self, number: str) -> OpenAmount | None:
        """The open document with this number."""
        ...

    def any_number(self, number: str) -> OpenAmount | None:
        """Any finalized document with this number, open or not (money going out, a
        returned payment, names a document that is paid)."""
        ...

    def account_id(self, value: str) -> str | None:
        """The account whose id this is (also case-folded)."""
        ...

    def iban_owners(self, iban: str) -> frozenset[str]:
        """The accounts paying from this IBAN (their bank account or a mandate)."""
        ...

    def mandate_owner(self, reference: str) -> str | None:
        """The account of this mandate."""
        ...

    def open_documents(self) -> Sequence[OpenAmount]:
        """Every open document."""
        ...

    def named(self, name: str) -> frozenset[str]:
        """The accounts with this name (case-folded)."""
        ...


@attrs.frozen
class MatchContext:
    """The :class:`Lookups` of a batch, held in memory: the open documents and accounts."""

    open_by_number: Mapping[str, OpenAmount]
    opens: Sequence[OpenAmount]
    accounts: Mapping[str, str]  # id → id (exact and case-folded ids)
    by_iban: Mapping[str, frozenset[str]]
    by_mandate: Mapping[str, str]
    by_name: Mapping[str, frozenset[str]]
    finder: Callable[[str], OpenAmount | None] = lambda number: None

    @classmethod
    def build(
        cls,
        open_documents: Iterable[OpenAmount],
        accounts: Iterable[Account],
        mandates: Iterable[Mandate] = (),
        any_number: Callable[[str], OpenAmount | None] | None = None,
    ) -> MatchContext:
        opens = list(open_documents)
        by_iban: dict[str, set[str]] = {}
        by_name: dict[str, set[str]] = {}
        ids: dict[str, str] = {}
        for account in accounts:
            ids[account.id] = ids[account.id.casefold()] = account.id
            by_name.setdefault(account.name.casefold(), set()).add(account.id)
            if account.bank_account is not None:
                by_iban.setdefault(compact_iban(account.bank_account.iban), set()).add(account.id)
        by_mandate = {}
        for mandate in mandates:
            by_mandate[mandate.reference] = mandate.account_id
            by_iban.setdefault(mandate.iban, set()).add(mandate.account_id)
        return cls(
            open_by_number={o.number: o for o in opens if o.number},
            opens=opens,
            accounts=ids,
            by_iban={k: frozenset(v) for k, v in by_iban.items()},
            by_mandate=by_mandate,
            by_name={k: frozenset(v) for k, v in by_name.items()},
            finder=any_number or (lambda number: None),
        )

    def open_number(self, number: str) -> OpenAmount | None:
        return self.open_by_number.get(number)

    def any_number(self, number: str) -> OpenAmount | None:
        return self.finder(number)

    def account_id(self, value: str) -> str | None:
        return self.accounts.get(value) or self.accounts.get(value.casefold())

    def iban_owners(self, iban: str) -> frozenset[str]:
        return self.by_iban.get(compact_iban(iban), frozenset())

    def mandate_owner(self, reference: str) -> str | None:
        return self.by_mandate.get(reference)

    def open_documents(self) -> Sequence[OpenAmount]:
        return self.opens

    def named(self, name: str) -> frozenset[str]:
        return self.by_name.get(name.casefold(), frozenset())


def lookup(lookups: Lookups, target: Target, value: str) -> tuple[str, tuple[str, ...]] | None:
    """The (account, documents) that *value* names as a *target*, if exactly one."""
    if target == "document":
        found = lookups.open_number(value)
        return (found.account_id, (found.document_id,)) if found else None
    if target == "account":
        account_id = lookups.account_id(value)
    elif target == "mandate":
        account_id = lookups.mandate_owner(value)
    else:
        owners = lookups.iban_owners(value)
        account_id = next(iter(owners)) if len(owners) == 1 else None
    return (account_id, ()) if account_id else None


def _tokens(text: str) -> list[str]:
    """The words of *text* that can be numbers, and each word joined with the next one or
    two: banks wrap long references, splitting a number over two lines."""
    words = text.split()
    found = _TOKEN.findall(text)
    for n in range(len(words)):
        for width in (2, 3):
            if n + width <= len(words):
                found += _TOKEN.findall("".join(words[n : n + width]))
    return found


def _numbers(entry: PaymentEntry, lookups: Lookups) -> list[OpenAmount]:
    tokens = _tokens(entry.reference) + _TOKEN.findall(entry.end_to_end_id or "")
    found: dict[str, OpenAmount] = {}
    for token in dict.fromkeys(tokens):
        document = lookups.open_number(token)
        if document is None and entry.amount.amount < 0:
            document = lookups.any_number(token)
        if document is not None and document.amount.currency == entry.amount.currency:
            found.setdefault(document.document_id, document)
    return list(found.values())


def match(
    entry: PaymentEntry, context: Lookups, rules: Sequence[MatchRule] = DEFAULT_RULES
) -> Match | str:
    """The :class:`Match` for *entry*, or the reason (a string) why there is none."""
    numbered = _numbers(entry, context)
    if numbered:
        accounts = {d.account_id for d in numbered}
        numbers = ", ".join(repr(d.number) for d in numbered)
        if len(accounts) > 1:
            return f"the reference names documents of several accounts ({numbers})"
        numbered.sort(key=lambda d: (d.since, d.document_id))
        return Match(
            numbered[0].account_id,
            tuple(d.document_id for d in numbered),
            f"document number {numbers} in the reference",
        )
    for rule in rules:
        for value in rule.values(entry):
            found = lookup(context, rule.target, value)
            if found is not None:
                account_id, documents = found
                return Match(account_id, documents, f"rule {rule.name!r} found {value!r}")
    if entry.amount.amount > 0:
        same = [
            d for d in context.open_documents() if d.amount == entry.amount and d.amount.amount > 0
        ]
        if len(same) == 1:
            return Match(
                same[0].account_id, (same[0].document_id,), "the only open amount equal to it"
            )
        if len(same) > 1:
            return f"no number or rule matched, and {len(same)} open documents have this amount"
    named = context.named(entry.payer_name or "")
    if len(named) == 1:
        return Match(next(iter(named)), (), f"payer name {entry.payer_name!r}")
    return "no document number, rule, amount or payer name matched"
