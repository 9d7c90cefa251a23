"""The package's shape: features over a small core, imports in one direction, no cycle."""

import ast
from pathlib import Path

from iptor_site.core.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "site" / "iptor_site"
#: The packages from the top down, as README's picture draws them: a package may import
#: the core and any package after it in this list, never one before it.
LAYERS = ["backoffice", "pages", "privacy_requests", "demo", "leads", "consent", "mail", "legal", "core"]
FEATURES = set(LAYERS) - {"core"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for each import of the package's own modules."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom) and child.level == 0 and child.module and \
                    child.module.split(".")[0] == "iptor_site":
                for alias in child.names:
                    candidate = f"{child.module}.{alias.name}"
                    target = candidate if (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists() \
                        else child.module
                    found.append((target, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom) and child.level:
                found.append((f"relative import in {module_name(path)}", child.lineno, True))
            elif isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names
                             if a.name.split(".")[0] == "iptor_site")
            visit(child, nested)

    visit(tree, False)
    return found


def graph() -> dict[str, set[str]]:
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        edges[module_name(path)] = {target for target, _, _ in imports_of(path)}
    return edges


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, directly or not."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return groups


def test_the_cycle_finder_finds_a_cycle():
    groups = strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert {"a", "b", "c"} in groups and {"d"} in groups


def test_no_module_imports_itself_back_through_others():
    cycles = [sorted(group) for group in strongly_connected(graph()) if len(group) > 1]
    assert cycles == []


def test_no_import_hides_inside_a_function():
    hidden = [f"{path.relative_to(PROJECT_ROOT)}:{line} imports {target}"
              for path in PACKAGE.rglob("*.py") for target, line, inside in imports_of(path) if inside]
    assert hidden == []


def test_the_core_depends_on_no_feature_and_no_feature_on_a_view():
    wrong = []
    for module, targets in graph().items():
        layer = module.split(".")[1] if module.count(".") else None
        for target in targets:
            target_layer = target.split(".")[1] if target.count(".") else None
            if layer == "core" and target_layer in FEATURES:
                wrong.append(f"{module} -> {target}")
            if target.rsplit(".", 1)[-1].endswith("views") and module not in {"iptor_site"}:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def upward_imports(edges: dict[str, set[str]], layers: list[str]) -> list[str]:
    """Every import from a package to one listed above it (or to a package not listed at all).
    ``iptor_site`` itself (``create_app``) and ``iptor_site.models`` stand above every layer."""
    rank = {name: number for number, name in enumerate(layers)}
    wrong = []
    for module, targets in edges.items():
        package = module.split(".")[1] if module.count(".") else None
        if package is None or module == "iptor_site.models":
            continue
        for target in sorted(targets):
            target_package = target.split(".")[1] if target.count(".") else None
            if target_package == package:
                continue
            if package not in rank or target_package not in rank or rank[target_package] < rank[package]:
                wrong.append(f"{module} -> {target}")
    return wrong


def test_the_layer_check_catches_an_import_that_points_up():
    edges = {"iptor_site.demo.views": {"iptor_site.leads.models", "iptor_site.core.clock"},
             "iptor_site.leads.models": {"iptor_site.demo.models"}}
    assert upward_imports(edges, ["demo", "leads", "core"]) == ["iptor_site.leads.models -> iptor_site.demo.models"]
    assert upward_imports({"iptor_site.newthing.x": {"iptor_site.core.y"}}, ["core"]) == [
        "iptor_site.newthing.x -> iptor_site.core.y"]


def test_every_import_points_down_the_layers():
    assert upward_imports(graph(), LAYERS) == []


def test_every_feature_is_a_package_of_its_own():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == FEATURES | {"core"}
