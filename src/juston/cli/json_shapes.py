"""The JSON the ``juston`` command prints with ``--json``: one function per shape (an
account, a document and its summary, a subscription with its items, prices and discounts),
each turning a model object into plain dicts, lists and strings (amounts as exact decimal
strings) ready for :func:`json.dumps`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model.documents import Invoice, Line
from ..model.parties import Account, Address, Company
from ..model.subscriptions import Item, ItemChange, Subscription
from ..periods import Period
from ..pricing.discounts import Discount
from ..pricing.models import (
    Flat,
    Graduated,
    MinimumFee,
    Package,
    Percentage,
    PerUnit,
    PriceSchedule,
    Tier,
    Volume,
)
from ..receivables.ledger import PaymentState
from ..storage import codec
from .render import describe_price, plain

__all__ = ["account_json", "document_json", "document_summary_json", "subscription_json"]


def _period_json(period: Period | None) -> dict[str, str] | None:
    if period is None:
        return None
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "last_day": period.last_day.isoformat(),
    }


def _address_json(address: Address | None) -> dict[str, str | None] | None:
    return None if address is None else codec.unstructure(address, Address)


def _company_json(company: Company) -> dict[str, object]:
    return {
        "id": company.id,
        "name": company.name,
        "address": _address_json(company.address),
        "vat_id": company.vat_id,
        "tax_number": company.tax_number,
    }


def account_json(account: Account) -> dict[str, object]:
    return {
        "id": account.id,
        "name": account.name,
        "vat_id": account.vat_id,
        "country": account.country,
        "currency": account.currency.code,
        "language": account.language,
        "email": account.email,
        "payment_terms": None if account.payment_terms is None else account.payment_terms.pattern,
        "billing_address": _address_json(account.billing_address),
        "legal_address": _address_json(account.legal_address),
        "shipping_address": _address_json(account.shipping_address),
    }


def document_summary_json(
    document: Invoice, state: PaymentState | None = None
) -> dict[str, object]:
    """The document's header; with its *state*, the derived status (paid …), the open
    amount and the payment date."""
    paid = {}
    if state is not None:
        paid = {
            "open": plain(state.open.amount),
            "paid_on": None if state.paid_on is None else state.paid_on.isoformat(),
        }
    return {
        "id": document.id,
        "number": document.number,
        "kind": document.kind.value,
        "status": (state.status if state else document.status).value,
        **paid,
        "account_id": document.account_id,
        "account_name": document.buyer.name,
        "currency": document.currency.code,
        "invoice_date": document.invoice_date.isoformat(),
        "due_date": document.due_date.isoformat(),
        "billing_date": document.billing_date.isoformat(),
        "service_period": _period_json(document.service_period),
        "net": plain(document.net_total.amount),
        "tax": plain(document.tax_total.amount),
        "total": plain(document.total.amount),
        "run_id": document.run_id,
        "cancels": document.cancels,
        "cancelled_by": document.cancelled_by,
    }


def _line_json(line: Line) -> dict[str, object]:
    return {
        "description": line.description,
        "period": _period_json(line.period),
        "quantity": plain(line.quantity),
        "unit_code": line.unit_code,
        "unit_price": plain(line.unit_price_amount),
        "billing_factor": plain(line.billing_factor),
        "discount": plain(line.discount_amount),
        "net": plain(line.net_amount),
        "tax_category": line.vat.category,
        "tax_rate": plain(line.vat.rate),
        "tax": plain(line.tax_amount),
        "explanation": line.explanation,
        "subscription": line.subscription,
        "item_id": line.item_id,
        "product_code": line.product_code,
    }


def document_json(document: Invoice, state: PaymentState | None = None) -> dict[str, object]:
    return {
        **document_summary_json(document, state),
        "seller": _company_json(document.seller),
        "buyer": account_json(document.buyer),
        "payment_terms": document.payment_terms.pattern,
        "subscriptions": list(document.subscriptions),
        "lines": [_line_json(line) for line in document.lines],
        "tax_breakdown": [
            {
                "category": s.category,
                "rate": plain(s.rate),
                "basis": plain(s.basis.amount),
                "tax": plain(s.tax.amount),
                "exemption_code": s.exemption_code,
                "exemption_reason": s.exemption_reason,
            }
            for s in document.tax_breakdown
        ],
        "tax_delta": plain(document.tax_delta.amount),
        "notices": list(document.notices),
    }


def _tiers_json(tiers: Sequence[Tier]) -> list[dict[str, str | None]]:
    return [
        {
            "up_to": None if t.up_to is None else plain(t.up_to),
            "unit_price": None if t.unit_price is None else plain(t.unit_price.amount),
            "flat": None if t.flat is None else plain(t.flat.amount),
        }
        for t in tiers
    ]


def _price_json(pricing: object) -> dict[str, object]:
    text = describe_price(pricing)
    if isinstance(pricing, Flat):
        return {"model": "flat", "amount": plain(pricing.amount.amount), "text": text}
    if isinstance(pricing, PerUnit):
        return {"model": "per_unit", "unit_price": plain(pricing.unit_price.amount), "text": text}
    if isinstance(pricing, Graduated | Volume):
        model = "graduated" if isinstance(pricing, Graduated) else "volume"
        return {"model": model, "tiers": _tiers_json(pricing.tiers), "text": text}
    if isinstance(pricing, Package):
        return {
            "model": "package",
            "block_price": plain(pricing.block_price.amount),
            "size": plain(pricing.size),
            "text": text,
        }
    if isinstance(pricing, Percentage):
        return {"model": "percentage", "rate": plain(pricing.rate), "text": text}
    if isinstance(pricing, MinimumFee):
        return {"model": "minimum_fee", "minimum": plain(pricing.minimum.amount), "text": text}
    if isinstance(pricing, PriceSchedule):
        entries = [{"from": d.isoformat(), "price": _price_json(m)} for d, m in pricing.entries]
        return {"model": "schedule", "entries": entries, "text": text}
    return {"model": type(pricing).__name__, "text": text}


def _discount_json(discount: Discount | None) -> dict[str, str | None] | None:
    if discount is None:
        return None
    return {
        "percent": None if discount.percent is None else plain(discount.percent),
        "amount": None if discount.amount is None else plain(discount.amount.amount),
        "start": None if discount.start is None else discount.start.isoformat(),
        "end": None if discount.end is None else discount.end.isoformat(),
    }


def _change_json(change: ItemChange) -> dict[str, object]:
    return {
        "effective": change.effective.isoformat(),
        "quantity": None if change.quantity is None else plain(change.quantity),
        "price": None if change.price is None else _price_json(change.price),
    }


def _item_json(item: Item) -> dict[str, object]:
    return {
        "id": item.id,
        "product": codec.unstructure(item.product),
        "description": item.description,
        "price": _price_json(item.price),
        "currency": item.price.currency.code,
        "quantity": plain(item.quantity),
        "billing_type": item.billing_type.value,
        "practice": item.practice.value,
        "start": None if item.start is None else item.start.isoformat(),
        "end": None if item.end is None else item.end.isoformat(),
        "discount": _discount_json(item.discount),
        "changes": [_change_json(c) for c in item.changes],
    }


def subscription_json(subscription: Subscription) -> dict[str, object]:
    return {
        "number": subscription.number,
        "account_id": subscription.account_id,
        "status": subscription.status.value,
        "start": subscription.start.isoformat(),
        "end": None if subscription.end is None else subscription.end.isoformat(),
        "billing_period": str(subscription.billing_period),
        "alignment": subscription.alignment.value,
        "currency": None if subscription.currency is None else subscription.currency.code,
        "payment_terms": (
            None if subscription.payment_terms is None else subscription.payment_terms.pattern
        ),
        "items": [_item_json(item) for item in subscription.items],
    }
