"""The shared package stays below the apps: `episode_metadata.common` imports no app and
nothing else of `episode_metadata`, so every app can import it without a cycle."""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON = ROOT / "episode_metadata" / "common"
APPS = ("activity", "jobs", "realtime", "episodes")


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


def _forbidden(imported: str) -> bool:
    top = imported.partition(".")[0]
    if top in APPS:
        return True
    common = imported == "episode_metadata.common" or imported.startswith(
        "episode_metadata.common."
    )
    return top == "episode_metadata" and not common


def test_common_imports_no_app_and_nothing_of_the_project_above_it():
    offences = [
        f"{_module_name(path)} imports {imported}"
        for path in sorted(COMMON.rglob("*.py"))
        for imported in _imports(path)
        if _forbidden(imported)
    ]
    assert offences == []
