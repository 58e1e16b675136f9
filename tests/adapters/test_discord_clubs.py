"""The quiz, the timeline, the plain-text content and the translator hook on Discord, through
discord.py itself: a real login against the local fake REST API, raw INTERACTION_CREATE payloads
fed to the gateway's own entry point, assertions on what discord.py sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.client import MaiskyClient, build_client, sync_commands, to_discord
from adapters.discord.translator import TRANSLATIONS, DataTranslator, load_translations
from bot import ConfigError, Maisky
from bot.chat.desk import FrontDesk
from bot.club.quiz import Quiz
from bot.ops.store import Store
from tests.adapters.conftest import MakeCore
from tests.adapters.discord_fakes import APP_ID, CHANNEL_ID, TOKEN, Call, FakeDiscord, command, component, settings


@dataclass
class Env:
    fake: FakeDiscord
    client: MaiskyClient
    quiz: Quiz

    def feed(self, payload: dict[str, Any]) -> None:
        self.client._connection.parse_interaction_create(payload)

    async def answer(self, count: int = 1) -> dict[str, Any]:
        return (await self.fake.answers(count))[count - 1]

    async def callbacks(self, count: int = 1) -> list[Call]:
        return await self.fake.wait_for(lambda c: c.path.endswith("/callback"), count)


@pytest.fixture
async def env(tmp_path: Path, make_core: MakeCore, core: Maisky) -> AsyncIterator[Env]:
    fake = FakeDiscord()
    await fake.start()
    quiz = Quiz(Store(f"sqlite:///{tmp_path / 'quiz.sqlite3'}"), core.corpus, core.voice)
    client = build_client(make_core(), settings(fake, tmp_path / "state"), quiz=quiz)
    await client.login(TOKEN)
    yield Env(fake, client, quiz)
    await client.close()
    await fake.stop()


def text_of(body: dict[str, Any]) -> str:
    embed = body["embeds"][0]
    return body["content"] + embed["description"] + " ".join(f["value"] for f in embed.get("fields", []))


def open_question(env: Env) -> tuple[list[str], str]:
    draw = env.quiz.store.quiz_current("discord", CHANNEL_ID)
    assert draw is not None
    return list(draw.options), env.quiz._by_key[draw.question_key].answer


async def test_a_quiz_round_with_buttons_scores_and_stop(env: Env) -> None:
    env.feed(command("quiz"))
    asked = await env.answer()
    assert not asked.get("flags")  # the question is for the whole channel
    buttons = asked["components"][0]["components"]
    assert len(buttons) == 4 and [b["label"][:3] for b in buttons] == ["A. ", "B. ", "C. ", "D. "]
    assert all(b["custom_id"].startswith("maisky:quiz:") for b in buttons)
    # the options are in the text too, and the content carries the question's words without the embed
    assert "\nA. " in asked["content"] and "\nD. " in asked["content"]
    assert asked["allowed_mentions"] == {"parse": []}
    options, answer = open_question(env)
    wrong = next(b for b, o in zip(buttons, options, strict=True) if o != answer)
    right = next(b for b, o in zip(buttons, options, strict=True) if o == answer)
    env.feed(component(wrong["custom_id"], uid="501"))
    miss = await env.answer(2)
    assert miss["flags"] == 64 and "Not so" in text_of(miss)
    env.feed(component(right["custom_id"], uid="502"))
    hit = await env.answer(3)
    assert not hit.get("flags") and "Quite right, member" in text_of(hit)
    assert "Source: " in hit["content"] and hit["embeds"][0]["fields"][0]["name"] == "Source"
    # the same button again: the question is closed
    env.feed(component(right["custom_id"], uid="503"))
    assert "already closed" in text_of(await env.answer(4))
    env.feed(command("quiz", [{"type": 3, "name": "action", "value": "scores"}]))
    assert "1. member: 1 point" in text_of(await env.answer(5))
    env.feed(command("quiz"))
    await env.answer(6)
    env.feed(command("quiz", [{"type": 3, "name": "action", "value": "stop"}]))
    stopped = await env.answer(7)
    assert "The answer:" in text_of(stopped) and "Source: " in stopped["content"]


async def test_typed_answers_on_discord_are_lenient(env: Env) -> None:
    n = 0
    for _ in range(len(env.quiz.pool)):
        env.feed(command("quiz"))
        n += 1
        await env.answer(n)
        _, answer = open_question(env)
        if answer == "kennedy":
            break
        env.feed(command("quiz", [{"type": 3, "name": "action", "value": "stop"}]))
        n += 1
        await env.answer(n)
    env.feed(command("quiz", [{"type": 3, "name": "answer", "value": "Joe Kennedy @everyone"}]))
    body = await env.answer(n + 1)
    assert "Quite right" in text_of(body) and "@everyone" not in text_of(body)


async def test_the_timeline_and_its_year_autocomplete(env: Env) -> None:
    env.feed(command("timeline", [{"type": 3, "name": "years", "value": "1939"}]))
    body = await env.answer()
    assert not body.get("flags")
    assert "1939-09-03: He watched Chamberlain" in discord.utils.remove_markdown(text_of(body))
    assert "globe-2015.chamberlain-declares-war" in body["content"]  # the lines fit in the content too
    env.feed(command("timeline", [{"type": 3, "name": "years", "value": "194", "focused": True}], kind=4))
    cb = (await env.callbacks(2))[-1]
    assert cb.body["type"] == 8
    assert [c["value"] for c in cb.body["data"]["choices"]] == ["1941", "1942", "1943"]
    env.feed(command("timeline", [{"type": 3, "name": "years", "value": "1939-19", "focused": True}], kind=4))
    cb = (await env.callbacks(3))[-1]
    values = [c["value"] for c in cb.body["data"]["choices"]]
    assert values[0] == "1939-1939" and "1939-1953" in values and "1939-1908" not in values


async def test_without_a_database_the_quiz_says_so(tmp_path: Path, make_core: MakeCore) -> None:
    fake = FakeDiscord()
    await fake.start()
    client = build_client(make_core(), settings(fake, tmp_path / "state"))
    await client.login(TOKEN)
    try:
        client._connection.parse_interaction_create(command("quiz"))
        body = (await fake.answers())[0]
        assert body["flags"] == 64 and "has not been given" in body["embeds"][0]["description"]
    finally:
        await client.close()
        await fake.stop()


def test_the_content_carries_the_label_passage_and_citation(make_core: MakeCore) -> None:
    core = make_core()
    for reply in (core.ask("What did you think of Chamberlain?"), core.passage("globe-2015.the-webbs-and-churchill")):
        out = to_discord(reply)
        content = discord.utils.remove_markdown(out["content"])
        assert reply.citation is not None and len(out["content"]) <= 2000
        assert content.startswith("Maisky as narrator")
        assert reply.passage.split("\n")[0][:60] in content
        assert "Source: " + reply.citation.line[:60] in content
    assert "Content note: This passage reports a racist remark" in content
    assert "Content note:" in out["embed"].description


async def test_descriptions_go_through_the_translator(tmp_path: Path, make_core: MakeCore) -> None:
    folder = tmp_path / "translations"
    folder.mkdir()
    (folder / "fr.toml").write_text('"The commands" = "Les commandes"\n', encoding="utf-8")
    fake = FakeDiscord()
    await fake.start()
    ds = settings(fake, tmp_path / "state")
    client = MaiskyClient(FrontDesk(make_core(), prefix="/maisky "), ds, translations=folder)
    await client.login(TOKEN)  # setup_hook sets the translator and syncs
    try:
        (put,) = [c for c in fake.calls if c.method == "PUT" and c.path == f"/applications/{APP_ID}/commands"]
        (group,) = put.body
        help_ = next(o for o in group["options"] if o["name"] == "help")
        assert help_["description"] == "The commands" and help_["description_localizations"] == {"fr": "Les commandes"}
        quiz = next(o for o in group["options"] if o["name"] == "quiz")
        assert quiz["description_localizations"] == {} and quiz["name_localizations"] == {}
        # a new translation changes what sync would send, so the next start syncs again
        assert await sync_commands(client.tree, ds) is False
        (folder / "de.toml").write_text('"The commands" = "Die Befehle"\n', encoding="utf-8")
        await client.tree.set_translator(DataTranslator(folder))
        assert await sync_commands(client.tree, ds) is True
    finally:
        await client.close()
        await fake.stop()


def test_english_only_ships_and_bad_translation_files_are_named(tmp_path: Path) -> None:
    assert load_translations(TRANSLATIONS) == {}  # English only, for now
    (tmp_path / "xx.toml").write_text('"a" = "b"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"xx\.toml"):
        load_translations(tmp_path)
    (tmp_path / "xx.toml").unlink()
    (tmp_path / "fr.toml").write_text('"a" = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fr\.toml"):
        load_translations(tmp_path)
