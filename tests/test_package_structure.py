"""The package's shape: no import cycles, data flows one way, recipes import at the top, small modules."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "seis_keras"
MAX_LINES = 450  # DESIGN.md: "keep modules under ~400 lines"

#: Which top-level parts of seis_keras each part may import (DESIGN.md: recipes -> explain / train ->
#: models / data -> libraries; no module reaches back up).
LOWER = {"atomic": set(), "errors": set(),
         "data": {"atomic", "errors"},
         "models": {"atomic", "errors", "data"},
         "train": {"atomic", "errors", "data", "models"},
         "explain": {"atomic", "errors", "data", "models", "train"},
         "plots": {"atomic", "errors", "data", "models", "explain"},
         "scan": {"atomic", "errors", "data", "models", "train", "explain"}}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(), str(path))


MODULES = {name: (path, tree) for name, path, tree in _modules()}


def _resolve(importer: str, node) -> list[str]:
    """seis_keras modules an import statement names (``from a.b import c`` -> a.b.c if a module, else a.b)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "seis_keras"]
    base = node.module or ""
    if node.level:
        pkg = importer.split(".")
        is_pkg = MODULES[importer][0].name == "__init__.py"
        pkg = pkg if is_pkg else pkg[:-1]
        pkg = pkg[:len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([base] if base else []))
    if base.split(".")[0] != "seis_keras":
        return []
    out = []
    for a in node.names:
        full = f"{base}.{a.name}"
        out.append(full if full in MODULES else base)
    return out


def _imports(name, tree, top_level_only):
    body = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in body:
        nodes = [node] if top_level_only and not isinstance(node, ast.Try) else (
            [n for b in node.body + [h for hh in node.handlers for h in hh.body] for n in [b]]
            if top_level_only else [node])
        for n in nodes:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                found += [(n.lineno, m) for m in _resolve(name, n)]
    return found


def test_no_import_cycles_at_module_level():
    graph = {name: {m for _, m in _imports(name, tree, True) if m != name} for name, (_, tree) in MODULES.items()}
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    # a package importing its own submodules is how packages work; anything else is a cycle
    real = [c for c in cycles if not all(c[i + 1].startswith(c[i] + ".") or c[i].startswith(c[i + 1] + ".")
                                         for i in range(len(c) - 1))]
    assert not real, "import cycles: " + "; ".join(" -> ".join(c) for c in real)


def test_data_flows_one_way():
    bad = []
    for name, (path, tree) in MODULES.items():
        part = name.split(".")[1] if "." in name else None
        if part not in LOWER:
            continue
        for line, target in _imports(name, tree, False):  # lazy imports count too
            other = target.split(".")[1] if "." in target else None
            if other and other != part and other not in LOWER[part]:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not bad, "imports that reach back up: " + "; ".join(bad)


def test_recipe_packages_import_at_the_top():
    """Recipe packages import seis_keras at module level: a lazy import hid the old cycles."""
    bad = []
    for name, (path, tree) in MODULES.items():
        parts = name.split(".")
        in_package = len(parts) >= 3 and parts[:2] == ["seis_keras", "recipes"] and (
            parts[2] in ("runner", "config") or (PACKAGE / "recipes" / parts[2]).is_dir())
        if not in_package:
            continue
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top and _resolve(name, node):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not bad, "seis_keras imports inside functions in recipe packages: " + ", ".join(bad)


def test_no_module_is_huge():
    big = {str(p.relative_to(PACKAGE.parent)): n for _, (p, _) in MODULES.items()
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"
