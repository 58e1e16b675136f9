"""The Slack front end through bolt itself: signed HTTP requests to the served app, its WebClient
pointed at a local fake_slack of Slack's Web API, response_url answered by the same fake_slack."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from adapters.slack.app import _Seen, build_app, to_slack
from bot import ConfigError, Maisky, Reply, Settings
from bot.chat.memory import is_key
from bot.ops.bootstrap import build_daily
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.processes import wait_for_port
from tests.adapters.slack_fakes import SECRET, FakeSlack, click, event, served, settings, slash


@pytest.fixture
def url(fake_slack: FakeSlack, make_core: MakeCore) -> Iterator[str]:
    app = build_app(desk_for(make_core()), settings(fake_slack))
    with served(app) as u:
        yield u


def response(fake_slack: FakeSlack, user: str = "U1") -> dict[str, Any]:
    return fake_slack.wait_for(f"/response/{user}")[-1].body


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def assert_valid_blocks(payload: dict[str, Any]) -> None:
    assert 0 < len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        Block.parse(block).to_dict()  # slack_sdk's own checks of Block Kit limits
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def test_bare_text_is_a_question_answered_in_channel(fake_slack: FakeSlack, url: str) -> None:
    status, _ = slash(url, fake_slack, "What did you think of Chamberlain?")
    assert status == 200
    body = response(fake_slack)
    assert body["response_type"] == "in_channel"
    assert_valid_blocks(body)
    first, second = body["blocks"][0], body["blocks"][1]
    assert first["type"] == "context" and "*Maisky as narrator*" in first["elements"][0]["text"]
    assert "grave-digger" in second["text"]["text"] or "umbrella" in second["text"]["text"]
    assert any(
        b["type"] == "context" and "Source: Gabriel Gorodetsky" in b["elements"][0]["text"] for b in body["blocks"]
    )
    actions = next(b for b in body["blocks"] if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == ["maisky_another", "maisky_source"]
    assert actions[1]["url"].startswith("http://www.bostonglobe.com/")
    assert "Maisky as narrator" in body["text"] and "Source: Gabriel Gorodetsky" in body["text"]


@pytest.mark.parametrize(
    ("text", "expect", "public"),
    [
        ("ask Was Eden made of iron?", "soft clay", True),
        ("quote", "Ivan Maisky, ", True),
        ("who kenedy", "Joseph P. Kennedy", True),
        ("sources", "29 passages", True),
        ("about", "not the historical Ivan Maisky", False),
        ("help", "/maisky ask &lt;question&gt;", False),
        ("quot", "/maisky quote", False),
        ("", "/maisky who &lt;person&gt;", False),
        ("What is the capital of Australia?", "You might ask me instead", True),
    ],
)
def test_each_subcommand(fake_slack: FakeSlack, url: str, text: str, expect: str, public: bool) -> None:
    assert slash(url, fake_slack, text)[0] == 200
    body = response(fake_slack)
    assert expect in all_text(body)
    assert body["response_type"] == ("in_channel" if public else "ephemeral")
    assert_valid_blocks(body)


def test_mention_answers_in_a_thread(fake_slack: FakeSlack, url: str) -> None:
    ev = {
        "type": "app_mention",
        "user": "U2",
        "text": "<@UBOT> what did you think of Eden?",
        "ts": "1700.1",
        "channel": "C9",
    }
    assert event(url, ev, "Ev1")[0] == 200
    post = fake_slack.wait_for("/chat.postMessage")[0].body
    assert post["channel"] == "C9" and post["thread_ts"] == "1700.1"
    assert "soft clay" in all_text(post) and "Maisky as narrator" in post["text"]


def test_direct_message_answers_in_the_conversation(fake_slack: FakeSlack, url: str) -> None:
    ev = {
        "type": "message",
        "channel_type": "im",
        "user": "U2",
        "text": "kenedy red hair",
        "ts": "1700.2",
        "channel": "D1",
    }
    assert event(url, ev, "Ev2")[0] == 200
    post = fake_slack.wait_for("/chat.postMessage")[0].body
    assert post["channel"] == "D1" and not post.get("thread_ts")
    assert "quite a character" in all_text(post)


def test_bot_messages_are_not_questions(fake_slack: FakeSlack, url: str) -> None:
    ev = {"type": "message", "channel_type": "im", "bot_id": "BBOT", "text": "Eden", "ts": "1.3", "channel": "D1"}
    assert event(url, ev, "Ev3")[0] == 200
    time.sleep(0.5)
    assert fake_slack.count("/chat.postMessage") == 0


def test_another_passage_is_ephemeral_and_different(fake_slack: FakeSlack, url: str) -> None:
    slash(url, fake_slack, "Kennedy")
    first = response(fake_slack)
    button = next(b for b in first["blocks"] if b["type"] == "actions")["elements"][0]
    assert click(url, fake_slack, {"action_id": "maisky_another", "value": button["value"], "type": "button"})[0] == 200
    second = fake_slack.wait_for("/response/click-U1")[0].body
    assert second["response_type"] == "ephemeral" and second["replace_original"] is False
    ids = [b["elements"][0]["text"].rsplit("[", 1)[1] for b in (first["blocks"] + second["blocks"])
           if b["type"] == "context" and "Source:" in b["elements"][0]["text"]]  # fmt: skip
    assert len(ids) == 2 and ids[0] != ids[1]


def test_source_button_is_acknowledged_without_a_message(fake_slack: FakeSlack, url: str) -> None:
    assert click(url, fake_slack, {"action_id": "maisky_source", "type": "button", "url": "http://x"})[0] == 200
    time.sleep(0.5)
    assert fake_slack.count("/response/") == 0 and fake_slack.count("/chat.postMessage") == 0


def test_bad_signature_wrong_secret_and_stale_timestamp_get_401(fake_slack: FakeSlack, url: str) -> None:
    assert slash(url, fake_slack, "Eden", secret="not-the-secret")[0] == 401
    assert slash(url, fake_slack, "Eden", timestamp=int(time.time()) - 600)[0] == 401
    time.sleep(0.3)
    assert fake_slack.count("/response/") == 0


def test_retried_delivery_never_answers_twice(fake_slack: FakeSlack, url: str) -> None:
    ev = {"type": "app_mention", "user": "U2", "text": "<@UBOT> Eden", "ts": "1700.5", "channel": "C9"}
    assert event(url, ev, "EvSame")[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert event(url, ev, "EvSame", headers=retry)[0] == 200
    fake_slack.wait_for("/chat.postMessage")
    time.sleep(0.5)
    assert fake_slack.count("/chat.postMessage") == 1


def test_delivery_ids_are_remembered_boundedly() -> None:
    """Without a store the ids are kept in the process: the latest `size` of them, never more."""
    seen = _Seen(size=100)
    assert all(seen.first_time(f"Ev{i}") for i in range(1000))
    assert seen.remembered() == 100
    assert not seen.first_time("Ev999") and not seen.first_time("Ev900")  # retries of the latest: refused
    assert seen.first_time("Ev0")  # long forgotten (Slack retries within minutes)


def test_ack_is_immediate_even_when_the_answer_is_slow(fake_slack: FakeSlack, make_core: MakeCore) -> None:
    """The answer is held until the test has its ack: an ack that waited for the answer would never come
    (the request would time out), whatever the machine's speed."""
    release = threading.Event()

    class SlowMaisky(Maisky):
        def ask(self, question: str, rank: int = 0) -> Reply:
            assert release.wait(180)  # longer than Slack's 3 seconds, until the test lets it go
            return super().ask(question, rank)

    core = make_core()
    slow = SlowMaisky(core.corpus, core.matcher, core.voice)
    try:
        with served(build_app(desk_for(slow), settings(fake_slack))) as u:
            assert slash(u, fake_slack, "Was Eden made of iron?")[0] == 200  # acked while the answer is held
            assert fake_slack.count("/response/") == 0
            release.set()
            assert "soft clay" in all_text(fake_slack.wait_for("/response/U1")[0].body)
    finally:
        release.set()


