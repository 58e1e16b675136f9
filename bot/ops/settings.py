"""Settings: one frozen object built from the environment (and an optional .env), read once.

The core's own settings are checked at start-up; each front end asks for its own section
(`slack()`, `discord()`), which checks that front end's variables and names every problem at
once. Secrets are kept out of reprs, so logging a settings object never shows a token.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from dotenv import dotenv_values

import persona
import seeds
from bot.club.schedule import parse_time, parse_zone
from bot.errors import ConfigError
from bot.ops.logs import FORMATS, LEVELS

__all__ = ["SLACK_MODES", "DiscordSettings", "Settings", "SlackSettings", "default_http_processes"]

SLACK_MODES = ("http", "socket")
MEMORY_MINUTES_MAX = 7 * 24 * 60  # a week: context older than that is no conversation any more
_MAX_SHARDS = 100_000  # far above the largest bots' shard counts; bounds what DISCORD_SHARD_IDS expands to
# Names whose values never reach a log line or a repr.
_SECRET_NAMES = ("TOKEN", "SECRET", "PASSWORD", "DATABASE_URL")
# Database URL schemes the bot ships a driver for (psycopg with the postgres extra).
_DATABASES = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql",
              "postgresql+psycopg": "postgresql"}  # fmt: skip
# libpq connection options that may ride in a PostgreSQL URL's query string, and the values each takes.
_PG_OPTIONS: dict[str, tuple[str, ...]] = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "connect_timeout": (), "application_name": (), "sslrootcert": (), "sslcert": (), "sslkey": (), "options": (),
    "target_session_attrs": ("any", "read-write", "read-only", "primary", "standby", "prefer-standby"),
    "gssencmode": ("disable", "prefer", "require"), "channel_binding": ("disable", "prefer", "require"),
    "keepalives": (), "keepalives_idle": (), "host": (), "port": (), "client_encoding": (),
}  # fmt: skip


def default_http_processes() -> int:
    """HTTP_PROCESSES unset: two, so acknowledgements go on in parallel (one on a single core)."""
    return min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    app_token: str = field(repr=False)  # set: Socket Mode; empty: HTTP on `port`
    api_url: str  # Web API base URL, ending in "/"
    port: int
    daily_allowlist: frozenset[str] = frozenset()  # user ids who may manage daily posts besides admins
    host: str = "0.0.0.0"  # a hosted app listens on every interface; HOST narrows it
    mode: str = ""  # "http" or "socket", as chosen (maisky slack http|socket, SLACK_MODE); "" in tests: by token
    max_body: int = 1_048_576  # bytes; Slack's payloads are a few kilobytes
    connection_limit: int = 100  # open HTTP connections at once; more wait in the OS queue
    idle_timeout: int = 15  # seconds before an idle or half-open HTTP connection is closed
    threads: int = 8  # HTTP worker threads (acknowledging is quick; answers run in bolt's own threads)
    workers: int = 16  # threads that send answers (after the ack): MAISKY_SLACK_WORKERS
    # set: one HTTP deployment serves every workspace that installs the app (OAuth); bot_token is then ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    # HTTP processes taking requests from one socket, each with its own GIL: HTTP_PROCESSES (2, 1 on one core)
    processes: int = 1

    @property
    def oauth(self) -> bool:
        return bool(self.client_id)

    @property
    def socket_mode(self) -> bool:
        return self.mode == "socket" if self.mode else bool(self.app_token)


@dataclass(frozen=True)
class DiscordSettings:
    token: str = field(repr=False)
    guild_id: int | None  # set: commands are synced to this guild only, which updates at once
    api_base: str  # REST base URL, e.g. https://discord.com/api/v10 (no trailing slash)
    gateway_url: str  # empty: Discord's own gateway
    shards: int | None  # None: one connection; 0: auto-sharded with Discord's recommended count
    state_dir: Path  # where the hash of the last synced command set is kept
    # set: this process runs only these of the `shards` shards (the others run in other processes)
    shard_ids: tuple[int, ...] | None = None

    @property
    def syncs_commands(self) -> bool:
        """Whether this process pushes the command set to Discord: one process does (the one that runs
        shard 0, or the only one), so a deploy of N shard processes syncs once, not N times."""
        return self.shard_ids is None or 0 in self.shard_ids


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
    # a conversation silent this long starts afresh: follow-ups and "another" ask for a question first
    # (MAISKY_MEMORY_MINUTES; 0: no context, every line stands alone)
    memory_minutes: int = 30
    database_url: str = field(default="sqlite:///maisky.sqlite3", repr=False)  # may hold a password
    daily_time: str = "09:00"
    daily_timezone: str = "UTC"
    daily_window_hours: int = 6
    daily_workers: int = 64  # daily posts in flight at once
    daily_post_timeout: int = 20  # seconds a platform may take to answer one daily post
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object a line
    shutdown_seconds: int = 20  # how long a stopping process waits for in-flight replies and a daily send
    cache_dir: Path | None = None  # the matcher's vector cache; None: the user's cache folder
    threads: int = 1  # threads of every numeric library (BLAS, onnxruntime, tokenizers): MAISKY_THREADS
    answer_threads: int = 0  # threads working out answers on Slack and Discord (0: one per core): MAISKY_ANSWER_THREADS
    answer_queue: int = 64  # answers that may wait for one; more are told to ask again: MAISKY_ANSWER_QUEUE
    # Slack's answers in a worker process of their own, so they never hold the GIL acks need: MAISKY_ANSWER_PROCESS
    answer_process: bool = True
    values: Mapping[str, str] = field(default_factory=dict, repr=False)

    @staticmethod
    def read_values(env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> dict[str, str]:
        """The variables as the bot sees them: the .env file's, then the environment's over them."""
        values: dict[str, str] = {}
        if dotenv is not None and dotenv.is_file():
            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update(os.environ if env is None else env)
        return values

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        """Read MAISKY_* settings; every malformed one is named in a single ConfigError."""
        values = cls.read_values(env, dotenv)
        problems: list[str] = []
        seeds_dir = Path(values.get("MAISKY_SEEDS") or Path(seeds.__file__).parent)
        persona_dir = Path(values.get("MAISKY_PERSONA") or Path(persona.__file__).parent)
        for name, folder in (("MAISKY_SEEDS", seeds_dir), ("MAISKY_PERSONA", persona_dir)):
            if not folder.is_dir():
                problems.append(f"{name}: {folder} is not a folder")
        seed = _int(values, "MAISKY_SEED", 0, -(2**63), 2**63 - 1, problems)
        cooldown = _int(values, "MAISKY_COOLDOWN", 5, 0, 3600, problems)
        memory = _int(values, "MAISKY_MEMORY_MINUTES", 30, 0, MEMORY_MINUTES_MAX, problems)
        database = values.get("DATABASE_URL") or "sqlite:///" + (values.get("MAISKY_DB") or "maisky.sqlite3")
        connect_timeout = _int(values, "DATABASE_CONNECT_TIMEOUT", 10, 1, 600, problems)
        database = _with_connect_timeout(database, connect_timeout)
        daily_time = parse_time(values.get("MAISKY_DAILY_TIME") or "09:00")
        if daily_time is None:
            problems.append(f"MAISKY_DAILY_TIME: {values['MAISKY_DAILY_TIME']!r} is not HH:MM (for example 09:00)")
        zone = parse_zone(values.get("MAISKY_DAILY_TIMEZONE") or "UTC")
        if zone is None:
            typed = values["MAISKY_DAILY_TIMEZONE"]
            problems.append(f"MAISKY_DAILY_TIMEZONE: {typed!r} is not a time zone (for example Europe/London)")
        window = _int(values, "MAISKY_DAILY_WINDOW_HOURS", 6, 0, 23, problems)
        workers = _int(values, "MAISKY_DAILY_WORKERS", 64, 1, 64, problems)
        post_timeout = _int(values, "MAISKY_DAILY_POST_TIMEOUT", 20, 1, 120, problems)
        level = (values.get("LOG_LEVEL") or "INFO").strip().upper()
        if level not in LEVELS:
            problems.append(f"LOG_LEVEL: {values['LOG_LEVEL']!r} is not one of {', '.join(LEVELS)}")
        log_format = (values.get("LOG_FORMAT") or "text").strip().lower()
        if log_format not in FORMATS:
            problems.append(f"LOG_FORMAT: {values['LOG_FORMAT']!r} is not one of {', '.join(FORMATS)}")
        shutdown = _int(values, "MAISKY_SHUTDOWN_SECONDS", 20, 1, 3600, problems)
        threads = _int(values, "MAISKY_THREADS", 1, 1, 256, problems)
        answer_threads = _int(values, "MAISKY_ANSWER_THREADS", 0, 0, 64, problems)
        answer_queue = _int(values, "MAISKY_ANSWER_QUEUE", 64, 0, 10_000, problems)
        answer_process = _int(values, "MAISKY_ANSWER_PROCESS", 1, 0, 1, problems) == 1
        cache = values.get("MAISKY_CACHE_DIR") or str(
            Path(values.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "maisky"
        )
        if problems:
            raise ConfigError(problems)
        return cls(
            seeds_dir=seeds_dir, persona_dir=persona_dir, seed=seed, cooldown=cooldown, memory_minutes=memory,
            database_url=database,
            daily_time=daily_time or "09:00", daily_timezone=zone or "UTC", daily_window_hours=window,
            daily_workers=workers, daily_post_timeout=post_timeout,
            log_level=level, log_format=log_format, shutdown_seconds=shutdown, cache_dir=Path(cache), threads=threads,
            answer_threads=answer_threads, answer_queue=answer_queue, answer_process=answer_process, values=values,
        )  # fmt: skip

    def secret_values(self) -> list[str]:
        """Every configured secret (tokens, signing secrets, passwords, the database URL and its password),
        for the log filter that keeps them out of every line."""
        found = [v for k, v in self.values.items() if v and any(n in k.upper() for n in _SECRET_NAMES)]
        # user:password@ however malformed the URL around it (postgresql//user:pw@host has no "://")
        info = self.database_url.rpartition("@")[0]
        password = info.rpartition("//")[2].partition(":")[2] if info else ""
        if password:
            found += [password, unquote(password)]
        return found

    def check_database(self) -> None:
        """Before opening the database: ConfigError for what is wrong in its URL or file.
        Checked only by the commands that use a database, so `maisky ask` runs anywhere."""
        problems: list[str] = []
        _check_database(self.database_url, "DATABASE_URL" if self.values.get("DATABASE_URL") else "MAISKY_DB", problems)
        if problems:
            raise ConfigError(problems)

    @property
    def ephemeral_sqlite(self) -> bool:
        """True where daily subscriptions would sit in a SQLite file on a disk wiped at each restart
        (Heroku sets DYNO on every dyno)."""
        return self.database_url.startswith("sqlite") and bool(self.values.get("DYNO"))

    def slack(self, *, serving: bool = True, mode: str | None = None) -> SlackSettings:
        """The Slack front end's settings; ConfigError names every missing or malformed one.
        The transport is chosen, never guessed from the tokens: `mode` (the command line), else
        SLACK_MODE, else HTTP. Without `serving` (posting only, as `maisky daily run-due` does) only
        the bot token is needed."""
        v, problems = self.values, []
        bot_token = v.get("SLACK_BOT_TOKEN", "").strip()
        app_token = v.get("SLACK_APP_TOKEN", "").strip()
        secret = v.get("SLACK_SIGNING_SECRET", "").strip()
        chosen = (mode or v.get("SLACK_MODE") or "http").strip().lower()
        if chosen not in SLACK_MODES:
            problems.append(f"SLACK_MODE: {v.get('SLACK_MODE')!r} is not http or socket")
        client_id, client_secret = v.get("SLACK_CLIENT_ID", "").strip(), v.get("SLACK_CLIENT_SECRET", "").strip()
        if bool(client_id) != bool(client_secret):
            problems.append("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: set both (Basic Information, App Credentials)")
        if client_id and serving and chosen == "socket":
            problems.append("SLACK_CLIENT_ID: the install flow for many workspaces needs HTTP mode, not Socket Mode")
        if client_id and not bot_token:
            pass  # each workspace's bot token comes from its installation
        elif not bot_token:
            problems.append("SLACK_BOT_TOKEN: missing (the bot token, xoxb-...; or SLACK_CLIENT_ID and ...SECRET)")
        elif not bot_token.startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN: must start with xoxb- (a bot token, not a user or app token)")
        if app_token and not app_token.startswith("xapp-"):
            problems.append("SLACK_APP_TOKEN: must start with xapp- (an app-level token with connections:write)")
        if serving and chosen == "socket" and not app_token:
            problems.append("SLACK_APP_TOKEN: missing (Socket Mode needs an app-level token, xapp-...)")
        if serving and chosen == "http" and not secret:
            problems.append(
                "SLACK_SIGNING_SECRET: missing (needed for HTTP mode; for Socket Mode run `maisky slack socket` "
                "or set SLACK_MODE=socket, with SLACK_APP_TOKEN)"
            )
        api_url = _url(v.get("SLACK_API_URL") or "https://slack.com/api/", "SLACK_API_URL", problems)
        api_url = api_url if api_url.endswith("/") else api_url + "/"  # slack_sdk joins method names on
        port = _int(v, "PORT", 3000, 1, 65535, problems)
        host = (v.get("HOST") or "0.0.0.0").strip()
        if not host or any(c.isspace() or c in "/@" for c in host):
            problems.append(f"HOST: {host!r} is not a host name or IP address")
        max_body = _int(v, "HTTP_MAX_BODY_BYTES", 1_048_576, 1024, 100 * 1_048_576, problems)
        limit = _int(v, "HTTP_CONNECTION_LIMIT", 100, 1, 100_000, problems)
        idle = _int(v, "HTTP_IDLE_TIMEOUT", 15, 1, 3600, problems)
        threads = _int(v, "HTTP_THREADS", 8, 1, 256, problems)
        workers = _int(v, "MAISKY_SLACK_WORKERS", 16, 1, 256, problems)
        processes = _int(v, "HTTP_PROCESSES", default_http_processes(), 1, 64, problems)
        if problems:
            raise ConfigError(problems)
        allow = frozenset(u.strip() for u in v.get("MAISKY_SLACK_DAILY_ALLOWLIST", "").split(",") if u.strip())
        return SlackSettings(
            bot_token, secret, app_token, api_url, port, allow, host, chosen, max_body, limit, idle, threads,
            workers, client_id, client_secret, processes,
        )  # fmt: skip

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
            if _digits(raw_guild) and 15 <= len(raw_guild) <= 21:
                guild_id = int(raw_guild)
            else:
                problems.append(f"DISCORD_GUILD_ID: {_shown(raw_guild)} is not a server id (a 17-20 digit number)")
        api_base = _url(v.get("DISCORD_API_BASE") or "https://discord.com/api/v10", "DISCORD_API_BASE", problems)
        gateway = v.get("DISCORD_GATEWAY_URL", "").strip()
        if gateway:
            gateway = _url(gateway, "DISCORD_GATEWAY_URL", problems, ("ws", "wss"))
        shards, shard_ids = _shards(v, problems)
        state = Path(v.get("MAISKY_STATE_DIR") or ".maisky-state")
        if state.exists() and not state.is_dir():
            problems.append(f"MAISKY_STATE_DIR: {state} is a file, not a folder")
        elif state.is_dir() and not os.access(state, os.W_OK | os.X_OK):
            problems.append(f"MAISKY_STATE_DIR: {state} is not writable")
        if problems:
            raise ConfigError(problems)
        return DiscordSettings(token, guild_id, api_base.rstrip("/"), gateway, shards, state, shard_ids)


def _shards(v: Mapping[str, str], problems: list[str]) -> tuple[int | None, tuple[int, ...] | None]:
    """DISCORD_SHARDS (or DISCORD_SHARD_COUNT: the same total, by its other name) and DISCORD_SHARD_IDS,
    the shards this process runs when they are split over several processes. Every number is read only
    when it has at most as many digits as the largest allowed (int() refuses 4,301 digits and more with
    a ValueError), and the ids only once the total is known, each range checked against it before it is
    expanded: the work is bounded by the total, however long the value."""
    count: int | None = None
    named: dict[str, str] = {}
    given = {"DISCORD_SHARDS": v.get("DISCORD_SHARDS", ""), "DISCORD_SHARD_COUNT": v.get("DISCORD_SHARD_COUNT", "")}
    for name, typed in given.items():
        raw = typed.strip().lower()
        if not raw:
            continue
        named[name] = raw
        number = _number(raw)
        if raw == "auto" and name == "DISCORD_SHARDS":
            value = 0
        elif number is not None and 0 < number <= _MAX_SHARDS:
            value = number
        else:
            allowed = "'auto' or a" if name == "DISCORD_SHARDS" else "a"
            problems.append(f"{name}: {_shown(raw)} must be {allowed} whole number from 1 to {_MAX_SHARDS}")
            continue
        if count is not None and count != value:
            problems.append(
                f"DISCORD_SHARDS and DISCORD_SHARD_COUNT: {_shown(named['DISCORD_SHARDS'])} and {_shown(raw)} "
                "disagree (they name the same total; set one)"
            )
        count = value
    raw_ids = v.get("DISCORD_SHARD_IDS", "").strip()
    if not raw_ids:
        return count, None
    if not count:  # missing, 'auto' (0) or malformed: a process with some of the shards must know the total
        if "DISCORD_SHARD_COUNT" not in named and "DISCORD_SHARDS" not in named:
            problems.append(
                "DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT, the total number of shards over every process "
                "(the same on each)"
            )
        elif count == 0:
            problems.append(
                "DISCORD_SHARD_IDS: needs a fixed total, not DISCORD_SHARDS=auto: set DISCORD_SHARD_COUNT to the "
                "same number on every process"
            )
        return count, None
    ids: set[int] = set()
    beyond: set[int] = set()
    for part in (p.strip() for p in raw_ids.split(",")):
        low, dash, high = (x.strip() for x in part.partition("-"))
        first, last = _number(low), _number(high) if dash else _number(low)
        if first is None or last is None:
            if _digits(low) and (not dash or _digits(high)):  # digits, but more of them than any shard id has
                problems.append(f"DISCORD_SHARD_IDS: {_shown(part)} is beyond the most shards a bot can have "
                                f"({_MAX_SHARDS})")  # fmt: skip
            else:
                problems.append(f"DISCORD_SHARD_IDS: {_shown(part)} is not a shard id or a range such as 0-3")
            return count, None
        if last < first:
            problems.append(f"DISCORD_SHARD_IDS: the range {_shown(part)} runs backwards")
            return count, None
        if last >= _MAX_SHARDS:
            problems.append(f"DISCORD_SHARD_IDS: {last} is beyond the most shards a bot can have ({_MAX_SHARDS})")
            return count, None
        if last >= count:
            beyond |= set(range(max(first, count), min(last, count + 4) + 1))  # a few, to name them
            last = count - 1
            if last < first:
                continue
        span = set(range(first, last + 1))
        if repeated := ids & span:
            problems.append(f"DISCORD_SHARD_IDS: {', '.join(map(str, sorted(repeated)[:5]))} listed twice")
            return count, None
        ids |= span
    if beyond:
        shown = ", ".join(map(str, sorted(beyond)[:5]))
        problems.append(
            f"DISCORD_SHARD_IDS: {shown} not below DISCORD_SHARD_COUNT={count} (shard ids run from 0 to {count - 1})"
        )
    return count, tuple(sorted(ids))


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit alone takes "²", which int() refuses


def _number(text: str) -> int | None:
    """A whole number written in ASCII digits, of no more digits than the largest allowed (a longer one is
    out of range anyway, and int() raises ValueError past 4,300 digits); None otherwise."""
    return int(text) if _digits(text) and len(text) <= len(str(_MAX_SHARDS)) else None


def _shown(raw: str) -> str:
    """A typed value in a message: quoted, and cut short when it is long."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")


