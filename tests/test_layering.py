"""The layers stay apart: read every module's imports and check who reaches whom.

* ``muxsim.lang`` (the shared language) imports only the standard library
  and itself: never SimPy, never a backend, never the CLI.
* ``muxsim.model`` imports the standard library, SimPy, itself and the language.
* ``realmux`` imports the standard library, itself and ``muxsim.lang``:
  never the model (``muxsim.model``) nor any other part of ``muxsim``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported by ``path``, relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module or "")
                continue
            parts = package.split(".") if package else []
            base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
            found.add(".".join([*base, *([node.module] if node.module else [])]))
    return found


def stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("muxsim/lang"), ids=lambda p: p.name)
def test_language_imports_only_itself_and_the_stdlib(path: Path) -> None:
    bad = {m for m in imports_of(path) if not stdlib(m) and not m.startswith("muxsim.lang")}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("realmux"), ids=lambda p: p.name)
def test_realmux_imports_only_the_language(path: Path) -> None:
    bad = {m for m in imports_of(path)
           if not stdlib(m) and not m.startswith(("realmux", "muxsim.lang"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_checker_catches_a_violation() -> None:
    bad = ROOT / "muxsim" / "lang" / "_layering_probe.py"
    bad.write_text("import simpy\nfrom muxsim.model import kernel\nfrom ..model import tasks\n"
                   "from . import masks\n")
    try:
        # ..model resolves to muxsim.model: the relative import is caught too.
        assert imports_of(bad) == {"simpy", "muxsim.model", "muxsim.lang"}
        assert not stdlib("simpy")
    finally:
        bad.unlink()


@pytest.mark.parametrize("path", modules("muxsim/model"), ids=lambda p: p.name)
def test_model_imports_only_the_language_simpy_and_itself(path: Path) -> None:
    bad = {m for m in imports_of(path)
           if not stdlib(m) and m != "simpy" and not m.startswith(("muxsim.lang", "muxsim.model"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"
