"""The wheel carries everything under persona/ and seeds/ that the bot reads: a non-editable install
(the Docker image, a Heroku slug) must speak with the same voice, sources and translations."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def tracked(*folders: str) -> list[str]:
    return subprocess.run(
        ["git", "ls-files", *folders], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()


def data_files(folder: str) -> set[str]:
    return {name for name in tracked(folder) if not name.endswith(".py")}


def test_the_wheel_carries_every_persona_and_seed_file(tmp_path: Path) -> None:
    tree = tmp_path / "tree"  # the files git tracks, as a fresh clone has them: no build/ or egg-info left over
    for name in tracked():
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)]
    subprocess.run([*build, str(tree)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("maisky_bot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = data_files("persona") | data_files("seeds")
    assert "persona/translations/README.md" in expected and any(n.startswith("persona/templates/") for n in expected)
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel: {missing}"
