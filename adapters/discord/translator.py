"""Discord command and option descriptions in other languages, through discord.py's translator hook.

Every description in adapters/discord/commands.py is a `locale_str`; at sync, discord.py asks the
translator for each Discord locale. Translations are data: `<folder>/<locale>.toml` (a Discord
locale code such as `fr` or `pt-BR`) maps each English description to its translation. No file
ships yet, so Discord shows the English text everywhere; adding one needs no code change.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from discord import Locale
from discord.app_commands import TranslationContextLocation, TranslationContextTypes, Translator, locale_str

import persona
from bot.errors import ConfigError

__all__ = ["TRANSLATIONS", "DataTranslator", "load_translations"]

TRANSLATIONS = Path(persona.__file__).resolve().parent / "translations"  # package data: in the wheel too
_DESCRIPTIONS = frozenset(
    {
        TranslationContextLocation.command_description,
        TranslationContextLocation.group_description,
        TranslationContextLocation.parameter_description,
    }
)
_LOCALES = frozenset(locale.value for locale in Locale)


def load_translations(folder: Path) -> dict[str, dict[str, str]]:
    """Locale code -> English description -> translation; a bad file is named in a ConfigError."""
    tables: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        if path.stem not in _LOCALES:
            raise ConfigError([f"{path.name}: {path.stem!r} is not a Discord locale (such as fr, de, pt-BR)"])
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError([f"{path.name}: cannot be read: {exc}"]) from exc
        bad = [k for k, v in data.items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise ConfigError([f"{path.name}: {bad[0]!r} must map to non-empty text"])
        tables[path.stem] = dict(data)
    return tables


class DataTranslator(Translator):
    """Descriptions from translation files; names are never translated (Discord dispatches by them)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.tables = load_translations(folder or TRANSLATIONS)

    async def translate(self, string: locale_str, locale: Locale, context: TranslationContextTypes) -> str | None:
        if context.location not in _DESCRIPTIONS:
            return None
        return self.tables.get(locale.value, {}).get(string.message)
