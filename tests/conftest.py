from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import Maisky, Settings, build

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
PERSONA = ROOT / "persona"
DEV_QUESTIONS = Path(__file__).parent / "data" / "dev-questions.yaml"
CLUB_QUESTIONS = Path(__file__).parent / "data" / "club-questions.yaml"


@pytest.fixture(scope="session")
def core() -> Maisky:
    return build(Settings(seeds_dir=SEEDS, persona_dir=PERSONA))


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled corpus, for tests that break it."""
    dest = tmp_path / "seeds"
    shutil.copytree(SEEDS, dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dest
