"""`maisky doctor`: what is wrong with a deployment, and how to fix it, as values and as a table.

The platform-free checks live here (settings, the database, which subscriptions have a platform to
post with); each chat platform supplies a `Probe` that tests its token and says, as facts (`Reach`),
whether the bot can still post in a channel, and words the troubles that are its own (`Probe.advice`:
a Slack scope, a Discord permission); `advice` here words the rest, true of every platform.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bot.chat.voice import load_persona
from bot.club.reach import Reach, Trouble
from bot.errors import ConfigError, MaiskyError, mask_userinfo
from bot.ops.settings import Settings
from bot.ops.store import MIGRATIONS, database_url
from bot.sources.corpus import load_corpus

__all__ = ["Finding", "Place", "Probe", "Reach", "Trouble", "advice", "examine", "healthy", "table"]


@dataclass(frozen=True)
class Finding:
    """One check's result: `fix` says what to do when it is not ok."""

    area: str  # "settings", "database", "slack", "discord", "daily"
    subject: str  # what was checked: a variable, the token, a channel
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Place:
    """A channel with a daily subscription, active or paused."""

    platform: str
    workspace: str
    channel: str
    enterprise: str = ""  # the installation that serves it, where a workspace has several (Slack Enterprise Grid)
    enterprise_install: bool = False
    paused: str | None = None  # why its posts were paused; None while they go on


class Probe(Protocol):
    """A chat platform's checks; the adapters implement it (adapters/slack/checks.py, adapters/discord/checks.py)."""

    platform: str

    def account(self) -> list[Finding]:
        """The token (and what it may do: scopes, the synced command set)."""
        ...

    def reach(self, place: Place) -> Reach:
        """Whether the bot can post in the channel now."""
        ...

    def advice(self, reach: Reach) -> tuple[str, str] | None:
        """(what is wrong, how to fix it) in the platform's own terms; None: `advice` words it."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def advice(reach: Reach) -> tuple[str, str]:
    """(what is wrong, how to fix it) for a channel the bot cannot post in, in words true of every
    platform; ("", "") when it can. Each platform's probe words its own troubles first (Probe.advice)."""
    match reach.trouble:
        case Trouble.NONE:
            return "", ""
        case Trouble.GONE:
            return "the channel is gone, or the bot cannot see it", "let the bot see it, or unsubscribe the channel"
        case Trouble.ARCHIVED:
            return "the channel is archived", "unarchive it, or `/maisky daily off` after unarchiving"
        case Trouble.NOT_MEMBER:
            return "the bot is not in the channel", "invite the bot to the channel"
        case Trouble.MISSING:
            missing = ", ".join(reach.missing)
            return f"the bot lacks {missing}", f"give the bot {missing}"
        case Trouble.NOT_INSTALLED:
            return (
                "the app is not installed in this channel's workspace",
                "install it again, or unsubscribe the channel",
            )
        case Trouble.OTHER_WORKSPACE:
            return "the subscription belongs to another workspace than the token's", (
                "run the bot with that workspace's token, or unsubscribe there"
            )
    return f"could not tell whether the bot can post here ({reach.detail})", "run `maisky doctor` again later"


# the checks