def test_nothing_a_user_types_becomes_a_mention_or_link(fake_slack: FakeSlack, url: str) -> None:
    nasty = "<!channel> <!here> <!everyone> <@U999> <!subteam^S1> <http://evil|click> &amp; Eden iron?"
    slash(url, fake_slack, nasty)
    body = all_text(response(fake_slack))
    for bad in ("<!", "<@", "<#", "<http"):
        assert bad not in body


def test_passage_text_is_escaped(make_core: MakeCore) -> None:
    reply = make_core().ask("Was Eden made of iron?")
    from dataclasses import replace

    payload = to_slack(replace(reply, passage="A & B <!channel> > C", narration="<@U1> hi"))
    text = all_text(payload)
    assert "&amp;" in text and "&lt;!channel&gt;" in text and "<!" not in text and "<@" not in text


def test_long_passages_are_cut_at_a_sentence_and_marked(make_core: MakeCore) -> None:
    reply = make_core().ask("Was Eden made of iron?")
    from dataclasses import replace

    long = " ".join(f"Sentence number {n} is here." for n in range(400))
    payload = to_slack(replace(reply, passage=long))
    section = payload["blocks"][1]["text"]["text"]
    assert len(section) <= 3000 and "is here. […]" in section
    assert_valid_blocks(payload)


