"""Slack Events API payloads as Slack sends them, for replaying through the real bolt app.

Each shape comes from the public source named beside it. Ids are changed to the fakes' (team T1, the
bot's user UBOT), the text to a question the bundled sources answer, and ts values where a test
needs its own; every field is kept where the source has it.
"""

from __future__ import annotations

import copy
import time
from typing import Any

# The sources, at the commits read.
BOLT = "slackapi/bolt-python@a2f21ae4b1d1d63a6a5dc533aa53a8c4badd103d"
JAVA = "slackapi/java-slack-sdk@86ff7ca9915e21882def04c2d579ac02503f95fe"

QUESTION = "<@UBOT> what did you think of Eden?"


def now_ts(offset: float = 0.0) -> str:
    """A message ts as Slack writes it (seconds.microseconds), for a message sent about now."""
    return f"{time.time() + offset:.6f}"


def wrap(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The event_callback envelope: BOLT tests/scenario_tests/test_message_thread_broadcast.py
    (`event_payload`), team and bot ids changed to the fakes'."""
    return {
        "token": "verification-token",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": copy.deepcopy(event),
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {"enterprise_id": None, "team_id": "T1", "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
        "event_context": "1-app_mention-T1-C111",
    }


def app_mention(ts: str, text: str = QUESTION) -> dict[str, Any]:
    """A mention in a channel: BOLT tests/scenario_tests/test_events.py (`valid_event_body["event"]`)."""
    return {
        "client_msg_id": "9cbd4c5b-7ddf-4ede-b479-ad21fca66d63",
        "type": "app_mention",
        "text": text,
        "user": "W222",
        "ts": ts,
        "team": "T1",
        "channel": "C111",
        "event_ts": ts,
    }


def edited_app_mention(ts: str, edited_at: str, text: str = QUESTION) -> dict[str, Any]:
    """The same message edited: Slack delivers it again as an app_mention with a new event_id, the same
    ts and an `edited` object (JAVA json-logs/samples/events/AppMentionPayload.json has `edited`
    {user, ts} on app_mention; the model is slack-api-model/.../event/AppMentionEvent.java)."""
    return app_mention(ts, text) | {"edited": {"user": "W222", "ts": edited_at}, "event_ts": edited_at}


def thread_broadcast_mention(ts: str, root_ts: str) -> dict[str, Any]:
    """A thread reply also sent to the channel: BOLT tests/scenario_tests/test_message_thread_broadcast.py
    (`event_payload["event"]`), as the app_mention it is when it mentions the bot (AppMentionEvent.java
    in JAVA carries `subtype`)."""
    return {
        "type": "app_mention",
        "subtype": "thread_broadcast",
        "text": QUESTION,
        "user": "U111",
        "ts": ts,
        "thread_ts": root_ts,
        "root": {
            "client_msg_id": "111-222-333-444-555",
            "type": "message",
            "text": "Write in the thread :bow:",
            "user": "U111",
            "ts": root_ts,
            "team": "T1",
            "thread_ts": root_ts,
            "reply_count": 17,
            "reply_users_count": 1,
            "latest_reply": ts,
            "reply_users": ["U111"],
            "is_locked": False,
        },
        "client_msg_id": "111-222-333-444-666",
        "channel": "C111",
        "event_ts": ts,
        "channel_type": "channel",
    }


_FILE = {
    "id": "F111",
    "created": 1652227642,
    "timestamp": 1652227642,
    "name": "file.png",
    "title": "file.png",
    "mimetype": "image/png",
    "filetype": "png",
    "pretty_type": "PNG",
    "user": "U111",
    "editable": False,
    "size": 92582,
    "mode": "hosted",
    "is_external": False,
    "external_type": "",
    "is_public": True,
    "public_url_shared": False,
    "display_as_bot": False,
    "username": "",
    "url_private": "https://files.slack.com/files-pri/T111-F111/file.png",
    "url_private_download": "https://files.slack.com/files-pri/T111-F111/download/file.png",
    "permalink": "https://xxx.slack.com/files/U111/F111/file.png",
    "has_rich_preview": False,
}


def file_share(ts: str, *, direct: bool, text: str = QUESTION) -> dict[str, Any]:
    """A message with a file: BOLT tests/scenario_tests/test_message_file_share.py (`event_payload["event"]`,
    the file's thumbnails left out). `direct`: in a DM with the bot (message.im, channel D...), else
    the app_mention of a channel message that mentions the bot."""
    event = {
        "type": "message" if direct else "app_mention",
        "text": text,
        "files": [copy.deepcopy(_FILE)],
        "upload": False,
        "user": "U111",
        "display_as_bot": False,
        "ts": ts,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "ba4",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "client_msg_id": "ca088267-717f-41a8-9db8-c98ae14ad6a0",
        "channel": "D111" if direct else "C111",
        "subtype": "file_share",
        "event_ts": ts,
        "channel_type": "im" if direct else "channel",
    }
    return event


def document_mention(ts: str) -> dict[str, Any]:
    """The bot mentioned in the body of a canvas: https://docs.slack.dev/reference/events/message/document_mention/
    (the page's example event)."""
    return {
        "user": "UA1BCD3EF",
        "subtype": "document_mention",
        "document_mention": {
            "file_id": "F123ABCDEFG",
            "section_id": "temp:C:GQL71204e5bd23942c79f0a22a51",
            "mentioning_user_ids": ["UA1BCD3EF"],
        },
        "type": "app_mention",
        "ts": ts,
        "text": "<@UBOT> was mentioned in a canvas",
        "team": "T1",
        "blocks": [
            {
                "type": "section",
                "block_id": "gcn3v",
                "text": {"type": "mrkdwn", "text": "&gt;&gt;&gt;Hey <@UBOT>", "verbatim": False},
            }
        ],
        "channel": "C012ABCDEFG",
        "event_ts": ts,
    }


def message_changed_in_dm(ts: str) -> dict[str, Any]:
    """An edit in a DM with the bot: BOLT tests/scenario_tests/test_message_changed.py (`event_payload["event"]`),
    in a DM (channel_type im, as message.im delivers it)."""
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": {
            "type": "message",
            "text": "what did you think of Eden?",
            "user": "U111",
            "team": "T1",
            "edited": {"user": "U111", "ts": ts},
        },
        "previous_message": {
            "type": "message",
            "text": "what did you think of Edne?",
            "user": "U111",
            "team": "T1",
            "ts": "1665102338.901939",
        },
        "channel": "D111",
        "hidden": True,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
    }


