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
from typing import Any, Literal

import attrs

from .._fields import check_text
from ..errors import ValidationError
from ..model.mandates import Mandate
from ..model.parties import Account
from ..model.receivables import OpenAmount, PaymentEntry

__all__ = ["DEFAULT_RULES", "Match", "MatchContext", "MatchRule", "match"]

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


def _compact_iban(value: str) -> str:
    return "".join(value.split()).upper()


@attrs.frozen
class MatchContext:
    """What entries are matched against: the open documents and the accounts."""

    open_by_number: Mapping[str, OpenAmount]
    open_documents: Sequence[OpenAmount]
    accounts: Mapping[str, str]  # id → id (exact and case-folded ids)
    by_iban: Mapping[str, frozenset[str]]
    by_mandate: Mapping[str, str]
    by_name: Mapping[str, frozenset[str]]
    number_lengths: frozenset[int] = frozenset()
    #: Finds any finalized document by number, open or not: money going out (a returned
    #: payment) names a document that is paid.
    any_number: Callable[[str], OpenAmount | None] = lambda number: None

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
                by_iban.setdefault(_compact_iban(account.bank_account.iban), set()).add(account.id)
        by_mandate = {}
        for mandate in mandates:
            by_mandate[mandate.reference] = mandate.account_id
            by_iban.setdefault(mandate.iban, set()).add(mandate.account_id)
        return cls(
            open_by_number={o.number: o for o in opens if o.number},
            open_documents=opens,
            accounts=ids,
            by_iban={k: frozenset(v) for k, v in by_iban.items()},
            by_mandate=by_mandate,
            by_name={k: frozenset(v) for k, v in by_name.items()},
            number_lengths=frozenset(len(o.number) for o in opens if o.number),
            any_number=any_number or (lambda number: None),
        )

    def lookup(self, target: Target, value: str) -> tuple[str, tuple[str, ...]] | None:
        """The (account, documents) that *value* names as a *target*, if exactly one."""
        if target == "document":
            found = self.open_by_number.get(value)
            return (found.account_id, (found.document_id,)) if found else None
        if target == "account":
            account_id = self.accounts.get(value) or self.accounts.get(value.casefold())
            return (account_id, ()) if account_id else None
        if target == "mandate":
            account_id = self.by_mandate.get(value)
            return (account_id, ()) if account_id else None
        owners = self.by_iban.get(_compact_iban(value), frozenset())
        return (next(iter(owners)), ()) if len(owners) == 1 else None


def _wrapped(text: str, context: MatchContext) -> Iterable[str]:
    """Open document numbers inside *text* with its spaces and line breaks removed (banks
    wrap long references), where digits do not run on before or after the number."""
    compact = "".join(text.split())
    for length in context.number_lengths:
        for start in range(len(compact) - length + 1):
            candidate = compact[start : start + length]
            if candidate in context.open_by_number:
                before = compact[start - 1 : start]
                after = compact[start + length : start + length + 1]
                if not (before.isdigit() and candidate[0].isdigit()) and not (
                    after.isdigit() and candidate[-1].isdigit()
                ):
                    yield candidate


def _numbers(entry: PaymentEntry, context: MatchContext) -> list[OpenAmount]:
    tokens = _TOKEN.findall(entry.reference) + _TOKEN.findall(entry.end_to_end_id or "")
    tokens += _wrapped(entry.reference, context)
    found: dict[str, OpenAmount] = {}
    for token in tokens:
        document = context.open_by_number.get(token)
        if document is None and entry.amount.amount < 0:
            document = context.any_number(token)
        if document is not None and document.amount.currency == entry.amount.currency:
            found.setdefault(document.document_id, document)
    return list(found.values())


def match(
    entry: PaymentEntry, context: MatchContext, rules: Sequence[MatchRule] = DEFAULT_RULES
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
            found = context.lookup(rule.target, value)
            if found is not None:
                account_id, documents = found
                return Match(account_id, documents, f"rule {rule.name!r} found {value!r}")
    if entry.amount.amount > 0:
        same = [
            d for d in context.open_documents if d.amount == entry.amount and d.amount.amount > 0
        ]
        if len(same) == 1:
            return Match(
                same[0].account_id, (same[0].document_id,), "the only open amount equal to it"
            )
        if len(same) > 1:
            return f"no number or rule matched, and {len(same)} open documents have this amount"
    named = context.by_name.get((entry.payer_name or "").casefold(), frozenset())
    if len(named) == 1:
        return Match(next(iter(named)), (), f"payer name {entry.payer_name!r}")
    return "no document number, rule, amount or payer name matched"
