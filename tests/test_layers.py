"""The packages import only the layers below them, as each package's docstring says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
# Modules at the top of the namespace: the two at the bottom import nothing of Vellum's; the
# ones that assemble the app may import everything.
TOP_LEVEL = {"errors": set(), "context": set(), "logs": set()}
ASSEMBLY = {"__init__", "server", "services", "settings_check"}
PACKAGES = sorted(
    p.name for p in APP.iterdir() if (p / "__init__.py").exists() and p.name[0] != "_"
)
CODE_PACKAGES = [p for p in PACKAGES if p not in {"templates", "static"}]


def allowed(package: str) -> set[str]:
    """The `Imports:` line of a package's docstring."""
    doc = ast.get_docstring(ast.parse((APP / package / "__init__.py").read_text())) or ""
    match = re.search(r"^Imports: (.*)\.$", doc, re.M)
    assert match, f"vellum.{package} does not say what it may import"
    return {name.strip() for name in match[1].split(",")}


def vellum_imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, first name under `vellum`, inside a function) for every import of Vellum's code,
    leaving out those made for type checkers only."""
    tree = ast.parse(path.read_text())
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == "vellum"
        ):
            parts = node.module.split(".")
            heads = [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
            found.extend((node.lineno, head, nested) for head in heads)
        inner = nested or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def owner(path: Path) -> str:
    rel = path.relative_to(APP)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


@pytest.mark.parametrize("package", CODE_PACKAGES)
def test_a_package_imports_only_what_its_docstring_allows(package):
    permitted = allowed(package) | {package}
    wrong = [
        f"{path.relative_to(APP)}:{line} imports vellum.{head}"
        for path in sorted((APP / package).rglob("*.py"))
        for line, head, _ in vellum_imports(path)
        if head not in permitted
    ]
    assert wrong == []


def test_the_bottom_modules_import_nothing_of_vellum():
    for name, permitted in TOP_LEVEL.items():
        heads = {head for _, head, _ in vellum_imports(APP / f"{name}.py")}
        assert heads <= permitted, name


def test_no_import_hides_inside_a_function():
    nested = [
        f"{path.relative_to(APP)}:{line}"
        for path in sorted(APP.rglob("*.py"))
        for line, _, inside in vellum_imports(path)
        if inside
    ]
    assert nested == []


def test_the_layers_form_no_cycle():
    """If a may import b, b may not import a: the docstrings describe a stack."""
    graph = {p: allowed(p) & set(CODE_PACKAGES) for p in CODE_PACKAGES}
    for package, below in graph.items():
        for other in below:
            assert package not in graph.get(other, set()), f"{package} <-> {other}"


def test_every_module_is_in_a_package_or_named_at_the_top():
    loose = {p.stem for p in APP.glob("*.py")} - ASSEMBLY - set(TOP_LEVEL)
    assert loose == set()