def message_deleted_in_dm(ts: str) -> dict[str, Any]:
    """A deletion in a DM with the bot: BOLT tests/scenario_tests/test_message_deleted.py (`event_payload["event"]`)."""
    return {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": {
            "type": "message",
            "text": "what did you think of Eden?",
            "user": "U111",
            "team": "T1",
            "ts": "1665368619.804829",
        },
        "channel": "D111",
        "hidden": True,
        "deleted_ts": "1665368619.804829",
        "event_ts": ts,
        "ts": ts,
        "channel_type": "im",
    }


def other_bot_in_dm(ts: str) -> dict[str, Any]:
    """Another app's post: BOLT tests/scenario_tests/test_message_bot.py (`bot_message_event_payload["event"]`)."""
    return {
        "bot_id": "B999",
        "type": "message",
        "text": "what did you think of Eden?",
        "user": "UB111",
        "ts": ts,
        "team": "T1",
        "bot_profile": {
            "id": "B999",
            "deleted": False,
            "name": "other-app",
            "updated": 1607307935,
            "app_id": "A222",
            "team_id": "T1",
        },
        "channel": "D111",
        "event_ts": ts,
        "channel_type": "im",
    }


def channel_join_mention(ts: str) -> dict[str, Any]:
    """A system line that mentions the bot ("<@UBOT> has joined the channel"): JAVA
    json-logs/samples/events/MessageChannelJoinPayload.json's event fields, as an app_mention."""
    return {
        "type": "app_mention",
        "subtype": "channel_join",
        "team": "T1",
        "user": "UBOT2",
        "inviter": "U111",
        "channel": "C111",
        "channel_type": "channel",
        "text": "<@UBOT> has joined the channel",
        "ts": ts,
        "event_ts": ts,
    }


