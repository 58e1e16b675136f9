"""Payloads Slack sends about installations (Enterprise Grid installs, revoked tokens, an uninstalled app,
events held back), in the shapes Slack's own sources show; each notes where its shape comes from.
Ids are changed to the fake's; every field and its type is as the source has it."""

from __future__ import annotations

from typing import Any

BOLT = "slackapi/bolt-python@a2f21ae4b1d1d63a6a5dc533aa53a8c4badd103d"


def grid_workspace_access(code_team: str, enterprise: str) -> dict[str, Any]:
    """oauth.v2.access for an install in one workspace of a Grid organisation: both team and enterprise.
    Source: BOLT tests/mock_web_api_server/mock_handler.py, OAUTH_V2_ACCESS_RESPONSE."""
    return {
        "ok": True,
        "access_token": f"xoxb-{code_team}",
        "token_type": "bot",
        "scope": "chat:write,commands",
        "bot_user_id": "U0KRQLJ9H",
        "app_id": "A0KRD7HC3",
        "team": {"name": "Slack Softball Team", "id": code_team},
        "enterprise": {"name": "slack-sports", "id": enterprise},
        "authed_user": {"id": "U1234", "scope": "chat:write", "access_token": "xoxp-1234", "token_type": "user"},
    }


def org_wide_access(enterprise: str) -> dict[str, Any]:
    """oauth.v2.access for an org-wide install: team null, is_enterprise_install true.
    Source: https://api.slack.com/enterprise/apps/reference ("Sample oauth.v2.access response")."""
    return {
        "ok": True,
        "access_token": f"xoxb-{enterprise}",
        "token_type": "bot",
        "scope": "identify,users:read",
        "bot_user_id": "W0XXXX",
        "app_id": "A0UXXXX",
        "team": None,
        "enterprise": {"id": enterprise, "name": "Starship"},
        "is_enterprise_install": True,
        "authed_user": {"id": "WXXXX", "access_token": "xoxp-XXXX"},
    }


def grid_slash(team: str, enterprise: str, org_wide: bool) -> dict[str, str]:
    """The form fields a slash command carries from a workspace of a Grid organisation: enterprise_id,
    enterprise_name, and is_enterprise_install as the text "true" or "false".
    Source: https://docs.slack.dev/tools/bolt-js/reference/interfaces/SlashCommand (the fields and their
    types) and BOLT slack_bolt/request/internals.py extract_is_enterprise_install (reads "true")."""
    return {"team_id": team, "enterprise_id": enterprise, "enterprise_name": "Starship",
            "is_enterprise_install": "true" if org_wide else "false"}  # fmt: skip


def tokens_revoked(team: str | None, enterprise: str | None, bot_user: str) -> dict[str, Any]:
    """tokens_revoked, the bot's token among them. Source: https://docs.slack.dev/reference/events/tokens_revoked
    (a workspace's: team_id); BOLT tests/scenario_tests/test_events_token_revocations.py (an organisation's:
    enterprise_id, no team_id)."""
    body: dict[str, Any] = {
        "token": "XXYYZZ",
        "api_app_id": "AXXXXXXXXX",
        "event": {"type": "tokens_revoked", "tokens": {"oauth": ["UXXXXXXXX"], "bot": [bot_user]}},
        "type": "event_callback",
        "event_id": f"EvRevoked{team or enterprise}",
        "event_time": 1234567890,
    }
    if team:
        body["team_id"] = team
    if enterprise:
        body["enterprise_id"] = enterprise
    return body


def app_uninstalled(team: str | None, enterprise: str | None) -> dict[str, Any]:
    """app_uninstalled. Source: https://docs.slack.dev/reference/events/app_uninstalled (a workspace's);
    BOLT tests/scenario_tests/test_events_token_revocations.py test_app_uninstalled (an organisation's)."""
    body: dict[str, Any] = {
        "token": "XXYYZZ",
        "api_app_id": "AXXXXXXXXX",
        "event": {"type": "app_uninstalled"},
        "type": "event_callback",
        "event_id": f"EvUninstalled{team or enterprise}",
        "event_time": 1234567890,
    }
    if team:
        body["team_id"] = team
    if enterprise:
        body["enterprise_id"] = enterprise
    return body


def app_rate_limited(team: str) -> dict[str, Any]:
    """Sent to the Request URL, unasked and with no inner event, when Slack holds back a workspace's events.
    Source: https://docs.slack.dev/reference/events/app_rate_limited/ (the page's complete payload)."""
    return {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "type": "app_rate_limited",
        "team_id": team,
        "minute_rate_limited": 1518467820,
        "api_app_id": "A123456",
    }
