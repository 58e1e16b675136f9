"""The documentation stays true to the tree: the maps name only what exists, and every link leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAPS = [(README, "A map of the house"), (ARCHITECTURE, "The map in full")]

# Pages other engineers are writing, linked from the README before they arrive. Once one exists it is
# checked like any other page; remove it from here when it has landed.
PENDING: set[str] = set()  # docs pages a link may name before they land

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
PATH_MENTION = re.compile(r"^(?:bot|adapters|tests|benchmarks|persona|seeds|docs)/[\w./*-]*$")
MODULE_MENTION = re.compile(r"^bot(?:\.\w+)+$")


def pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            out.append(line)
    return out


def parse_map(text: str, heading: str) -> list[str]:
    """The paths a map names: the first fenced block under `heading`, two spaces of indent per level.

    Each line is a name (a folder ends in "/"), then at least two spaces and what it holds.
    """
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"#+ {re.escape(heading)}", line))
    opening = next(i for i in range(start + 1, len(lines)) if FENCE.match(lines[i]))
    paths: list[str] = []
    stack: list[str] = []
    for line in lines[opening + 1 :]:
        if FENCE.match(line):
            return paths
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0 and indent // 2 <= len(stack), f"map line indented oddly: {line!r}"
        name = line.split()[0]
        assert re.fullmatch(r"[\w.-]+/?(?:[\w.-]+/?)*", name), f"map line without a name first: {line!r}"
        assert "  " in line.strip(), f"map line without a description: {line!r}"
        stack = stack[: indent // 2]
        parent = "".join(stack)
        assert not stack or stack[-1].endswith("/"), f"{name} is under a file, not a folder"
        stack.append(name)
        paths.append(parent + name)
    raise AssertionError(f"the map under {heading!r} has no closing fence")


def modules_and_folders(top: str) -> tuple[set[str], set[str]]:
    """Every module (but __init__.py) and every package folder under `top`, as map paths."""
    base = ROOT / top
    modules = {
        f"{top}/{p.relative_to(base).as_posix()}"
        for p in base.rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    folders = {f"{top}/{p.parent.relative_to(base).as_posix()}/" for p in base.rglob("__init__.py")}
    folders.discard(f"{top}/./")
    return modules, folders


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        if match := re.match(r"^#{1,6} (.+?)\s*#*\s*$", line):
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


@pytest.mark.parametrize(("page", "heading"), MAPS, ids=["README", "architecture"])
def test_every_folder_and_module_on_the_map_exists(page: Path, heading: str) -> None:
    named = parse_map(page.read_text(encoding="utf-8"), heading)
    assert len(named) > 20  # the parse found the map
    missing = []
    for p in named:
        target = ROOT / p
        if p.endswith("/"):
            if not target.is_dir():
                missing.append(p)
        elif not target.is_file():
            missing.append(p)
    assert not missing, f"{page.relative_to(ROOT)} maps what does not exist: {missing}"


def test_the_readme_map_names_every_wing_and_every_core_module() -> None:
    named = set(parse_map(README.read_text(encoding="utf-8"), "A map of the house"))
    bot_modules, bot_folders = modules_and_folders("bot")
    _, adapter_folders = modules_and_folders("adapters")
    left_out = sorted((bot_modules | bot_folders | adapter_folders) - named)
    assert not left_out, f"add a line for each to the map in README.md: {left_out}"


def test_the_full_map_names_every_module() -> None:
    named = set(parse_map(ARCHITECTURE.read_text(encoding="utf-8"), "The map in full"))
    wanted: set[str] = set()
    for top in ("bot", "adapters", "benchmarks"):
        modules, folders = modules_and_folders(top)
        wanted |= modules | folders
    left_out = sorted(wanted - named)
    assert not left_out, f"add a line for each to the map in docs/architecture.md: {left_out}"


def test_the_map_parser_reads_nesting_and_refuses_a_bad_line() -> None:
    text = "## M\n\n```text\nbot/      core\n  chat/   chat\n    desk.py   desk\n  errors.py  errors\n```\n"
    assert parse_map(text, "M") == ["bot/", "bot/chat/", "bot/chat/desk.py", "bot/errors.py"]
    with pytest.raises(AssertionError):
        parse_map("## M\n```\nbot/  core\n      deep.py  too deep\n```\n", "M")


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading(page: Path) -> None:
    broken = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (page.parent / file_part).resolve() if file_part else page
            rel = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else str(dest)
            if not dest.exists():
                if rel not in PENDING:
                    broken.append(f"{target} (no such file)")
                continue
            if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{target} (no such heading in {rel})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_the_link_check_sees_the_links() -> None:
    sample = "[a](docs/x.md#y) [`b`](../b.yml) ![img](i.png) [c](https://e.org) `[d](no)`"
    assert LINK.findall(sample) == ["docs/x.md#y", "../b.yml", "https://e.org", "no"]
    assert len([t for line in prose_lines(README.read_text(encoding="utf-8")) for t in LINK.findall(line)]) >= 15
    assert "checking-a-deployment-maisky-doctor" in anchors(ROOT / "docs" / "operations.md")


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_and_module_the_prose_names_exists(page: Path) -> None:
    gone = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        for span in CODE_SPAN.findall(line):
            if PATH_MENTION.match(span):
                module = span.rpartition(".")[0]  # adapters/slack/http.Throttle: a name in a module
                exists = bool(list(ROOT.glob(span.rstrip("/")))) or (bool(module) and (ROOT / f"{module}.py").is_file())
                if not exists and span not in PENDING:
                    gone.append(span)
            elif MODULE_MENTION.match(span):
                parts = span.split(".")
                # bot.x.y.Name: some prefix must be a module or package, the rest its attributes
                prefixes = [ROOT.joinpath(*parts[:n]) for n in range(2, len(parts) + 1)]
                if not any(p.with_suffix(".py").is_file() or (p / "__init__.py").is_file() for p in prefixes):
                    gone.append(span)
    assert not gone, f"{page.relative_to(ROOT)} names what does not exist: {gone}"
