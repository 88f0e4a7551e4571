"""The built-in payment providers, registered like any plugin's; and a way to register
provider objects of your own without writing a plugin module.

    >>> from juston import Plugins
    >>> sorted(Plugins.load(entry_points=False).providers())
    ['bank_transfer', 'sepa_direct_debit']
"""

from __future__ import annotations

from collections.abc import Iterable

from ..hookspecs import hookimpl
from .base import PaymentProvider
from .passive import BANK_TRANSFER, SEPA_DIRECT_DEBIT

__all__ = ["ProviderPlugin", "juston_payment_providers"]


@hookimpl
def juston_payment_providers() -> list[PaymentProvider]:
    """Bank transfer and SEPA direct debit."""
    return [BANK_TRANSFER, SEPA_DIRECT_DEBIT]


class ProviderPlugin:
    """A plugin that offers the given provider objects (tests, scripts, an app that
    builds its provider with its own credentials)::

        plugins.register(ProviderPlugin(MyProvider(api_key=...)))
    """

    def __init__(self, *providers: PaymentProvider) -> None:
        self.providers = providers

    @hookimpl
    def juston_payment_providers(self) -> Iterable[PaymentProvider]:
        return self.providers
