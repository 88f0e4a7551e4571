"""Hook specifications: the contract between juston and its plugins.

A plugin is a module or object with functions marked ``@juston.hookimpl`` whose names
and argument names match the specifications below (an implementation may take fewer
arguments). Register it in your package's metadata so juston finds it::

    [project.entry-points.juston]
    my_backend = "my_package.juston_plugin"

and implement, for example::

    from juston import hookimpl

    @hookimpl
    def juston_open_store(url):
        if url.startswith("mydb:"):
            return MyStore(url)
        return None

Adding an argument to a hook is compatible; renaming one is a breaking change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import date

    from .model.billables import Billable
    from .model.parties import Company
    from .payments.base import PaymentProvider
    from .render.base import Renderer
    from .storage.base import Store
    from .tax.result import TaxResolver

__all__ = [
    "hookimpl",
    "hookspec",
    "juston_billables",
    "juston_open_store",
    "juston_payment_providers",
    "juston_renderers",
    "juston_tax_provider",
]

PROJECT = "juston"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Marks a plugin's hook implementation.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def juston_open_store(url: str) -> Store | None:
    """Open the store that *url* names, or return ``None`` to let another plugin try.

    :param url: a backend URL such as ``memory:`` or ``sqlite:///billing.db``.
    """


@hookspec(firstresult=True)
def juston_tax_provider(company: Company) -> TaxResolver | None:
    """The tax provider for documents issued by *company*, or ``None`` to let another plugin decide.

    The built-in engine (``juston.tax_provider``) answers last, so an installed plugin (an
    external tax service) takes precedence; block ``juston.tax_provider`` to require one.

    :param company: the issuing business entity.
    """


@hookspec
def juston_billables(account_ids: Sequence[str], billing_date: date) -> Iterable[Billable] | None:
    """Charges from records of the host application for these accounts, to bill in a run.

    Every implementation is asked (once per batch of accounts); return the billables of
    *account_ids* that are due by *billing_date* (others are ignored), or ``None``.
    Return a record's billable again in later runs while it exists: the run bills each
    (source, key) once, and bills it again only if what billed it was cancelled or
    deleted. :class:`juston.BillableMapping` turns records into billables.

    :param account_ids: the accounts of the batch being billed.
    :param billing_date: the run's billing date.
    """


@hookspec
def juston_renderers() -> Iterable[Renderer] | None:
    """The document renderers this plugin offers.

    Every implementation is asked; a renderer of a plugin registered later replaces a
    built-in one of the same name, so a plugin can restyle ``html`` or add ``avalara``.
    See :class:`juston.render.base.Renderer`.
    """


@hookspec
def juston_payment_providers() -> Iterable[PaymentProvider] | None:
    """The payment providers this plugin offers (see :class:`juston.payments.PaymentProvider`).

    Every implementation is asked; a provider of a plugin registered later replaces a
    built-in one of the same name. An account's ``payment_method`` picks one by name.
    """
