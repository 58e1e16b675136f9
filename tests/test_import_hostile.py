"""`maisky import` against hostile files and folders: zip bombs, nested markup, many-page PDFs, huge
paragraphs, symbolic links and folders thousands deep. Each ends in one clear message naming the limit
and the option that raises it, exit 1 and nothing written; a real book raises the limit and imports.
The files are generated here (tests/hostile_files.py), at sizes just past each limit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.hostile_files import CASES, huge_paragraph, nested_html
from tests.test_import_cli import PROVENANCE, listing, run

ENCODING = re.compile(r"maisky: ([\d,]+ sentences and words to encode|\s*[\d,]+/[\d,]+ done)")
FAST = list(CASES)  # at the sizes a test affords; benchmarks/hostile_imports.py measures the full ones


@pytest.fixture
def seeds(seeds_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAISKY_SEEDS", str(seeds_copy))
    return seeds_copy


@pytest.mark.parametrize("case", FAST)
def test_a_hostile_file_gives_one_message_naming_the_limit(
    case: str, tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file_name, _, make, expected = CASES[case]
    path = make(tmp_path / file_name)
    before = listing(seeds)
    code, _ = run("import", str(path), *PROVENANCE)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert listing(seeds) == before or code == 0
    if not expected:  # nothing to refuse: markdown-it caps its own nesting; it imports, or says why not
        # an import that succeeds ends by encoding what it added, with progress lines (how many depends
        # on what the shared vector cache already holds): those are not messages
        said = [line for line in err.splitlines() if not ENCODING.match(line)]
        assert code in (0, 1) and len(said) <= 1, err
        return
    assert code == 1, err
    assert err.startswith(f"maisky: {path}") and expected in err and err.count("\n") == 1, err
    if expected.startswith("--max-"):
        assert "over the limit" in err or "the limit" in err


def test_the_option_in_the_message_raises_the_limit(
    tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = nested_html(tmp_path / "deep.html", 0.002, closed=True)  # about 190 levels
    code, _ = run("import", str(deep), *PROVENANCE, "--dry-run", "--max-depth", "100")
    err = capsys.readouterr().err
    assert code == 1 and "--max-depth 400" in err
    code, out = run("import", str(deep), *PROVENANCE, "--dry-run", "--max-depth", "400")
    assert code == 0 and "text = '''\ndeep'''" in out


def test_a_long_book_passes_the_limits(tmp_path: Path, seeds: Path) -> None:
    """Well past a long book's size in every unit a limit counts, in paragraphs: no limit is reached."""
    para = "Maisky met Eden at the Foreign Office, and they spoke of Spain until late. " * 6 + "\n\n"
    book = tmp_path / "book.txt"
    book.write_text(para * 1_000, encoding="utf-8")  # 450,000 characters, 1,000 paragraphs
    html = tmp_path / "book.html"
    html.write_text(
        "<html><body><main>" + "".join(f"<p><i>{para}</i></p>\n" for _ in range(1_000)) + "</main></body></html>"
    )
    for path in (book, html):
        code, out = run("import", str(path), *PROVENANCE, "--id", path.stem + "-x", "--dry-run")
        assert code == 0, out


def test_seeds_toml_is_never_written_through_a_symbolic_link(
    tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not for the importer\n", encoding="utf-8")
    (seeds / "club-notes.toml").symlink_to(outside)
    text = tmp_path / "notes.txt"
    text.write_text("The embassy held a brass telescope.\n", encoding="utf-8")
    for extra in ((), ("--force",)):
        code, _ = run("import", str(text), *PROVENANCE, "--id", "club-notes", *extra)
        err = capsys.readouterr().err
        assert code == 1 and "is a symbolic link" in err and "Traceback" not in err, err
    assert outside.read_text(encoding="utf-8") == "not for the importer\n"
    assert (seeds / "club-notes.toml").is_symlink()


def test_a_folder_import_does_not_follow_links_out_of_the_folder(
    tmp_path: Path, seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "private" / "passwd.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "01.txt").write_text("Maisky arrived in London.\n", encoding="utf-8")
    (folder / "02.txt").symlink_to(secret)
    (folder / "03.txt").symlink_to(folder / "01.txt")  # inside the folder: read
    (folder / "elsewhere").symlink_to(secret.parent, target_is_directory=True)
    code, out = run("import", str(folder), *PROVENANCE, "--id", "book", "--dry-run")
    report = capsys.readouterr().err  # a dry run prints the draft, and its report on stderr
    assert code == 0, report
    assert "root:x" not in out + report and "Maisky arrived in London." in out
    assert "skipped a symbolic link to a file outside the folder: '02.txt'" in report
    assert "skipped a symbolic link to a folder" in report


def test_a_folder_thousands_deep_gives_one_message(seeds: Path) -> None:
    """1,500 levels, made with relative paths (the whole path is longer than the system allows at once),
    outside pytest's own temporary folders: its clean-up recurses, and would fail on them."""
    folder = Path(tempfile.mkdtemp(prefix="maisky-deep-"))
    try:
        _nest(folder, 1_500)
        proc = subprocess.run(
            [sys.executable, "-m", "adapters.cli", "import", str(folder), *PROVENANCE],
            cwd=ROOT, env={**os.environ, "MAISKY_SEEDS": str(seeds)}, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
    finally:
        _flatten_away(folder)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert "nests its folders more than 32 deep" in proc.stderr and "--max-folder-depth" in proc.stderr


def _nest(folder: Path, levels: int) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("x.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as fh:
            fh.write("Deep text.\n")
    finally:
        os.close(fd)


def test_a_huge_paragraph_in_a_real_process_ends_with_exit_1(tmp_path: Path, seeds: Path) -> None:
    path = huge_paragraph(tmp_path / "paragraph.txt", 6)
    proc = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "import", str(path), *PROVENANCE],
        cwd=ROOT, env={**os.environ, "MAISKY_SEEDS": str(seeds)}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "characters of text, over the limit of 5,000,000" in proc.stderr and "--max-characters" in proc.stderr


def _flatten_away(folder: Path) -> None:
    """Remove a chain of nested "d" folders one level at a time from the top (shutil.rmtree recurses,
    and would fail on it as the importer once did)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        while _has(fd, "d/d"):
            os.rename("d/d", "up", src_dir_fd=fd, dst_dir_fd=fd)
            _empty(fd, "d")
            os.rename("up", "d", src_dir_fd=fd, dst_dir_fd=fd)
        if _has(fd, "d"):
            _empty(fd, "d")
    finally:
        os.close(fd)
    folder.rmdir()


def _has(fd: int, relative: str) -> bool:
    try:
        os.stat(relative, dir_fd=fd)
    except FileNotFoundError:
        return False
    return True


def _empty(fd: int, name: str) -> None:
    if _has(fd, name + "/x.txt"):
        os.unlink(name + "/x.txt", dir_fd=fd)
    os.rmdir(name, dir_fd=fd)
