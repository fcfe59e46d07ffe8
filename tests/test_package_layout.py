"""The package's shape: no import cycle (imports inside functions included), ``__all__`` in
every public module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ccdnb"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node) -> list:
    """The ccdnb modules an import statement of ``module`` reaches."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "ccdnb"]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "ccdnb":
        return []
    # "from .pkg import name": name may be a submodule of pkg
    return [target] + [f"{target}.{alias.name}" for alias in node.names]


def import_graph() -> dict:
    """Module -> set of ccdnb modules it imports anywhere (module level or in a function)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(t for t in _resolve(name, is_package, node) if t in modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def import_cycles(graph) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
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
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split(".")[1:]) or name.endswith(
        "__init__")


def test_the_cycle_finder_finds_a_cycle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_ccdnb():
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles (imports inside functions count):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles)


def test_every_public_module_declares_all():
    missing = []
    for name, path in _modules().items():
        if not _is_public(name) or path.name in ("__main__.py",):
            continue
        text = path.read_text()
        if "sys.modules[__name__] = " in text:  # an alias of a moved module
            continue
        tree = ast.parse(text)
        declared = any(isinstance(node, ast.Assign)
                       and any(getattr(t, "id", None) == "__all__" for t in node.targets)
                       for node in tree.body)
        if not declared:
            missing.append(name)
    assert not missing, f"modules without __all__: {missing}"


#: Old module name -> where it moved. The old names stay importable (notebooks, benchmarks,
#: users) as aliases of the moved module: the same module object, not a copy.
MOVED = {
    "ccdnb.electron_field": "ccdnb.skipper.field",
    "ccdnb.skipper_raw": "ccdnb.skipper.raw",
    "ccdnb.io_utils": "ccdnb.io.atomic",
    "ccdnb.fitsio": "ccdnb.io.fits",
    "ccdnb.labelme": "ccdnb.io.labelme",
    "ccdnb.tiling": "ccdnb.predict.tiling",
    "ccdnb.runtime": "ccdnb.predict.runtime",
    "ccdnb.signal_floor": "ccdnb.predict.rules.signal_floor",
    "ccdnb.noise_groups": "ccdnb.predict.rules.noise_groups",
    "ccdnb.serial_hits": "ccdnb.predict.rules.serial_hits",
    "ccdnb.ds9": "ccdnb.objects.ds9",
    "ccdnb.catalog": "ccdnb.objects.catalog",
    "ccdnb.particles": "ccdnb.objects.particles",
    "ccdnb.scaleout": "ccdnb.predict.scaleout",
    "ccdnb.onnx_export": "ccdnb.predict.onnx_export",
}


def test_every_moved_module_keeps_its_old_name():
    import importlib

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    # the connected-group algorithms left ccdnb.classes (which keeps the class ids)
    import ccdnb.classes as classes
    import ccdnb.objects.groups as groups

    # what classes held before the move (groups has grown flat_groups since)
    held = {"EIGHT_CONNECTED", "label_groups", "class_groups", "release_pixels",
            "count_neighbours"}
    assert held <= set(groups.__all__)
    for name in held:
        assert getattr(classes, name) is getattr(groups, name), name
    assert not set(groups.__all__) & set(classes.__all__)
    assert held <= set(dir(classes))


def test_the_predict_package_reaches_its_submodules_by_attribute():
    code = ("import ccdnb.predict as p; print(p.pipeline.STAGES[0].name, p.files.__name__, "
            "p.rules.signal_floor.__name__, 'tiling' in dir(p))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["background", "ccdnb.predict.files",
                                  "ccdnb.predict.rules.signal_floor", "True"]
