"""Hostile files through a real `maisky import` process: wall time, peak memory and outcome per case.

Run:  .venv/bin/python -m benchmarks.hostile_imports [--small] [--no-books] [CASE-SUBSTRING ...]

Generates each case of tests/hostile_files.py at issue 25's full size (zip bombs inflating to 1 GB, a
49 MB page of unclosed tags, a 10,000-page PDF, 40 MB pages and paragraphs...) in a temporary folder,
imports it with `--dry-run` into a copy of seeds/, and prints the exit status, the wall time, the
process's CPU time and peak resident memory (from wait4) and the first line of what it said. Then two real-sized
books that must import: a diary-sized text (4 million characters in 20,000 paragraphs) and the same
as HTML. Not part of the test suite: the tests assert the outcomes and messages, never the timing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.hostile_files import CASES

ROOT = Path(__file__).resolve().parent.parent
PROVENANCE = ["--title", "T", "--author", "A", "--publication", "P", "--date", "2024-01-01",
              "--url", "https://example.org/t", "--licence", "CC BY 4.0", "--dry-run"]  # fmt: skip
_ENTRY = "Maisky called on Eden at the Foreign Office, and they spoke of Spain until late in the evening. "


def diary_text(path: Path) -> Path:
    """About 4 million characters in 20,000 paragraphs: the diaries' three volumes, in size."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(20_000):
            out.write(f"{n % 28 + 1} March 1939\n\n" if n % 10 == 0 else "")
            out.write(_ENTRY * 2 + "\n\n")
    return path


def diary_html(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("<html><body><main>")
        for n in range(20_000):
            out.write(f"<h2>{n % 28 + 1} March 1939</h2>" if n % 10 == 0 else "")
            out.write(f"<p>{_ENTRY}<i>{_ENTRY}</i></p>\n")
        out.write("</main></body></html>")
    return path


def measure(path: Path, seeds: Path) -> tuple[int, float, float, float, str]:
    """(exit status, wall seconds, CPU seconds, peak RSS in MB, the first line of stderr) of one import."""
    env = {**os.environ, "MAISKY_SEEDS": str(seeds)}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "import", str(path), *PROVENANCE],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    first = next((line for line in err.splitlines() if line.startswith("maisky:")), err.splitlines()[-1] if err else "")
    if "Traceback" in err:
        first = "TRACEBACK: " + err.strip().splitlines()[-1]
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, first


def main(argv: list[str]) -> None:
    small = "--small" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    books: dict[str, tuple[str, Callable[[Path], Path]]] = {
        "diary-sized text (4 M characters)": ("diary.txt", diary_text),
        "diary-sized HTML": ("diary.html", diary_html),
    }
    with tempfile.TemporaryDirectory(prefix="maisky-hostile-") as tmp:
        folder = Path(tmp)
        seeds = folder / "seeds"
        shutil.copytree(ROOT / "seeds", seeds)
        print(f"{'case':<52} {'exit':>4} {'wall s':>7} {'CPU s':>6} {'peak MB':>8}  message")
        rows = [(name, file, small_make if small else full) for name, (file, full, small_make, _) in CASES.items()]
        if "--no-books" not in argv:
            rows += [(name, file, make) for name, (file, make) in books.items()]
        for name, file, make in rows:
            if wanted and not any(w.lower() in name.lower() for w in wanted):
                continue
            path = make(folder / file)
            code, wall, cpu, peak, said = measure(path, seeds)
            shown = said.replace(str(folder) + "/", "")[:150]
            print(f"{name:<52} {code:>4} {wall:>7.1f} {cpu:>6.1f} {peak:>8.0f}  {shown}", flush=True)
            path.unlink()


if __name__ == "__main__":
    main(sys.argv[1:])
