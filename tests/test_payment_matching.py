"""Matching payment entries (pure): JustOn's order, rules, and the reasons given."""

from __future__ import annotations

from datetime import date

import pytest

from juston import Account, Address, BankAccount, money
from juston.errors import ValidationError
from juston.model.mandates import Mandate
from juston.model.receivables import OpenAmount, PaymentEntry
from juston.receivables import Match, MatchContext, MatchRule, match

DAY = date(2026, 3, 1)
ADDRESS = Address(street="Ring 2", postcode="80331", city="München", country="DE")


def opened(document_id, account_id, amount, number, day=DAY):
    return OpenAmount(document_id, account_id, money(amount, "EUR"), day, number)


def account(account_id, name, iban=None):
    bank = BankAccount(iban=iban) if iban else None
    return Account(
        id=account_id, name=name, billing_address=ADDRESS, currency="EUR", bank_account=bank
    )


CONTEXT = MatchContext.build(
    [
        opened("D1", "A", "100.00", "INV-2026-00001", date(2026, 1, 1)),
        opened("D2", "A", "50.00", "INV-2026-00002", date(2026, 2, 1)),
        opened("D3", "B", "50.00", "INV-2026-00003"),
    ],
    [account("A", "Kunde AG", "DE89 3704 0044 0532 0130 00"), account("B", "Firma GmbH")],
    [Mandate(reference="M-7", account_id="B", iban="DE02120300000000202051", signed_on=DAY)],
)


def entry(amount="10.00", reference="", **kw):
    return PaymentEntry(
        id="E", amount=money(amount, "EUR"), booking_date=DAY, reference=reference, **kw
    )


def test_a_number_wrapped_by_the_bank_is_still_found():
    found = match(entry(reference="Rechnung INV-2026-\n00002 danke"), CONTEXT)
    assert found == Match("A", ("D2",), "document number 'INV-2026-00002' in the reference")


def test_two_numbers_of_one_account_are_paid_oldest_first():
    found = match(entry(reference="INV-2026-00002 + INV-2026-00001"), CONTEXT)
    assert isinstance(found, Match) and found.document_ids == ("D1", "D2")


def test_numbers_of_two_accounts_are_not_guessed():
    found = match(entry(reference="INV-2026-00001 INV-2026-00003"), CONTEXT)
    assert (
        found
        == "the reference names documents of several accounts ('INV-2026-00001', 'INV-2026-00003')"
    )


def test_the_end_to_end_id_counts_as_reference():
    found = match(entry(end_to_end_id="INV-2026-00003"), CONTEXT)
    assert isinstance(found, Match) and found.document_ids == ("D3",)


def test_iban_mandate_and_name_rules():
    by_iban = match(entry(payer_iban="de89 3704 0044 0532 0130 00"), CONTEXT)
    assert by_iban == Match("A", (), "rule 'payer IBAN' found 'de89 3704 0044 0532 0130 00'")
    by_mandate = match(entry(mandate_reference="M-7"), CONTEXT)
    assert by_mandate == Match("B", (), "rule 'mandate reference' found 'M-7'")
    by_name = match(entry(payer_name="FIRMA GMBH"), CONTEXT)
    assert by_name == Match("B", (), "payer name 'FIRMA GMBH'")


def test_amount_heuristic_only_when_unique():
    assert match(entry("100.00"), CONTEXT) == Match(
        "A", ("D1",), "the only open amount equal to it"
    )
    assert match(entry("50.00"), CONTEXT) == (
        "no number or rule matched, and 2 open documents have this amount"
    )


def test_rules_replace_the_shipped_ones():
    rule = MatchRule("customer number", r"Kd\.?\s*Nr\.?\s*(\w+)", target="account")
    assert match(entry(reference="Kd. Nr. B"), CONTEXT, [rule]) == Match(
        "B", (), "rule 'customer number' found 'B'"
    )
    assert isinstance(match(entry(reference="A"), CONTEXT, [rule]), str)


@pytest.mark.parametrize("pattern", ["(", "(a)(b)", ""])
def test_a_bad_rule_names_its_pattern(pattern):
    with pytest.raises(ValidationError, match="pattern"):
        MatchRule("bad", pattern)


def test_a_longer_number_is_not_taken_for_a_shorter_one():
    found = match(entry("7.00", reference="INV-2026-000011 and 2026-000021"), CONTEXT)
    assert found == "no document number, rule, amount or payer name matched"
