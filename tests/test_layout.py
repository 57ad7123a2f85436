"""The layout holds: no import circle, `rules` never imports `bot`, and every package's docstring
says what it may import, which its modules then do."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rules", "render", "bot")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module `path` imports, anywhere in it (function bodies and TYPE_CHECKING
    blocks included: a lazy import is still an arrow)."""
    found: set[str] = set()
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != here:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_rules_or_bot():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_rules_never_import_bot():
    offenders = {
        name: sorted(dep for dep in deps if dep.split(".")[0] == "bot")
        for name, deps in graph().items()
        if name.split(".")[0] == "rules"
    }
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def test_render_imports_only_rules():
    """The render stage sits between the snapshot and the rules: it may use `rules`, and the
    App and the CLI use it; it never reaches into `bot`."""
    assert allowed_imports("render") == {"rules"}
    offenders = {
        name: sorted(d for d in deps if d.split(".")[0] not in ("render", "rules"))
        for name, deps in graph().items()
        if name.split(".")[0] == "render"
    }
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def allowed_imports(package: str) -> set[str] | None:
    doc = ast.get_docstring(
        ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text())
    )
    assert doc, f"{package}/__init__.py has no docstring saying what it owns"
    match = re.search(r"^May import: (.+)$", doc, re.M)
    if match is None:
        return None
    return set(re.findall(r"\b(?:bot|render|rules)(?:\.\w+)*", match[1].split("(")[0]))


def subpackages() -> list[str]:
    return sorted(
        module_name(p)
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("__init__.py")
        if p.parent.name not in PACKAGES
    )


def test_every_package_says_what_it_owns_and_may_import():
    for package in subpackages():
        assert allowed_imports(package) is not None, (
            f"{package}: no 'May import:' line in its docstring"
        )


def test_each_package_imports_only_what_its_docstring_allows():
    edges = graph()
    wrong: dict[str, list[str]] = {}
    for package in subpackages():
        allowed = allowed_imports(package) or set()
        for name, deps in edges.items():
            if not (name == package or name.startswith(package + ".")):
                continue
            for dep in deps:
                if dep == package or dep.startswith(package + "."):
                    continue
                if not any(dep == a or dep.startswith(a + ".") for a in allowed):
                    wrong.setdefault(name, []).append(dep)
    assert wrong == {}
