"""Slack's side of `maisky doctor` and of the subscribe-time check: facts from the Web API.

`auth.test` proves the token and, in its `x-oauth-scopes` header, lists the scopes the workspace
granted; `conversations.info` says whether a channel exists, is archived and has the bot in it.
What those facts mean is bot/ops/doctor.py's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.club.reach import Reach, Trouble
from bot.ops.doctor import Finding, Place
from bot.ops.settings import SlackSettings

__all__ = ["CONVERSATION_SCOPES", "SCOPES", "Installed", "SlackProbe", "granted_scopes", "is_conversation", "reach"]

# The bot scopes of slack-manifest.yml (a test checks that they agree).
SCOPES = frozenset(
    "app_mentions:read channels:read chat:write chat:write.public commands groups:read im:history im:read mpim:read "
    "users:read".split()
)
# The scopes conversations.info needs for a direct message and a group DM (without them Slack answers
# missing_scope, and whether the bot is in the conversation cannot be told).
CONVERSATION_SCOPES = ("im:read", "mpim:read")
GONE = frozenset({"channel_not_found", "is_archived", "channel_is_archived"})


def granted_scopes(headers: dict[str, str] | None) -> frozenset[str] | None:
    """The scopes in an API response's `x-oauth-scopes` header; None when the header is absent."""
    for key, value in (headers or {}).items():
        if key.lower() == "x-oauth-scopes":
            text = value[0] if isinstance(value, list) else value
            return frozenset(s.strip() for s in str(text).split(",") if s.strip())
    return None


