"""The plugin manager: built-in plugins plus those found through the ``juston`` entry points.

There is no global manager: :func:`make_plugin_manager` returns a fresh one, and code
talks to plugins through the typed :class:`Plugins` facade, never through ``pm.hook``.

    >>> plugins = Plugins.load(entry_points=False)
    >>> type(plugins.open_store("memory:")).__name__
    'MemoryStore'
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from datetime import date
from typing import cast

import pluggy

from . import hookspecs
from .errors import PluginError
from .model.billables import Billable
from .model.parties import Company
from .payments.base import PaymentProvider
from .render.base import Renderer
from .storage.base import Store
from .tax.result import TaxResolver

__all__ = ["DEFAULT_PLUGINS", "Plugins", "make_plugin_manager"]

#: Built-in plugins, registered exactly like third-party ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "juston.storage.memory",
    "juston.storage.sql",
    "juston.tax_provider",
    "juston.render.plugin",
    "juston.payments.plugin",
)


def make_plugin_manager(
    *, entry_points: bool = True, blocked: Iterable[str] = ()
) -> pluggy.PluginManager:
    """A new plugin manager with the built-in plugins and (optionally) installed ones.

    :param entry_points: also load plugins registered under the ``juston`` entry-point group.
    :param blocked: plugin names (module paths or entry-point names) not to load.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    try:
        for name in DEFAULT_PLUGINS:
            if not pm.is_blocked(name):
                pm.register(importlib.import_module(name), name=name)
        if entry_points:
            pm.load_setuptools_entrypoints(hookspecs.PROJECT)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r}: {exc}") from exc
    except Exception as exc:  # an entry point that fails to import
        raise PluginError(f"a juston plugin failed to load: {exc!r}") from exc
    return pm


class Plugins:
    """Typed access to the hooks of one plugin manager."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    @classmethod
    def load(cls, *, entry_points: bool = True, blocked: Iterable[str] = ()) -> Plugins:
        return cls(make_plugin_manager(entry_points=entry_points, blocked=blocked))

    def open_store(self, url: str) -> Store:
        """The store for *url* from the first plugin that handles it."""
        store = self.pm.hook.juston_open_store(url=url)
        if store is None:
            raise PluginError(f"url: no storage plugin handles {url!r}")
        return cast(Store, store)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object (a module or an instance with ``@hookimpl`` methods)."""
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"plugin {plugin!r}: {exc}") from exc

    @property
    def has_billables(self) -> bool:
        """Whether any plugin implements ``juston_billables``."""
        return bool(self.pm.hook.juston_billables.get_hookimpls())

    def billables(
        self, account_ids: Sequence[str], billing_date: date
    ) -> dict[str, list[Billable]]:
        """What the ``juston_billables`` implementations bill for *account_ids*, by account."""
        found: dict[str, list[Billable]] = {account_id: [] for account_id in account_ids}
        for answer in self.pm.hook.juston_billables(
            account_ids=account_ids, billing_date=billing_date
        ):
            for billable in answer or ():
                if not isinstance(billable, Billable):
                    raise PluginError(f"juston_billables: {billable!r} is not a Billable")
                if billable.account_id in found:
                    found[billable.account_id].append(billable)
        return found

    def renderers(self) -> dict[str, Renderer]:
        """Every renderer the plugins offer, by name (a later plugin's wins a name)."""
        found: dict[str, Renderer] = {}
        # pluggy answers the last registered plugin first.
        for answer in self.pm.hook.juston_renderers():
            for renderer in answer or ():
                if not isinstance(renderer, Renderer):
                    raise PluginError(f"juston_renderers: {renderer!r} is not a Renderer")
                found.setdefault(renderer.name, renderer)
        return found

    def renderer(self, name: str) -> Renderer:
        """The renderer called *name*; PluginError naming the ones there are if none is."""
        renderers = self.renderers()
        if name not in renderers:
            raise PluginError(
                f"format: no renderer {name!r}; there are {', '.join(sorted(renderers))}"
            )
        return renderers[name]

    def providers(self) -> dict[str, PaymentProvider]:
        """Every payment provider the plugins offer, by name (a later plugin's wins a name)."""
        found: dict[str, PaymentProvider] = {}
        # pluggy answers the last registered plugin first.
        for answer in self.pm.hook.juston_payment_providers():
            for provider in answer or ():
                if not isinstance(provider, PaymentProvider):
                    raise PluginError(
                        f"juston_payment_providers: {provider!r} is not a PaymentProvider"
                    )
                found.setdefault(provider.name, provider)
        return found

    def provider(self, name: str) -> PaymentProvider:
        """The payment provider called *name*; PluginError naming the ones there are if none is."""
        providers = self.providers()
        if name not in providers:
            raise PluginError(
                f"payment_method: no provider {name!r}; there are {', '.join(sorted(providers))}"
            )
        return providers[name]

    def tax_provider(self, company: Company) -> TaxResolver:
        """The tax provider for *company*: an installed plugin's, else the built-in engine."""
        provider = self.pm.hook.juston_tax_provider(company=company)
        if provider is None:
            raise PluginError(f"tax: no tax provider plugin for company {company.id!r}")
        return cast(TaxResolver, provider)
