"""Settings: one frozen object built from the environment (and an optional .env), read once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

import persona
import seeds
from bot.errors import ConfigError

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    seeds_dir: Path
    persona_dir: Path
    seed: int = 0  # varies the persona's wording; answers never change

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        """Read MAISKY_* settings; every malformed one is named in a single ConfigError."""
        values: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update(os.environ if env is None else env)
        problems: list[str] = []
        seeds_dir = Path(values.get("MAISKY_SEEDS") or Path(seeds.__file__).parent)
        persona_dir = Path(values.get("MAISKY_PERSONA") or Path(persona.__file__).parent)
        for name, folder in (("MAISKY_SEEDS", seeds_dir), ("MAISKY_PERSONA", persona_dir)):
            if not folder.is_dir():
                problems.append(f"{name}: {folder} is not a folder")
        seed = 0
        raw = values.get("MAISKY_SEED", "0") or "0"
        try:
            seed = int(raw)
        except ValueError:
            problems.append(f"MAISKY_SEED: {raw!r} is not a whole number")
        if problems:
            raise ConfigError(problems)
        return cls(seeds_dir=seeds_dir, persona_dir=persona_dir, seed=seed)
