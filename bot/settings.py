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
from bot.schedule import parse_time, parse_zone

__all__ = ["DiscordSettings", "Settings", "SlackSettings"]


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str = field(repr=False)  # set: Socket Mode; empty: HTTP on `port`
    api_url: str  # Web API base URL, ending in "/"
    port: int
    daily_allowlist: frozenset[str] = frozenset()  # user ids who may manage daily posts besides admins
    host: str = "0.0.0.0"  # a hosted app listens on every interface; HOST narrows it

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)


@dataclass(frozen=True)
class DiscordSettings:
    token: str = field(repr=False)
    guild_id: int | None  # set: commands are synced to this guild only, which updates at once
    api_base: str  # REST base URL, e.g. https://discord.com/api/v10 (no trailing slash)
    gateway_url: str  # empty: Discord's own gateway
    shards: int | None  # None: one connection; 0: auto-sharded with Discord's recommended count
    state_dir: Path  # where the hash of the last synced command set is kept


def _url(value: str, name: str, problems: list[str], schemes: tuple[str, ...] = ("http", "https")) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        problems.append(f"{name}: {value!r} is not a {'/'.join(schemes)} URL")
    return value


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
    database_url: str = field(default="sqlite:///maisky.sqlite3", repr=False)  # may hold a password
    daily_time: str = "09:00"
    daily_timezone: str = "UTC"
    daily_window_hours: int = 6
    daily_workers: int = 16  # daily posts in flight at once
    daily_post_timeout: int = 20  # seconds a platform may take to answer one daily post
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
        database = values.get("DATABASE_URL") or "sqlite:///" + (values.get("MAISKY_DB") or "maisky.sqlite3")
        daily_time = parse_time(values.get("MAISKY_DAILY_TIME") or "09:00")
        if daily_time is None:
            problems.append(f"MAISKY_DAILY_TIME: {values['MAISKY_DAILY_TIME']!r} is not HH:MM (for example 09:00)")
        zone = parse_zone(values.get("MAISKY_DAILY_TIMEZONE") or "UTC")
        if zone is None:
            typed = values["MAISKY_DAILY_TIMEZONE"]
            problems.append(f"MAISKY_DAILY_TIMEZONE: {typed!r} is not a time zone (for example Europe/London)")
        window = _int(values, "MAISKY_DAILY_WINDOW_HOURS", 6, 0, 23, problems)
        workers = _int(values, "MAISKY_DAILY_WORKERS", 16, 1, 64, problems)
        post_timeout = _int(values, "MAISKY_DAILY_POST_TIMEOUT", 20, 1, 120, problems)
        if problems:
            raise ConfigError(problems)
        return cls(
            seeds_dir=seeds_dir, persona_dir=persona_dir, seed=seed, cooldown=cooldown, database_url=database,
            daily_time=daily_time or "09:00", daily_timezone=zone or "UTC", daily_window_hours=window,
            daily_workers=workers, daily_post_timeout=post_timeout, values=values,
        )  # fmt: skip

    def slack(self, *, serving: bool = True) -> SlackSettings:
        """The Slack front end's settings; ConfigError names every missing or malformed one.
        Without `serving` (posting only, as `maisky daily run-due` does) only the bot token is needed."""
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
        if serving and not app_token and not secret:
            problems.append(
                "SLACK_SIGNING_SECRET: missing (needed for HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
            )
        api_url = _url(v.get("SLACK_API_URL") or "https://slack.com/api/", "SLACK_API_URL", problems)
        api_url = api_url if api_url.endswith("/") else api_url + "/"  # slack_sdk joins method names on
        port = _int(v, "PORT", 3000, 1, 65535, problems)
        if problems:
            raise ConfigError(problems)
        allow = frozenset(u.strip() for u in v.get("MAISKY_SLACK_DAILY_ALLOWLIST", "").split(",") if u.strip())
        return SlackSettings(bot_token, secret, app_token, api_url, port, allow, v.get("HOST") or "0.0.0.0")

    def discord(self) -> DiscordSettings:
        """The Discord front end's settings; ConfigError names every missing or malformed one."""
        v, problems = self.values, []
        token = v.get("DISCORD_TOKEN", "").strip()
        if not token:
            problems.append("DISCORD_TOKEN: missing (the bot token from the developer portal, Bot page)")
        elif token.count(".") != 2 or " " in token:
            problems.append("DISCORD_TOKEN: does not look like a bot token (three parts separated by dots)")
        guild_id = None
        raw_guild = v.get("DISCORD_GUILD_ID", "").strip()
        if raw_guild:
            if raw_guild.isdigit() and 15 <= len(raw_guild) <= 21:
                guild_id = int(raw_guild)
            else:
                problems.append(f"DISCORD_GUILD_ID: {raw_guild!r} is not a server id (a 17-20 digit number)")
        api_base = _url(v.get("DISCORD_API_BASE") or "https://discord.com/api/v10", "DISCORD_API_BASE", problems)
        gateway = v.get("DISCORD_GATEWAY_URL", "").strip()
        if gateway:
            gateway = _url(gateway, "DISCORD_GATEWAY_URL", problems, ("ws", "wss"))
        shards: int | None = None
        raw_shards = v.get("DISCORD_SHARDS", "").strip().lower()
        if raw_shards == "auto":
            shards = 0
        elif raw_shards:
            if raw_shards.isdigit() and int(raw_shards) > 0:
                shards = int(raw_shards)
            else:
                problems.append(f"DISCORD_SHARDS: {raw_shards!r} must be 'auto' or a positive whole number")
        if problems:
            raise ConfigError(problems)
        state = Path(v.get("MAISKY_STATE_DIR") or ".maisky-state")
        return DiscordSettings(token, guild_id, api_base.rstrip("/"), gateway, shards, state)
