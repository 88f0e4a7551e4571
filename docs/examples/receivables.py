"""Getting paid: a payment, an overpayment, a chargeback and a write-off, end to end."""

from datetime import date

import juston
from juston import PaymentEntry, money

store = juston.testing.sample_store(accounts=1)
run = juston.invoice_run(store, date(2026, 1, 1))
[january] = juston.finalize(store, run.documents)
account = january.account_id
print(january.number, january.total)

# The bank reports 100.00 whose reference names the invoice: it pays the invoice, and
# the 20.40 over stays on the account.
entry = juston.register_payment(
    store,
    PaymentEntry(
        id="bank-2026-0001",
        amount=money("100.00", "EUR"),
        booking_date=date(2026, 1, 9),
        reference=f"Invoice {january.number}, thank you",
    ),
)
print(entry.status.value, "-", entry.reason)
print(juston.document_state(store, january))
print("account:", juston.balance_of(store, account))

# The next invoice consumes the money on the account when it is finalized.
[february] = juston.finalize(store, juston.invoice_run(store, date(2026, 2, 1)).documents)
print(february.number, february.total, "open:", juston.document_state(store, february).open)

# The customer's bank takes the January payment back and charges 3.50 for it.
juston.chargeback(
    store, january, money("79.60", "EUR"), on=date(2026, 2, 3), fee=money("3.50", "EUR")
)
print(
    january.number,
    juston.document_state(store, january).status.value,
    juston.document_state(store, january).open,
)

# A small remainder is written off, with a reason.
juston.write_off(store, january, money("3.50", "EUR"), on=date(2026, 2, 10), reason="goodwill")
for item in juston.open_items(store, account, as_of=date(2026, 2, 28)):
    print(item.document.number, item.open, f"{item.days_overdue} days overdue")
print("account on 28 Feb:", juston.balance_of(store, account, as_of=date(2026, 2, 28)))
