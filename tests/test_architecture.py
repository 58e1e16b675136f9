"""The core stays platform-free: bot/ imports no discord, slack or adapters module."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
FORBIDDEN = ("discord", "slack_bolt", "slack_sdk", "slack", "adapters", "aiohttp")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_bot_imports_no_platform_module() -> None:
    files = list(BOT.rglob("*.py"))
    assert len(files) >= 8
    for path in files:
        for name in imported_modules(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_the_check_would_catch_an_import(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from discord import app_commands\nimport slack_bolt.app\n")
    assert {"discord", "slack_bolt.app"} <= imported_modules(bad)


def top_modules() -> dict[str, Path]:
    root = BOT.parent
    found = {}
    for path in [*BOT.rglob("*.py"), *(root / "adapters").rglob("*.py")]:
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def test_no_import_circles() -> None:
    """bot/ and adapters/ import each other in one direction: no circle, even under TYPE_CHECKING."""
    modules = top_modules()
    graph = {m: {n for n in imported_modules(p) if n in modules and n != m} for m, p in modules.items()}
    for name, path in modules.items():  # `from package import module` names a module too
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                graph[name] |= {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in graph[module]:
            assert state.get(target) != 1, "import circle: " + " -> ".join([*trail, module, target])
            if target not in state:
                visit(target, [*trail, module])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [])


def test_every_bot_module_says_what_it_holds_in_one_line() -> None:
    for path in BOT.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{path.name} has no docstring"
        first, _, rest = doc.partition("\n")
        assert first.endswith(".") and (not rest or rest.startswith("\n")), f"{path.name}: {first!r}"
