from __future__ import annotations

from bot.cooldown import Cooldown


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
    assert len(cd._last) == 1
