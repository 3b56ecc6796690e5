"""Simulated time: speed factor and the stall guard (fake time source, no threads)."""

from __future__ import annotations

import pytest

from modem.sim.line import SimClock


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_speed_scales_time_and_wall_conversion() -> None:
    ft = FakeTime()
    c = SimClock(speed=50, stall_guard=False, time_source=ft, keeper=False)
    ft.t += 2.0
    assert c.now() == pytest.approx(100.0)
    assert c.wall(100.0) == pytest.approx(2.0)
    ft.t += 30.0  # without the guard every wall second counts
    assert c.now() == pytest.approx(1600.0)


def test_stall_guard_does_not_count_a_process_stall() -> None:
    ft = FakeTime()
    c = SimClock(speed=50, max_gap=0.01, time_source=ft, keeper=False)
    assert c.stall_guard  # on by default above speed 1
    ft.t += 0.5  # idle (no call in progress): time runs freely
    assert c.now() == pytest.approx(25.0)
    p = c.participant("in a call")
    c.beat(p, active=True)
    ft.t -= 0.5  # (restart the fake time base for the numbers below)
    c = SimClock(speed=50, max_gap=0.01, time_source=ft, keeper=False)
    p = c.participant("in a call")
    c.beat(p, active=True)
    for _ in range(100):  # regular beats every 2 ms: time runs at speed 50
        ft.t += 0.002
        c.beat(p)
    assert c.now() == pytest.approx(10.0)
    ft.t += 0.5  # the process got no CPU for half a second
    assert c.beat(p) == pytest.approx(10.0 + 0.01 * 50)  # only max_gap of it counts
    assert c.stalls == 1


def test_stall_guard_waits_for_a_late_participant() -> None:
    ft = FakeTime()
    c = SimClock(speed=50, max_gap=0.01, time_source=ft, keeper=False)
    p = c.participant("remote")
    start = c.beat(p, active=True)
    for _ in range(50):  # 100 ms in which the participant does not beat
        ft.t += 0.002
        c.keep()
    # time ran for max_gap (plus one tick), then waited
    assert c.now() - start == pytest.approx((0.01 + 0.002) * 50, abs=0.11)
    assert c.waits > 0
    c.beat(p)  # it catches up: time runs again
    for _ in range(10):
        ft.t += 0.002
        c.beat(p)
    assert c.now() - start == pytest.approx((0.012 + 0.02) * 50, abs=0.11)
    c.beat(p, active=False)  # out of the call: no longer waited for
    for _ in range(10):
        ft.t += 0.002
        c.keep()
    assert c.now() - start == pytest.approx((0.012 + 0.04) * 50, abs=0.11)
    c.release(p)


def test_clock_never_goes_backwards() -> None:
    ft = FakeTime()
    c = SimClock(speed=10, max_gap=0.01, time_source=ft, keeper=False)
    c.beat(c.participant("p"), active=True)
    readings = []
    for step in (0.001, 0.05, 0.001, 0.3, 0.002):
        ft.t += step
        readings.append(c.now())
    assert readings == sorted(readings)
