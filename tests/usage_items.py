"""Usage items the usage tests add to the sample data."""

from __future__ import annotations

from juston import Item, LatePolicy, Metric, PerUnit, Product, Store, money


def add_rejecting_item(store: Store) -> str:
    """Add an item that rejects late usage to subscription S-1 of account C00001; return
    the reference rows name it by."""
    with store.transaction() as tx:
        subscription = tx.subscriptions("C00001")[0]
        item = Item(
            id="ev",
            product=Product(code="EV", name="Events"),
            price=PerUnit(money(1, "EUR")),
            billing_type="usage",
            metric=Metric(late=LatePolicy.REJECT),
        )
        tx.put_subscription(subscription.with_item(item))
    return "S-1/ev"