def _code(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else ""


def is_conversation(channel: str, name: str = "") -> bool:
    """Whether a slash command's channel is a direct message or a group DM, from its `channel_name`
    ("directmessage", "mpdm-ann--bob-1"; a group DM's id may start with C like a channel's) or a D id."""
    return name == "directmessage" or name.startswith("mpdm-") or channel.startswith("D")


def reach(client: WebClient, channel: str, scopes: frozenset[str] | None = None, *, name: str = "") -> Reach:
    """Whether the bot can post in `channel`; `scopes` are the granted ones when known, `name` the
    channel_name a slash command gives (it tells a direct or group message from a channel)."""
    conversation = is_conversation(channel, name)
    try:
        answer = client.conversations_info(channel=channel)
    except SlackApiError as exc:
        code = _code(exc)
        if code == "channel_not_found":  # for a DM or group DM: one the bot is not in (it sees only its own)
            return Reach(Trouble.GONE, detail=code, private=conversation, conversation=conversation)
        if code == "missing_scope":
            needed = str(exc.response.get("needed", "") if exc.response is not None else "")
            if conversation or needed in CONVERSATION_SCOPES:  # whether the bot is in it cannot be told
                missing = tuple(n for n in needed.split(",") if n) or CONVERSATION_SCOPES
                return Reach(Trouble.MISSING, missing, detail=code, private=True, conversation=True)
            # a channel, on an install from before the manifest had the scope: the scope check says so
            return Reach(Trouble.UNKNOWN, detail=f"missing_scope {needed}".strip())
        return Reach(Trouble.UNKNOWN, detail=code or str(exc))
    except (SlackClientError, OSError) as exc:
        return Reach(Trouble.UNKNOWN, detail=str(exc) or type(exc).__name__)
    scopes = scopes if scopes is not None else granted_scopes(answer.headers)
    info = answer.get("channel") or {}
    conversation = conversation or bool(info.get("is_im") or info.get("is_mpim"))
    private = bool(info.get("is_private") or conversation)
    if info.get("is_archived"):
        return Reach(Trouble.ARCHIVED, private=private, conversation=conversation)
    # the bot sees only the direct and group messages it is in (im:read, mpim:read): seen is in
    if info.get("is_member") or info.get("is_im") or info.get("is_mpim"):
        return Reach(private=private, conversation=conversation)
    if private:  # only an invitation lets the bot in
        return Reach(Trouble.NOT_MEMBER, private=private, conversation=conversation)
    if scopes is not None and "chat:write.public" not in scopes:
        return Reach(Trouble.NOT_MEMBER, ("chat:write.public",))  # an invitation, or this scope
    return Reach(private=private)


def advice(reach: Reach) -> tuple[str, str] | None:
    """What is wrong and how to fix it, in Slack's terms; None where bot.ops.doctor.advice says it."""
    missing = ", ".join(reach.missing)
    match reach.trouble:
        case Trouble.GONE:
            return (
                "the channel is gone, or private without the bot in it",
                "in the channel type `/invite @Maisky`; if it was deleted, nothing to do but unsubscribe",
            )
        case Trouble.NOT_MEMBER if reach.private:
            return "the bot is not in this private channel", "in the channel type `/invite @Maisky`"
        case Trouble.NOT_MEMBER:
            return "the bot is not in the channel and may not post in channels it has not joined", (
                "in the channel type `/invite @Maisky`, or add the chat:write.public scope "
                "(slack-manifest.yml) and reinstall the app"
            )
        case Trouble.MISSING:
            return f"the app lacks the scope(s) {missing}", (
                "add them under OAuth & Permissions (or paste slack-manifest.yml) and reinstall the app"
            )
        case Trouble.NOT_INSTALLED:
            return "the app is not installed in this channel's workspace", (
                "an admin of the workspace installs it again at /slack/install, or unsubscribe the channel"
            )
    return None


@dataclass(frozen=True)
class Installed:
    """One installation of the app (OAuth), as bolt keeps it: a workspace's, within an Enterprise Grid
    organisation or not, or an organisation's own (org-wide: no team)."""

    enterprise: str  # "" outside an organisation
    team: str  # "" for an org-wide install
    org_wide: bool
    token: str

    @property
    def key(self) -> tuple[str, str]:
        """What a subscription's recorded installation is matched on (an org-wide one serves any team)."""
        return (self.enterprise, "" if self.org_wide else self.team)

    @property
    def subject(self) -> str:
        if self.org_wide or not self.team:
            return f"org {self.enterprise} (org-wide)"
        return f"workspace {self.team}" + (f" (org {self.enterprise})" if self.enterprise else "")


class SlackProbe:
    """The Slack bot token (or, with OAuth, each installation's: every workspace's, and every Enterprise
    Grid organisation's org-wide one): accepted, for which workspace, with the manifest's scopes; and
    whether the bot can still post in each subscribed channel."""

    platform = "slack"

    def __init__(
        self, slack: SlackSettings, client: WebClient | None = None, installs: Sequence[Installed] | None = None
    ) -> None:
        self.slack = slack
        self.client = client or WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
        self.installs = installs  # OAuth: the installations kept in the database; None: the one token
        self.workspaces: dict[str, tuple[WebClient, frozenset[str] | None]] = {}  # the tokens that work
        self.installed: dict[tuple[str, str], tuple[WebClient, frozenset[str] | None]] = {}  # OAuth: likewise

    def account(self) -> list[Finding]:
        if self.installs is None:
            return self._token(self.client, "SLACK_BOT_TOKEN", "copy the Bot User OAuth Token (xoxb-...) from the "
                               "app's OAuth & Permissions page; reinstall the app if it was revoked")  # fmt: skip
        if not self.installs:
            return [Finding("slack", "installations", True, "no workspace has installed the app yet "
                            "(an admin opens /slack/install)")]  # fmt: skip
        found = []
        for install in sorted(self.installs, key=lambda i: i.key):
            client = WebClient(token=install.token, base_url=self.slack.api_url, timeout=10)
            who = "the organisation" if install.org_wide else "the workspace"
            fix = f"an admin of {who} installs the app again at /slack/install"
            found += self._token(client, install.subject, fix, install.key)
        return found

    def _token(self, client: WebClient, subject: str, fix: str, key: tuple[str, str] | None = None) -> list[Finding]:
        """auth.test with the token; `key` names the installation (OAuth) whose token it is."""
        try:
            answer = client.auth_test()
        except SlackApiError as exc:
            return [Finding("slack", subject, False, f"Slack refused the token ({_code(exc)})", fix)]
        except (SlackClientError, OSError) as exc:
            return [Finding("slack", "SLACK_API_URL", False, f"cannot reach {self.slack.api_url} ({exc})",
                            "check the network, or SLACK_API_URL")]  # fmt: skip
        team = str(answer.get("team_id", ""))
        scopes = granted_scopes(answer.headers)
        if key is None:
            self.workspaces[team] = (client, scopes)
        else:
            self.installed[key] = (client, scopes)
        where = team if key is None else subject
        found = [Finding("slack", subject, True, f"accepted: bot {answer.get('user', '?')} in {team or '?'}")]
        if scopes is None:
            found.append(Finding("slack", "scopes", True, "Slack did not list the granted scopes; not checked"))
        elif missing := sorted(SCOPES - scopes):
            found.append(Finding("slack", f"scopes ({where})", False, f"missing: {', '.join(missing)}",
                                 "add them under OAuth & Permissions (or paste slack-manifest.yml into the app's "
                                 "manifest) and reinstall the app to the workspace"))  # fmt: skip
        else:
            found.append(Finding("slack", f"scopes ({where})", True, "every scope of slack-manifest.yml granted"))
        if self.slack.socket_mode:
            found.append(self._app_token())
        return found

    def _app_token(self) -> Finding:
        try:
            WebClient(token=self.slack.app_token, base_url=self.slack.api_url, timeout=10).apps_connections_open(
                app_token=self.slack.app_token
            )
        except SlackApiError as exc:
            return Finding("slack", "SLACK_APP_TOKEN", False, f"Slack refused the app token ({_code(exc)})",
                           "create an app-level token with connections:write (Basic Information) and enable "
                           "Socket Mode")  # fmt: skip
        except (SlackClientError, OSError) as exc:
            return Finding("slack", "SLACK_APP_TOKEN", False, f"could not check it ({exc})", "try again later")
        return Finding("slack", "SLACK_APP_TOKEN", True, "accepted for Socket Mode")

    def close(self) -> None:
        pass  # slack_sdk opens a connection per call

    def advice(self, reach: Reach) -> tuple[str, str] | None:
        return advice(reach)

    def reach(self, place: Place) -> Reach:
        if self.installs is not None:  # OAuth: the installation the subscription recorded, as run-due finds it
            key = (place.enterprise, "" if place.enterprise_install else place.workspace)
            found = self.installed.get(key)
            if found is not None:
                return reach(found[0], place.channel, found[1])
            if key in {i.key for i in self.installs}:
                return Reach(Trouble.UNKNOWN, detail="its installation's token does not work")
            return Reach(Trouble.NOT_INSTALLED, detail=place.workspace)
        entry = self.workspaces.get(place.workspace)
        if entry is None and not place.workspace and len(self.workspaces) == 1:
            entry = next(iter(self.workspaces.values()))  # a subscription from before workspaces were kept
        if entry is not None:
            return reach(entry[0], place.channel, entry[1])
        if self.workspaces:
            return Reach(Trouble.OTHER_WORKSPACE, detail=place.workspace)
        return Reach(Trouble.UNKNOWN, detail="the bot token does not work")
