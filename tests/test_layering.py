"""Imports between the packages point one way: down the layers of docs/architecture.md.

Bottom to top: the shared `episode_metadata.common`, then `activity`, `jobs`, `realtime`,
`episodes`, and the rest of `episode_metadata` (settings, urls, asgi, serve: the composition
root). A module may import its own layer and those below it, never one above, not even
inside a function; so no two packages import each other and no cycle can form.
"""

import ast
import graphlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("episode_metadata.common", "activity", "jobs", "realtime", "episodes", "episode_metadata")
PACKAGES = ("episode_metadata", "activity", "jobs", "realtime", "episodes")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at the top or inside a function, relative ones resolved."""
    package = (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _layer(module: str) -> str | None:
    """The layer a module belongs to: the first (most specific) whose prefix it carries."""
    for layer in LAYERS:
        if module == layer or module.startswith(f"{layer}."):
            return layer
    return None


def _arrows() -> dict[tuple[str, str], list[str]]:
    """Import arrows between layers, each with the imports that make it."""
    arrows: dict[tuple[str, str], list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = _module_name(path)
            for imported in _imports(path):
                target = _layer(imported)
                if target is not None and target != _layer(source):
                    arrows[(_layer(source), target)].append(f"{source} imports {imported}")
    return arrows


def test_every_import_between_packages_points_down_a_layer():
    upward = [
        line
        for (source, target), lines in _arrows().items()
        if LAYERS.index(target) > LAYERS.index(source)
        for line in lines
    ]
    assert upward == []


def test_the_packages_import_each_other_in_no_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in _arrows():
        graph[source].add(target)

    order = list(graphlib.TopologicalSorter(graph).static_order())

    assert order.index("episode_metadata.common") < order.index("episode_metadata")


def test_the_layers_are_the_ones_the_architecture_names():
    """A layer whose name no longer matches a package would let everything through."""
    for layer in LAYERS:
        assert (ROOT / layer.replace(".", "/") / "__init__.py").exists(), layer
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert all(f"`{layer}`" in text for layer in LAYERS)
