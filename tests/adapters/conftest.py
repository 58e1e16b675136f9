"""Fixtures both adapter suites share: the local fakes of Slack and Discord, a core without a
cooldown, and an environment in which nothing can reach the real platforms."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bot import Maisky
from bot.chat.cooldown import Cooldown
from tests.adapters.discord_fakes import FakeDiscord
from tests.adapters.slack_fakes import FakeSlack

MakeCore = Callable[..., Maisky]


@pytest.fixture(autouse=True)
def no_real_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens or URLs left in the environment would send a test's requests to the real services."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "DISCORD_TOKEN",
                 "DISCORD_API_BASE", "DISCORD_GATEWAY_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_core(core: Maisky) -> MakeCore:
    """A core over the session's corpus and index, with its own cooldown (default none)."""

    def make(cooldown: int = 0) -> Maisky:
        return Maisky(core.corpus, core.matcher, core.voice, cooldown=Cooldown(cooldown))

    return make


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.stop()
