"""Settings: one frozen object built from the environment (and an optional .env), read once.

The core's own settings are checked at start-up; each front end asks for its own section
(`slack()`, `discord()`), which checks that front end's variables and names every problem at
once. Secrets are kept out of reprs, so logging a settings object never shows a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

import persona
import seeds
from bot.errors import ConfigError

__all__ = ["Settings", "SlackSettings"]


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str = field(repr=False)  # set: Socket Mode; empty: HTTP on `port`
    api_url: str  # Web API base URL, ending in "/"
    port: int
    host: str = "0.0.0.0"  # a hosted app listens on every interface; HOST narrows it

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


def _url(value: str, name: str, problems: list[str]) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(f"{name}: {value!r} is not an http(s) URL")
    return value if value.endswith("/") else value + "/"


def _int(values: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    raw = values.get(name, "") or str(default)
    try:
        number = int(raw)
    except ValueError:
        problems.append(f"{name}: {raw!r} is not a whole number")
        return default
    if not low <= number <= high:
        problems.append(f"{name}: {number} is not between {low} and {high}")
    return number


@dataclass(frozen=True)
class Settings:
    seeds_dir: Path
    persona_dir: Path
    seed: int = 0  # varies the persona's wording; answers never change
    cooldown: int = 5  # seconds between one user's questions on chat platforms
    values: Mapping[str, str] = field(default_factory=dict, repr=False)

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
        seed = _int(values, "MAISKY_SEED", 0, -(2**63), 2**63 - 1, problems)
        cooldown = _int(values, "MAISKY_COOLDOWN", 5, 0, 3600, problems)
        if problems:
            raise ConfigError(problems)
        return cls(seeds_dir=seeds_dir, persona_dir=persona_dir, seed=seed, cooldown=cooldown, values=values)

    def slack(self) -> SlackSettings:
        """The Slack front end's settings; ConfigError names every missing or malformed one."""
        v, problems = self.values, []
        bot_token = v.get("SLACK_BOT_TOKEN", "")
        app_token = v.get("SLACK_APP_TOKEN", "")
        secret = v.get("SLACK_SIGNING_SECRET", "")
        if not bot_token:
            problems.append("SLACK_BOT_TOKEN: missing (the bot token, xoxb-...)")
        elif not bot_token.startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN: must start with xoxb- (a bot token, not a user or app token)")
        if app_token and not app_token.startswith("xapp-"):
            problems.append("SLACK_APP_TOKEN: must start with xapp- (an app-level token with connections:write)")
        if not app_token and not secret:
            problems.append(
                "SLACK_SIGNING_SECRET: missing (needed for HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
            )
        api_url = _url(v.get("SLACK_API_URL") or "https://slack.com/api/", "SLACK_API_URL", problems)
        port = _int(v, "PORT", 3000, 1, 65535, problems)
        if problems:
            raise ConfigError(problems)
        return SlackSettings(bot_token, secret, app_token, api_url, port, v.get("HOST") or "0.0.0.0")