def configured(values: Mapping[str, str]) -> tuple[bool, bool]:
    """Whether Slack and Discord are set up at all (any of their variables set)."""
    slack = any(values.get(k) for k in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"))
    return slack, bool(values.get("DISCORD_TOKEN"))


def slack_mode(values: Mapping[str, str], chosen: str | None = None) -> str | None:
    """The Slack transport to check: as chosen, else SLACK_MODE; else Socket Mode where only its
    token is set (`maisky slack socket` without SLACK_MODE), else HTTP (None: the settings decide)."""
    if chosen or values.get("SLACK_MODE"):
        return chosen
    socket_only = values.get("SLACK_APP_TOKEN") and not values.get("SLACK_SIGNING_SECRET")
    return "socket" if socket_only else None


def check_settings(
    env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env"), slack: str | None = None
) -> tuple[list[Finding], Settings | None]:
    """The settings, each front end's section included when any of its variables is set; `slack` is
    the transport `maisky slack` is run with (http, socket, or None for SLACK_MODE)."""
    found: list[Finding] = []
    checked: Settings | None = None
    try:
        checked = Settings.from_env(env, dotenv)
    except ConfigError as exc:
        found += [_setting(problem) for problem in exc.problems]
    # Each front end's section is checked whatever the common settings said, so one pass names
    # every problem (a bad LOG_LEVEL no longer hides a bad PORT).
    settings = checked or Settings(Path("."), Path("."), values=Settings.read_values(env, dotenv))
    slack_set, discord = configured(settings.values)
    mode = slack_mode(settings.values, slack)
    sections: tuple[tuple[str, bool, Callable[[], object]], ...] = (
        ("Slack", slack_set, lambda: settings.slack(mode=mode)),
        ("Discord", discord, settings.discord),
    )
    for name, wanted, section in sections:
        if not wanted:
            continue
        try:
            section()
        except ConfigError as exc:
            found += [_setting(problem) for problem in exc.problems]
        else:
            found.append(Finding("settings", name, True, "set"))
    if not (slack_set or discord):
        found.append(Finding("settings", "platforms", True, "no Slack or Discord token set: the console only"))
    return found, checked


def _setting(problem: str) -> Finding:
    name, _, what = problem.partition(": ")
    return Finding("settings", name, False, what or problem, f"set {name} correctly (see .env.example or README)")


def check_corpus(settings: Settings) -> list[Finding]:
    """The sources and the persona load (the bot refuses to start otherwise)."""
    try:
        corpus = load_corpus(settings.seeds_dir)
        load_persona(settings.persona_dir)
    except MaiskyError as exc:
        return [Finding("corpus", "MAISKY_SEEDS", False, str(exc), "fix the file and field the message names")]
    what = f"{len(corpus.passages)} passages from {len(corpus.sources)} source(s)"
    return [Finding("corpus", str(settings.seeds_dir.name), True, what)]


def check_database(url: str) -> tuple[list[Finding], list[Place]]:
    """Reachable, and its schema current; the active subscriptions' channels. Reads only: never
    creates or upgrades anything (the bot does that when it starts)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        file = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if not file.exists():
            return [Finding("database", str(file), True, "no file yet: the bot creates it when it starts")], []
    options = {"connect_timeout": 5} if url.startswith(("postgres://", "postgresql")) else {}
    try:
        engine = sa.create_engine(database_url(url), connect_args=options)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        return [Finding("database", "DATABASE_URL", False, f"not a usable database URL ({exc})",
                        "use sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB")], []  # fmt: skip
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            if "maisky_schema" not in tables:
                return [Finding("database", "schema", True, "empty: the bot creates its tables when it starts")], []
            version = int(conn.execute(sa.text("SELECT max(version) FROM maisky_schema")).scalar() or 0)
            rows = _subscriptions(conn) if "subscriptions" in tables else []
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return [Finding("database", "connection", False, f"cannot reach the database ({reason})",
                        "check DATABASE_URL (host, port, password) and that the server is running")], []  # fmt: skip
    finally:
        engine.dispose()
    wanted = len(MIGRATIONS)
    places = [Place(str(p), str(w or ""), str(c), str(e or ""), bool(o), None if a else str(r))
              for p, w, c, e, o, a, r in rows]  # fmt: skip
    if version < wanted:
        finding = Finding("database", "schema", False, f"version {version}, this code needs {wanted}",
                          "start the bot (or `maisky daily run-due`) once: it upgrades the schema")  # fmt: skip
    elif version > wanted:
        finding = Finding("database", "schema", False, f"version {version} is newer than this code's {wanted}",
                          "deploy the newer version of the bot that upgraded it")  # fmt: skip
    else:
        finding = Finding("database", "schema", True, f"reachable, schema version {version}")
    return [finding], places


def _subscriptions(conn: sa.Connection) -> list[Any]:
    """The active subscriptions and the paused ones (not those turned off), as (platform, workspace,
    channel, enterprise, enterprise_install, active, paused_reason); a schema before version 7 has no
    installation columns."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("subscriptions")}
    installation = "enterprise, enterprise_install" if "enterprise_install" in have else "'', 0"
    query = (f"SELECT platform, workspace, channel, {installation}, active, paused_reason FROM subscriptions "
             "WHERE active OR paused_reason IS NOT NULL ORDER BY id")  # fmt: skip
    return list(conn.execute(sa.text(query)).all())


def check_storage(settings: Settings) -> tuple[list[Finding], list[Place]]:
    """The database URL as the bot reads it, where its file lives, then the database itself."""
    try:
        settings.check_database()
    except ConfigError as exc:
        return [_setting(problem) for problem in exc.problems], []
    found, places = check_database(settings.database_url)
    if settings.ephemeral_sqlite:
        found.insert(0, Finding("database", "DATABASE_URL", False, "a SQLite file on a dyno's disk, which Heroku "
                                "wipes at every restart: subscriptions would be lost",
                                "add Heroku Postgres (it sets DATABASE_URL)"))  # fmt: skip
    return found, places


_RESUME = {"slack": "`/maisky daily on`", "discord": "`/maisky daily subscribe`"}  # how each platform says it


def check_places(places: Iterable[Place], probes: Mapping[str, Probe]) -> list[Finding]:
    """Every subscribed channel: can its platform's bot still post there?"""
    found = []
    for place in places:
        subject = f"{place.platform} {place.channel}" + (f" ({place.workspace})" if place.workspace else "")
        if place.platform == "console":
            continue
        probe = probes.get(place.platform)
        if probe is None:
            what = f"subscribed, but {place.platform} is not configured" + (
                f"; paused: {place.paused}" if place.paused else ""
            )
            found.append(Finding("daily", subject, False, what, "set its token, or unsubscribe the channel"))
            continue
        try:
            reach = probe.reach(place)
        except (MaiskyError, OSError) as exc:
            reach = Reach(Trouble.UNKNOWN, detail=str(exc) or type(exc).__name__)
        what, fix = probe.advice(reach) or advice(reach)
        if place.paused is None:
            found.append(Finding("daily", subject, reach.ok, what or "the bot can post here", fix))
            continue
        # A paused subscription posts nothing until someone turns it on again: never "all is well".
        now = f"; now {what}" if what else "; the bot can post there now"
        again = f"a channel manager turns daily posts on again there ({_RESUME.get(place.platform, 'daily subscribe')})"
        found.append(Finding("daily", subject, False, f"paused: {place.paused}{now}", f"{fix}; then {again}"
                             if fix else again))  # fmt: skip
    return found


def examine(
    settings: Settings, probes: Mapping[str, Probe], settings_findings: Sequence[Finding] = ()
) -> list[Finding]:
    """Every check in order: settings, the corpus, each platform's token, the database, each subscribed
    channel."""
    found = list(settings_findings) + check_corpus(settings)
    try:
        for probe in probes.values():
            found += probe.account()
        database, places = check_storage(settings)
        found += database
        found += check_places(places, probes)
    finally:
        for probe in probes.values():
            probe.close()
    return found


def healthy(findings: Iterable[Finding]) -> bool:
    return all(f.ok for f in findings)


# Characters a terminal acts on rather than shows: C0 and C1 controls (escape sequences, carriage return,
# bell), DEL, and the bidirectional overrides that reorder what follows them.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _printable(text: str) -> str:
    """`text` as a terminal shows it, inert: every control character written out as an escape (\\x1b),
    so a name or reason from the database can neither move the cursor, recolour the screen nor start a
    line of its own that reads as one of doctor's."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def table(findings: Sequence[Finding], width: int = 100) -> str:
    """The findings as a plain-text table, problems with their fix, and a last line that sums up.
    Subjects, details and fixes can hold names and reasons kept in the database: their control
    characters are written out (`_printable`)."""
    findings = [
        Finding(_printable(f.area), _printable(f.subject), f.ok, _printable(f.detail), _printable(f.fix))
        for f in findings
    ]
    area_w = max([len("CHECK")] + [len(f.area) for f in findings])
    subject_w = min(32, max([len("SUBJECT")] + [len(f.subject) for f in findings]))
    head = f"{'CHECK':<{area_w}}  {'SUBJECT':<{subject_w}}  {'STATUS':<6}  "
    room = max(30, width - len(head))
    lines = [head + "DETAIL", "-" * min(width, len(head) + room)]
    for f in findings:
        subject = f.subject if len(f.subject) <= subject_w else f.subject[: subject_w - 1] + "…"
        text = textwrap.wrap(mask_userinfo(f.detail), room) or [""]
        if not f.ok and f.fix:
            text += textwrap.wrap("fix: " + f.fix, room, subsequent_indent="     ")
        status = "ok" if f.ok else "FAIL"
        lines.append(f"{f.area:<{area_w}}  {subject:<{subject_w}}  {status:<6}  {text[0]}")
        lines += [" " * len(head) + t for t in text[1:]]
    problems = sum(1 for f in findings if not f.ok)
    lines.append("")
    lines.append("all is well" if not problems else f"{problems} problem{'s' if problems > 1 else ''} to fix")
    return "\n".join(lines) + "\n"
