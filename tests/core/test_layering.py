"""Imports point inward (DESIGN.md): protocols and providers never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src" / "pushrelay"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name for name in names if name.startswith("pushrelay")}


def modules_under(folder: str) -> list[Path]:
    return sorted((SRC / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("protocols"), ids=lambda p: str(p.relative_to(SRC)))
def test_protocol_adapters_never_import_providers(path: Path) -> None:
    forbidden = {m for m in imported_modules(path) if m.startswith("pushrelay.providers")}
    assert not forbidden, f"{path.name} imports {forbidden}: move the decision into the Relay"


@pytest.mark.parametrize("path", modules_under("providers"), ids=lambda p: str(p.relative_to(SRC)))
def test_providers_never_import_protocols_or_the_store(path: Path) -> None:
    forbidden = {
        m
        for m in imported_modules(path)
        if m.startswith(("pushrelay.protocols", "pushrelay.store", "pushrelay.relay"))
    }
    assert not forbidden, f"{path.name} imports {forbidden}"


@pytest.mark.parametrize(
    "core", ["domain.py", "errors.py", "secrets.py", "dispatch.py", "relay.py"], ids=lambda name: name
)
def test_the_core_never_imports_protocols(core: str) -> None:
    assert not {m for m in imported_modules(SRC / core) if m.startswith("pushrelay.protocols")}


def test_the_domain_imports_nothing_of_ours() -> None:
    assert imported_modules(SRC / "domain.py") == set()