def channel_message(ts: str, text: str = "what did you think of Eden?") -> dict[str, Any]:
    """A plain message in a public channel, as message.channels delivers it: BOLT
    tests/scenario_tests/test_message_bot.py (`user_message_event_payload["event"]`)."""
    return {
        "client_msg_id": "968c94da-c271-4f2a-8ec9-12a9985e5df4",
        "type": "message",
        "text": text,
        "user": "W111",
        "ts": ts,
        "team": "T1",
        "channel": "C111",
        "event_ts": ts,
        "channel_type": "channel",
    }


def direct_message(ts: str, text: str = "what did you think of Eden?") -> dict[str, Any]:
    """A message in a DM with the bot (message.im): https://docs.slack.dev/reference/events/message.im/
    (type message, channel D..., channel_type im)."""
    return {
        "type": "message",
        "text": text,
        "user": "U111",
        "ts": ts,
        "team": "T1",
        "channel": "D111",
        "event_ts": ts,
        "channel_type": "im",
    }


def slash_command(text: str, response_url: str, *, channel_id: str = "C111", channel_name: str = "random",
                  user: str = "UADMIN") -> dict[str, str]:  # fmt: skip
    """A /maisky slash command's form fields: BOLT tests/scenario_tests/test_slash_command.py
    (`slash_command_body`). In a DM Slack names the channel "directmessage" and in a group DM
    "mpdm-user1--user2--user3-1" (https://docs.slack.dev/reference/objects/mpim-object), whose id may
    start with C like a channel's."""
    return {
        "token": "verification_token",
        "team_id": "T1",
        "team_domain": "test-domain",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": "primary-owner",
        "command": "/maisky",
        "text": text,
        "response_url": response_url,
        "trigger_id": f"111.111.{time.monotonic_ns()}",
    }


def member(uid: str, name: str, display_name: str = "", real_name: str = "", **flags: bool) -> dict[str, Any]:
    """One member as users.list lists it: JAVA json-logs/samples/api/users.list.json (`members[0]`,
    the images, status and enterprise fields left out); `flags` such as deleted=True or is_bot=True."""
    return {
        "id": uid,
        "name": name,
        "is_bot": False,
        "updated": 1502138686,
        "is_app_user": False,
        "team_id": "T1",
        "deleted": False,
        "color": "9f69e7",
        "real_name": real_name,
        "tz": "Europe/London",
        "tz_label": "Greenwich Mean Time",
        "tz_offset": 0,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "profile": {
            "real_name": real_name,
            "display_name": display_name,
            "avatar_hash": "ge3b51ca72de",
            "real_name_normalized": real_name,
            "display_name_normalized": display_name,
            "first_name": real_name.partition(" ")[0],
            "last_name": real_name.partition(" ")[2],
            "team": "T1",
            "title": "",
        },
        "has_2fa": False,
        "locale": "en-GB",
    } | flags


def missing_scope(needed: str) -> dict[str, Any]:
    """A Web API call without the scope it needs: the answer apache/superset#15904 quotes,
    {'ok': False, 'error': 'missing_scope', 'needed': ..., 'provided': ...}."""
    return {"ok": False, "error": "missing_scope", "needed": needed,
            "provided": "app_mentions:read,channels:read,chat:write,chat:write.public,commands,groups:read,"
                        "im:history,users:read"}  # fmt: skip


def group_dm_info(channel_id: str) -> dict[str, Any]:
    """conversations.info's `channel` for a group DM the bot is in: the MPIM object of
    https://docs.slack.dev/reference/objects/mpim-object with the conversation object's is_private
    and is_member (https://docs.slack.dev/reference/objects/conversation-object)."""
    return {
        "id": channel_id,
        "name": "mpdm-user1--user2--user3-1",
        "is_mpim": True,
        "is_group": False,
        "is_private": True,
        "is_member": True,
        "created": 1360782804,
        "creator": "U024BE7LH",
    }


def own_dm_info(channel_id: str, user: str) -> dict[str, Any]:
    """conversations.info's `channel` for the bot's own DM with a member: the IM object of
    https://docs.slack.dev/reference/objects/im-object (is_im, user)."""
    return {"id": channel_id, "is_im": True, "user": user, "created": 1360782804, "is_user_deleted": False}
