"""The members of a Slack workspace a name typed after @ may mean, from `users.list`.

A slash command whose `should_escape` is false (the manifest's setting before it was true, and so
every install made from it, which keeps its old manifest) sends `/maisky daily grant @teacher` as
the text "@teacher", not as a mention. Slack's Web API has no lookup by name (`users.lookupByEmail`
needs an email and the `users:read.email` scope), so the members are listed, page by page, and the
name is compared with each one's username, display name and real name: the display name and
username first (what the @ list shows), the real name only when neither matches.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

__all__ = ["PAGE", "PAGES", "find_members"]

log = logging.getLogger(__name__)

PAGE = 200  # members a page (Slack recommends no more than 200)
PAGES = 50  # pages at most (10,000 members): past that, a member ID is the way


def _fold(text: object) -> str:
    """A name as compared: NFKC, case-folded, without a leading @, spaces collapsed."""
    name = unicodedata.normalize("NFKC", str(text or "")).casefold().strip().removeprefix("@")
    return " ".join(name.split())


def _names(member: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(what the @ list shows: display name and username; the real name), folded."""
    profile = member.get("profile") or {}
    shown = {member.get("name"), profile.get("display_name"), profile.get("display_name_normalized")}
    real = {member.get("real_name"), profile.get("real_name"), profile.get("real_name_normalized")}
    return {_fold(n) for n in shown if n} - {""}, {_fold(n) for n in real if n} - {""}


def find_members(client: WebClient, typed: str) -> tuple[str, ...] | None:
    """The ids of the people (not bots, not deactivated) whose name is `typed`; None when the list
    could not be read (an error, or more than PAGES pages), so that nobody is guessed at."""
    wanted = _fold(typed)
    if not wanted:
        return ()
    shown: list[str] = []
    real: list[str] = []
    pages = 0
    try:
        for page in client.users_list(limit=PAGE):  # slack_sdk follows response_metadata.next_cursor
            pages += 1
            if pages > PAGES:
                log.warning("the workspace has more than %d members; not looked through for a name", PAGE * PAGES)
                return None
            for member in page.get("members") or []:
                if member.get("deleted") or member.get("is_bot") or member.get("id") in (None, "USLACKBOT"):
                    continue
                display, full = _names(member)
                if wanted in display:
                    shown.append(str(member["id"]))
                elif wanted in full:
                    real.append(str(member["id"]))
    except (SlackApiError, SlackClientError, OSError) as exc:
        code = exc.response.get("error", "") if isinstance(exc, SlackApiError) and exc.response is not None else ""
        log.warning("could not list the workspace's members (%s)", code or type(exc).__name__)
        return None
    return tuple(dict.fromkeys(shown or real))
