"""Per-client request pacing (app/api/request_rate.py), on a clock the test moves.

With 10 requests a second and bursts of 5: a client's first 5 requests go at once, the
next ones one every 0.1 s; a request that would wait over a second is refused, and says
when to come back; other clients are not affected.
"""

from __future__ import annotations

import pytest

from app.api.request_rate import MAX_WAIT_S, RequestRate


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_burst_goes_at_once_and_then_one_request_per_interval(clock: Clock) -> None:
    rate = RequestRate(rps=10, burst=5, clock=clock)
    assert [rate.delay("a") for _ in range(5)] == [0.0] * 5
    # The 6th request would be the 6th within no time: it waits one interval, the 7th two.
    assert rate.delay("a") == pytest.approx(0.1)
    assert rate.delay("a") == pytest.approx(0.2)
    clock.t += 10.0  # long enough to be back at a full burst
    assert [rate.delay("a") for _ in range(5)] == [0.0] * 5


def test_a_steady_client_at_the_rate_never_waits(clock: Clock) -> None:
    rate = RequestRate(rps=10, burst=1, clock=clock)
    for _ in range(100):
        assert rate.delay("a") == pytest.approx(0.0, abs=1e-9)
        clock.t += 0.1


def test_a_request_that_would_wait_too_long_is_refused_and_not_counted(clock: Clock) -> None:
    rate = RequestRate(rps=10, burst=5, clock=clock)
    waits = [rate.delay("a") for _ in range(5 + int(MAX_WAIT_S * 10))]
    assert waits[-1] == pytest.approx(MAX_WAIT_S)  # the last one it still queues
    assert rate.delay("a") is None
    assert rate.delay("a") is None  # refusals do not push its turn further away
    assert rate.retry_after("a") >= 1
    clock.t += 0.1 + 1e-9  # one interval later there is room again
    assert rate.delay("a") == pytest.approx(MAX_WAIT_S)


def test_one_client_flooding_does_not_touch_another(clock: Clock) -> None:
    rate = RequestRate(rps=10, burst=5, clock=clock)
    while rate.delay("flood") is not None:
        pass
    assert rate.delay("other") == 0.0


def test_forgotten_clients_keep_memory_bounded(clock: Clock) -> None:
    rate = RequestRate(rps=10, burst=5, clock=clock)
    for k in range(25_000):
        rate.delay(f"10.0.{k // 250}.{k % 250}")
        clock.t += 0.001
    assert len(rate._tat) <= 10_001
