"""The house rules of design.md, checked on the source itself."""

from __future__ import annotations

import ast
import pathlib

import juston

SRC = pathlib.Path(juston.__file__).parent
CORE = [
    "model",
    "pricing",
    "tax",
    "periods.py",
    "rounding.py",
    "money.py",
    "billing/plan.py",
    "receivables/ledger.py",
    "receivables/matching.py",
    "dunning/decide.py",
    "dunning/interest.py",
    "payments/base.py",
    "payments/due.py",
    "payments/pain008.py",
    "errors.py",
    "vatid.py",
]
SHELL_MODULES = {
    "pluggy",
    "jinja2",
    "juston.storage",
    "juston.plugins",
    "juston.hookspecs",
    "juston.billing.run",
}


def _modules(paths: list[str]) -> list[pathlib.Path]:
    files: list[pathlib.Path] = []
    for path in paths:
        target = SRC / path
        files.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return files


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            else:
                names.add(node.module or "")
    return names


def test_only_the_rounding_module_quantizes() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if ".quantize(" in path.read_text(encoding="utf-8") and path.name != "rounding.py"
    ]
    assert offenders == []


def test_the_core_imports_no_shell() -> None:
    for path in _modules(CORE):
        bad = {
            name
            for name in _imports(path)
            if any(name == s or name.startswith(s + ".") for s in SHELL_MODULES)
        }
        assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_nothing_in_the_library_reads_the_clock() -> None:
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in ("date.today(", "datetime.now(", "datetime.utcnow(", "time.time("):
            assert call not in text, f"{path.relative_to(SRC)} calls {call}"


def test_no_float_annotations_in_the_library() -> None:
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "float" and isinstance(node.ctx, ast.Load):
                parent_ok = path.name in ("errors.py", "money.py")  # they name float to reject it
                assert parent_ok, f"{path.relative_to(SRC)} mentions float at line {node.lineno}"


def test_public_api_is_sorted_importable_and_documented() -> None:
    assert list(juston.__all__) == sorted(juston.__all__)
    for name in juston.__all__:
        value = getattr(juston, name)
        if callable(value) or isinstance(value, type):
            assert (value.__doc__ or "").strip(), f"juston.{name} has no docstring"


def test_package_ships_py_typed() -> None:
    assert (SRC / "py.typed").exists()