def _check_database(url: str, name: str, problems: list[str]) -> None:
    """What can be told about a database URL without connecting: a driver the bot has, a port that
    is a number, connect options libpq knows, and a SQLite file that can be written."""
    scheme, sep, rest = url.partition("://")
    kind = _DATABASES.get(scheme.lower())
    if not sep or kind is None:
        shown = scheme if sep else url
        problems.append(
            f"{name}: {shown!r} is not a supported database (use sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB)"
        )
        return
    if kind == "sqlite":
        path = rest.split("?", 1)[0].removeprefix("/")
        if path in ("", ":memory:"):
            return
        file = Path(path)
        folder = file.parent if str(file.parent) else Path(".")
        if file.is_dir():
            problems.append(f"{name}: {file} is a folder, not a SQLite file")
        elif file.exists() and not os.access(file, os.R_OK | os.W_OK):
            problems.append(f"{name}: {file} is read-only (the bot writes subscriptions and posts there)")
        elif file.exists() and not _looks_like_sqlite(file):
            problems.append(f"{name}: {file} is not a SQLite database (damaged, or another kind of file)")
        elif not file.exists() and not folder.is_dir():
            problems.append(f"{name}: the folder {folder} does not exist")
        elif not os.access(folder, os.W_OK | os.X_OK):
            problems.append(f"{name}: the folder {folder} is read-only (SQLite writes its journal beside the file)")
        return
    if importlib.util.find_spec("psycopg") is None:
        problems.append(
            f"{name}: PostgreSQL needs its driver, which is not installed: pip install 'maisky-bot[postgres]' (psycopg)"
        )
    parsed = urlparse(url)
    try:
        parsed.port  # noqa: B018  # urlparse checks the port only when asked
    except ValueError:
        port = parsed.netloc.rpartition(":")[2]
        # without an "@" the text after the colon may be a password typed without its host: never shown
        shown = f"the port {port!r}" if "@" in parsed.netloc or port.isdigit() else "the text after the host's colon"
        problems.append(f"{name}: {shown} is not a number between 1 and 65535")
    if not parsed.hostname and "host" not in dict(parse_qsl(parsed.query)):
        problems.append(f"{name}: no host (postgresql://USER:PASSWORD@HOST:5432/DB)")
    for key, value in parse_qsl(parsed.query, keep_blank_values=True):
        allowed = _PG_OPTIONS.get(key)
        if allowed is None:
            problems.append(f"{name}: unknown connect option {key!r} (known: {', '.join(sorted(_PG_OPTIONS))})")
        elif allowed and value not in allowed:
            problems.append(f"{name}: {key}={value!r} is not one of {', '.join(allowed)}")
        elif key in ("connect_timeout", "port", "keepalives", "keepalives_idle") and not value.isdigit():
            problems.append(f"{name}: {key}={value!r} is not a whole number")


def _with_connect_timeout(url: str, seconds: int) -> str:
    """A PostgreSQL URL that gives up connecting after `seconds` (libpq waits for ever by default, so a
    host that never answers hung start-up for minutes), unless the URL sets its own connect_timeout."""
    scheme = url.partition("://")[0].lower()
    if _DATABASES.get(scheme) != "postgresql" or "connect_timeout=" in url.partition("?")[2]:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={seconds}"


def _looks_like_sqlite(file: Path) -> bool:
    """An empty file is a new database to SQLite; anything else must start with its header."""
    try:
        with file.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head in (b"", b"SQLite format 3\x00")
