"""Fixtures both adapter suites share: the local fakes of Slack and Discord, a core, a front desk
built as the composition root builds it, and an environment in which nothing can reach the real
platforms; the answer pool held shut by other members' work."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bot import Maisky, Settings
from bot.chat.desk import FrontDesk
from bot.chat.pool import AnswerPool
from bot.club.daily import Daily
from bot.club.quiz import Quiz
from bot.ops.bootstrap import build_desk
from tests.adapters.discord_fakes import FakeDiscord
from tests.adapters.slack_fakes import FakeSlack
from tests.conftest import PERSONA, SEEDS

MakeCore = Callable[..., Maisky]


@pytest.fixture(autouse=True)
def no_real_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens or URLs left in the environment would send a test's requests to the real services."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "DISCORD_TOKEN",
                 "DISCORD_API_BASE", "DISCORD_GATEWAY_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


GENEROUS_QUICK = 120.0  # seconds: any answer the machine works out at all counts as quick
SHIPPED_QUICK = 1.5  # adapters.discord.client.QUICK as shipped (a test below checks it still is)


@pytest.fixture(autouse=True)
def quick_is_machine_independent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Discord client sends an answer ready within QUICK (1.5 s) at once and defers a slower one. On
    a loaded machine an ordinary answer can take longer, and a test expecting "at once" would see a
    deferral: here every answer is quick, and a test of the deferral makes its answer slow by an event
    (and sets `deferring_at_once`)."""
    from adapters.discord import client

    monkeypatch.setattr(client, "QUICK", GENEROUS_QUICK)


@pytest.fixture
def shipped_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """QUICK as shipped, for tests that accept either first response (the answer or the deferral) and
    assert that it never waits for other members' work."""
    from adapters.discord import client

    monkeypatch.setattr(client, "QUICK", SHIPPED_QUICK)


@pytest.fixture
def deferring_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a test whose answers are held by an event: defer without waiting (none can be ready)."""
    from adapters.discord import client

    monkeypatch.setattr(client, "QUICK", 0.05)


@pytest.fixture
def make_core(core: Maisky) -> MakeCore:
    """A core over the session's corpus and index."""

    def make() -> Maisky:
        return Maisky(core.corpus, core.matcher, core.voice)

    return make


def desk_for(core: Maisky, *, daily: Daily | None = None, quiz: Quiz | None = None, cooldown: int = 0) -> FrontDesk:
    """A chat platform's front desk, built as the composition root builds it (default: no cooldown)."""
    settings = Settings(seeds_dir=SEEDS, persona_dir=PERSONA, cooldown=cooldown)
    return build_desk(settings, core, prefix="/maisky ", daily=daily, quiz=quiz)


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


class Blocked:
    """The answer pool filled with other members' work that holds every thread and queue place until
    released (as a burst of slow answers would on a saturated CPU)."""

    def __init__(self, pool: AnswerPool, room: int = 0) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.pool = pool
        self.jobs = [pool.submit(self._hold) for _ in range(pool.threads + pool.queue - room)]
        for _ in range(pool.threads):  # every thread is inside a job: nothing more runs
            assert self.started.acquire(timeout=120)

    def _hold(self) -> None:
        self.started.release()
        self.release.wait(180)

    def open(self) -> None:
        self.release.set()
        for job in self.jobs:
            job.result(timeout=180)
