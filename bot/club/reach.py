"""Whether the bot can post in a channel, as facts a platform reports.

What they mean is decided by the front desk (at subscribe time) and the doctor (for existing
subscriptions)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Reach", "Trouble"]


class Trouble(StrEnum):
    """Why the bot cannot post in a channel, as a platform reports it."""

    NONE = ""
    GONE = "gone"  # deleted, or hidden from the bot (a private channel it is not in)
    ARCHIVED = "archived"
    NOT_MEMBER = "not_member"  # the bot must be invited before it may post
    MISSING = "missing"  # the bot lacks permissions (Discord) or scopes (Slack) named in `missing`
    OTHER_WORKSPACE = "other_workspace"  # the token belongs to another workspace or server
    NOT_INSTALLED = "not_installed"  # the app is not (or no longer) installed in the channel's workspace
    UNKNOWN = "unknown"  # the platform would not say; `detail` has its answer


@dataclass(frozen=True)
class Reach:
    """What a platform says about posting in one channel: facts only, no advice."""

    trouble: Trouble = Trouble.NONE
    missing: tuple[str, ...] = ()  # permission or scope names, in the platform's own spelling
    detail: str = ""  # the platform's own words (an error code, a status)
    private: bool = False  # a private channel: only an invitation lets the bot in
    # a direct or group message rather than a channel: nobody can invite the bot into one it is not in
    conversation: bool = False

    @property
    def ok(self) -> bool:
        return self.trouble is Trouble.NONE
