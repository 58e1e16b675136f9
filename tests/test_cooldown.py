from __future__ import annotations

from bot.chat.cooldown import Cooldown


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_request_per_window_per_key() -> None:
    clock = Clock()
    cd = Cooldown(5, clock=clock)
    assert cd.wait("alice") == 0
    assert cd.wait("bob") == 0
    clock.now += 2
    assert cd.wait("alice") == 3
    clock.now += 3
    assert cd.wait("alice") == 0


def test_zero_disables_and_memory_stays_bounded() -> None:
    assert Cooldown(0).wait("x") == 0 and Cooldown(0).wait("x") == 0
    clock = Clock()
    cd = Cooldown(1, clock=clock, max_keys=3)
    for k in "abc":
        cd.wait(k)
    clock.now += 2
    assert cd.wait("d") == 0
    assert cd.remembered() == 1


def test_only_keys_inside_their_window_are_kept() -> None:
    """A stream of new users never grows the table beyond those who asked within the window."""
    clock = Clock()
    cd = Cooldown(10, clock=clock)
    for i in range(1000):
        assert cd.wait(f"user{i}") == 0
        clock.now += 1
    assert cd.remembered() == 10
    assert cd.wait("user995") > 0  # still waiting: forgetting the old ones kept the fresh ones


def test_a_flood_within_one_window_is_bounded_too() -> None:
    clock = Clock()
    cd = Cooldown(60, clock=clock, max_keys=100)
    for i in range(1000):
        cd.wait(f"user{i}")
    assert cd.remembered() == 100
    assert cd.wait("user999") > 0 and cd.wait("user0") == 0  # the oldest were forgotten first
