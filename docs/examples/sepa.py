"""SEPA direct debit end to end: a mandate, a pain.008 file, submitting it, a return."""

from datetime import date

import attrs

import juston
from juston import money
from juston.model.mandates import Mandate
from juston.payments import return_debit, sepa_batch, submit_sepa_batch

store = juston.testing.sample_store(accounts=1)
with store.transaction() as tx:
    # The company collects under its creditor id; the customer pays by direct debit
    # and has signed a mandate.
    tx.put_company(attrs.evolve(tx.company(), creditor_id="DE98ZZZ09999999999"))
    account = attrs.evolve(tx.account("C0000001"), payment_method="sepa_direct_debit")
    tx.put_account(account)
    tx.put_mandate(
        Mandate(
            reference="M-0001",
            account_id=account.id,
            iban="DE89 3704 0044 0532 0130 00",
            signed_on=date(2025, 12, 1),
        )
    )
[invoice] = juston.finalize(store, juston.invoice_run(store, date(2026, 1, 1)).documents)
print(invoice.number, invoice.total, "due", invoice.due_date)

# On 2 January: the file for a collection on 16 January (14 days of pre-notification).
batch = sepa_batch(
    store, as_of=date(2026, 1, 2), collection_date=date(2026, 1, 16), message_id="NW-2026-01"
)
for debit in batch.debits:
    print(debit.end_to_end_id, debit.sequence, debit.amount, "mandate", debit.mandate.reference)
print("total", batch.total, "skipped", len(batch.skipped))

# Upload batch.xml to the bank (e.g. Path("NW-2026-01.xml").write_bytes(batch.xml)),
# then book it: a payment entry and payment per debit, dated the collection date.
print("submitted:", submit_sepa_batch(store, batch))
print("again:", submit_sepa_batch(store, batch))
state = juston.document_state(store, invoice)
print(invoice.number, state.status.value, "open", state.open)

# The debtor's bank returns the debit (AM04: insufficient funds) and charges 3.00.
returned = return_debit(
    store, invoice.number, invoice.total, on=date(2026, 1, 21), reason_code="AM04",
    fee=money("3.00", "EUR"),
)  # fmt: skip
print("returned:", returned)
state = juston.document_state(store, invoice)
print(invoice.number, state.status.value, "open", state.open)