def test_cooldown_gets_a_friendly_ephemeral_reply(fake_slack: FakeSlack, make_core: MakeCore) -> None:
    app = build_app(desk_for(make_core(), cooldown=3600), settings(fake_slack))
    with served(app) as u:
        slash(u, fake_slack, "Eden", user="U7")
        fake_slack.wait_for("/response/U7")
        slash(u, fake_slack, "Halifax", user="U7")
        second = fake_slack.wait_for("/response/U7", count=2)[1].body
    assert second["response_type"] == "ephemeral" and "Patience" in all_text(second)


def test_a_failing_core_gets_the_error_template_and_a_logged_traceback(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, make_core: MakeCore
) -> None:
    class Broken(Maisky):
        def ask(self, question: str, rank: int = 0) -> Reply:
            raise RuntimeError("index on fire")

    core = make_core()
    with served(build_app(desk_for(Broken(core.corpus, core.matcher, core.voice)), settings(fake_slack))) as u:
        slash(u, fake_slack, "Eden")
        body = response(fake_slack)
    assert "Something went wrong on my side" in all_text(body) and body["response_type"] == "ephemeral"
    assert any(r.exc_info and "index on fire" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["SLACK_BOT_TOKEN: missing", "SLACK_SIGNING_SECRET: missing"]),
        (
            {"SLACK_BOT_TOKEN": "xoxp-user", "SLACK_APP_TOKEN": "abc"},
            ["must start with xoxb-", "must start with xapp-"],
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PORT": "http"},
            ["PORT: 'http' is not a whole number"],
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "ftp:x"}, ["SLACK_API_URL"]),
    ],
)
def test_settings_errors_name_every_problem(env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env, dotenv=None).slack()
    for text in named:
        assert text in str(err.value)


def test_settings_hide_secrets() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-secret-1", "SLACK_SIGNING_SECRET": "shh", "SLACK_APP_TOKEN": "xapp-2",
           "SLACK_MODE": "socket"}  # fmt: skip
    settings = Settings.from_env(env, dotenv=None)
    slack = settings.slack()
    assert slack.socket_mode and slack.api_url == "https://slack.com/api/"
    for shown in (repr(settings), repr(slack)):
        assert "xoxb-secret-1" not in shown and "shh" not in shown and "xapp-2" not in shown


def test_maisky_slack_exits_1_naming_missing_settings(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    proc = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "slack"], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=False, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "SLACK_BOT_TOKEN: missing" in proc.stderr and "SLACK_SIGNING_SECRET: missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_real_process_serves_http_against_a_fake_slack(fake_slack: FakeSlack, tmp_path: Any) -> None:
    """`maisky slack` end to end: its own HTTP server, SLACK_API_URL pointed at the fake_slack."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"SLACK_BOT_TOKEN": "xoxb-e2e", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_slack.api_url,
            "PORT": str(port), "HOST": "127.0.0.1", "MAISKY_COOLDOWN": "0"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "slack"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_port(port, proc)
        url = f"http://127.0.0.1:{port}/slack/events"
        assert slash(url, fake_slack, "Was Eden made of iron?")[0] == 200
        assert "soft clay" in all_text(response(fake_slack))
        assert fake_slack.wait_for("/auth.test")[0].headers["Authorization"] == "Bearer xoxb-e2e"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=120)[0]
    assert "xoxb-e2e" not in output and SECRET not in output  # secrets never reach the logs


def test_manifest_matches_what_the_app_listens_for() -> None:
    import yaml

    from tests.conftest import ROOT

    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text(encoding="utf-8"))
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/maisky"]
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.im", "app_uninstalled", "tokens_revoked"
    }  # fmt: skip
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "im:history", "users:read"} <= scopes  # users:read: daily
    assert manifest["settings"]["interactivity"]["is_enabled"] and manifest["settings"]["socket_mode_enabled"]
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    for verb in ("ask", "quote", "who", "quiz", "timeline", "another", "daily", "sources", "help"):
        assert re.search(rf"\b{verb}\b", hint), f"the /maisky usage hint does not show {verb}"


def test_another_passage_button_carries_a_short_key_whatever_the_question(fake_slack: FakeSlack, url: str) -> None:
    question = ("“Kennedy” ‘Chamberlain’ @everyone <!here> " * 30)[:915] + " Kennedy?"
    slash(url, fake_slack, question)
    payload = response(fake_slack)
    assert_valid_blocks(payload)
    button = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"][0]
    assert is_key(button["value"])  # the conversation turn's key; the question stays in the bot's memory


def test_another_passage_button_survives_a_restart(fake_slack: FakeSlack, make_core: MakeCore, tmp_path: Path) -> None:
    """The button carries the turn's key; the turn is in the database, so a new process answers it."""
    core = make_core()
    db = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'turns.sqlite3'}"}, dotenv=None)
    with served(build_app(desk_for(core, daily=build_daily(db, core)), settings(fake_slack))) as u:
        slash(u, fake_slack, "Kennedy")
        first = response(fake_slack)
    button = next(b for b in first["blocks"] if b["type"] == "actions")["elements"][0]
    with served(build_app(desk_for(core, daily=build_daily(db, core)), settings(fake_slack))) as u:  # the restarted app
        click(u, fake_slack, {"action_id": "maisky_another", "value": button["value"], "type": "button"})
        second = fake_slack.wait_for("/response/click-U1")[0].body
    assert "outlived my memory" not in all_text(second) and second["response_type"] == "ephemeral"
    assert sources_of(first) != sources_of(second) and len(sources_of(second)) == 1


