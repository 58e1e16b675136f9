"""Hostile input on Discord, through discord.py itself: display names that are URLs or masked links in
quiz verdicts and scores, and forged "Another passage" buttons (a real login against the local fake
REST API, raw INTERACTION_CREATE payloads fed to the gateway's own entry point)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.client import build_client
from bot import Maisky
from bot.club.quiz import Quiz
from bot.ops.store import Store
from tests.adapters.conftest import MakeCore, desk_for
from tests.adapters.discord_fakes import CHANNEL_ID, GUILD_ID, TOKEN, command, component, settings
from tests.adapters.test_discord_clubs import Env, text_of


@pytest.fixture
async def env(tmp_path: Path, make_core: MakeCore, core: Maisky, fake_discord: Any) -> AsyncIterator[Env]:
    quiz = Quiz(Store(f"sqlite:///{tmp_path / 'quiz.sqlite3'}"), core.corpus, core.voice)
    client = build_client(desk_for(make_core(), quiz=quiz), settings(fake_discord, tmp_path / "state"))
    await client.login(TOKEN)
    yield Env(fake_discord, client, quiz)
    await client.close()


LINKY = ["https://evil.example", "www.evil.example", "[x](https://evil.example)", "<https://evil.example|x>",
         "evil.com", "http://user:pw@evil.example/path"]  # fmt: skip
_LINK = re.compile(r"evil\.|://evil|:pw@|www\.evil|<https://evil")


def named(payload: dict[str, Any], name: str) -> dict[str, Any]:
    payload["member"]["user"]["global_name"] = name
    payload["member"]["user"]["username"] = name
    return payload


async def test_display_names_in_quiz_verdicts_and_scores_are_never_links(env: Env) -> None:
    n = 0
    for i, name in enumerate(LINKY):
        env.feed(command("quiz"))
        n += 1
        await env.answer(n)
        draw = env.quiz.store.quiz_current("discord", CHANNEL_ID, GUILD_ID)
        assert draw is not None
        letter = "ABCDEFGHIJ"[draw.options.index(env.quiz._by_key[draw.question_key].answer)]
        env.feed(named(command("quiz", [{"type": 3, "name": "answer", "value": letter}], uid=str(600 + i)), name))
        n += 1
        verdict = await env.answer(n)
        assert "Quite right" in text_of(verdict)
        assert not _LINK.search(json.dumps(verdict, ensure_ascii=False)), (name, text_of(verdict))
    env.feed(command("quiz", [{"type": 3, "name": "action", "value": "scores"}]))
    scores = await env.answer(n + 1)
    text = json.dumps(scores, ensure_ascii=False)
    assert scores["embeds"][0]["description"].count(": 1 point") == len(LINKY), text
    assert not _LINK.search(text), text
    assert "evil" in text


FORGED = ["maisky:another:0123456789abcdef:-1000", "maisky:another:0123456789abcdef:1e400",
          "maisky:another:0123456789abcdef:99999", "maisky:another:garbage", "maisky:another:"]  # fmt: skip


async def test_a_forged_another_passage_button_says_it_is_no_longer_valid(env: Env) -> None:
    for n, custom_id in enumerate(FORGED, 1):
        env.feed(component(custom_id))
        answer = await env.answer(n)
        assert answer["flags"] == 64, custom_id
        assert "outlived my memory of your question" in text_of(answer), (custom_id, text_of(answer))
