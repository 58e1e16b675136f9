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