def test_an_unknown_turn_says_the_button_expired(fake_slack: FakeSlack, url: str) -> None:
    click(url, fake_slack, {"action_id": "maisky_another", "value": '{"q": "Kennedy", "r": 1}', "type": "button"})
    answer = fake_slack.wait_for("/response/click-U1")[0].body
    assert "outlived my memory" in all_text(answer) and answer["response_type"] == "ephemeral"


def sources_of(payload: dict[str, Any]) -> list[str]:
    return [b["elements"][0]["text"] for b in payload["blocks"] if b["type"] == "context" and "Source:" in all_text(b)]


def test_another_as_text_shows_the_next_passage_only_to_the_asker(fake_slack: FakeSlack, url: str) -> None:
    slash(url, fake_slack, "Kennedy")
    first = response(fake_slack)
    slash(url, fake_slack, "another")
    second = fake_slack.wait_for("/response/U1", 2)[1].body
    assert second["response_type"] == "ephemeral" and sources_of(first) != sources_of(second)


def test_help_in_a_mention_is_shown_only_to_the_asker(fake_slack: FakeSlack, url: str) -> None:
    ev = {"type": "app_mention", "user": "U2", "text": "<@UBOT> help", "ts": "1700.7", "channel": "C9"}
    assert event(url, ev, "EvHelp")[0] == 200
    post = fake_slack.wait_for("/chat.postEphemeral")[0].body
    assert post["user"] == "U2" and post["thread_ts"] == "1700.7" and "/maisky ask &lt;question&gt;" in all_text(post)
    assert fake_slack.count("/chat.postMessage") == 0


@pytest.mark.parametrize("text", ["help <@UBOT>", "<@UBOT> help", "help <@UBOT|maisky>", "<@UBOT>, help"])
def test_help_with_the_mention_anywhere_shows_help_and_spends_no_cooldown(
    fake_slack: FakeSlack, make_core: MakeCore, text: str
) -> None:
    """The bug: with the mention last, `help @Maisky` became a question, a public decline that spent
    the cooldown, so the member's next line got "Patience, comrade"."""
    with served(build_app(desk_for(make_core(), cooldown=3600), settings(fake_slack))) as u:
        ev = {"type": "app_mention", "user": "U2", "text": text, "ts": "1700.8", "channel": "C9"}
        assert event(u, ev, "EvHelpLast")[0] == 200
        help_post = fake_slack.wait_for("/chat.postEphemeral")[0].body
        ask = {"type": "app_mention", "user": "U2", "text": "<@UBOT> Eden", "ts": "1700.9", "channel": "C9"}
        assert event(u, ask, "EvAfterHelp")[0] == 200
        answer = fake_slack.wait_for("/chat.postMessage")[0].body
    assert "/maisky ask &lt;question&gt;" in all_text(help_post)
    assert "Patience" not in all_text(answer) and "Source:" in all_text(answer)
