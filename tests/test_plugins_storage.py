"""Plugin discovery and the memory store's transactions."""

from __future__ import annotations

from datetime import date

import pytest

import juston
from juston import MemoryStore, NotFound, PluginError, Plugins, hookimpl, make_plugin_manager
from juston.testing import sample_company, sample_store


def test_builtin_memory_plugin_opens_memory_urls() -> None:
    assert isinstance(juston.open_store("memory:"), MemoryStore)


def test_unknown_url_is_a_plugin_error_naming_it() -> None:
    with pytest.raises(PluginError, match="nosuch:"):
        Plugins.load(entry_points=False).open_store("nosuch://x")


def test_blocked_builtin_plugin_is_not_loaded() -> None:
    plugins = Plugins(make_plugin_manager(entry_points=False, blocked=["juston.storage.memory"]))
    with pytest.raises(PluginError):
        plugins.open_store("memory:")


def test_a_third_party_storage_plugin_takes_its_urls() -> None:
    class Mine(MemoryStore):
        pass

    class Plugin:
        @hookimpl
        def juston_open_store(self, url: str) -> MemoryStore | None:
            return Mine() if url.startswith("mine:") else None

    pm = make_plugin_manager(entry_points=False)
    pm.register(Plugin())
    plugins = Plugins(pm)
    assert isinstance(plugins.open_store("mine:x"), Mine)
    assert type(plugins.open_store("memory:")) is MemoryStore


def test_managers_are_independent() -> None:
    first, second = make_plugin_manager(entry_points=False), make_plugin_manager(entry_points=False)
    first.register(object(), name="extra")
    assert second.get_plugin("extra") is None


def test_a_failed_transaction_writes_nothing() -> None:
    store = sample_store(accounts=2)
    before = list(store.documents())
    store_without_company = MemoryStore()
    with pytest.raises(RuntimeError), store_without_company.transaction() as tx:
        tx.put_company(sample_company())
        assert tx.next_number("x") == 1
        raise RuntimeError("boom")
    with store_without_company.transaction() as tx:
        assert tx.next_number("x") == 1
    with pytest.raises(NotFound):
        store_without_company.company()
    assert list(store.documents()) == before


def test_a_run_that_fails_to_store_leaves_no_documents() -> None:
    store = sample_store(accounts=3)

    original = store.transaction

    def failing():  # type: ignore[no-untyped-def]
        context = original()

        class Wrapper:
            def __enter__(self):  # type: ignore[no-untyped-def]
                tx = context.__enter__()
                tx.add_document = lambda document: (_ for _ in ()).throw(RuntimeError("disk full"))
                return tx

            def __exit__(self, *exc):  # type: ignore[no-untyped-def]
                return context.__exit__(*exc)

        return Wrapper()

    store.transaction = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        juston.invoice_run(store, date(2026, 1, 1))
    store.transaction = original  # type: ignore[method-assign]
    assert list(store.documents()) == []


def test_missing_records_raise_not_found() -> None:
    store = MemoryStore()
    with pytest.raises(NotFound):
        store.company()
    with pytest.raises(NotFound, match="C-9"):
        store.account("C-9")
    with pytest.raises(NotFound):
        store.document("D1")


def test_a_plugin_with_a_wrong_argument_name_is_a_plugin_error() -> None:
    class Bad:
        @hookimpl
        def juston_open_store(self, uri: str) -> None:
            return None

    import juston.plugins as plugins_module

    original = plugins_module.DEFAULT_PLUGINS
    plugins_module.DEFAULT_PLUGINS = ("tests_bad_plugin",)
    import sys
    import types

    module = types.ModuleType("tests_bad_plugin")
    module.juston_open_store = Bad().juston_open_store  # type: ignore[attr-defined]
    sys.modules["tests_bad_plugin"] = module
    try:
        with pytest.raises(PluginError, match="uri"):
            make_plugin_manager(entry_points=False)
    finally:
        plugins_module.DEFAULT_PLUGINS = original
        del sys.modules["tests_bad_plugin"]
