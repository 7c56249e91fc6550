"""CPU fairness by cost (issue 10): the largest networks at "max" speed slow themselves only.

Twenty mischievous students each make the largest network the options allow (6 hidden
layers of 8) and play it at "max" speed, reading every frame (:mod:`tests.abuse.heavy`).
Ten honest students (:mod:`tests.abuse.students`: the default experiment at the default
speed), measured on the same server first alone and then beside them, keep at least 80 %
of their frame rate (the median student; the slowest keeps 60 % of the slowest before).
Before each stream was charged its own frames, the abusers pulled everyone to 2.7
frames/s.

The pacer (app/runs/pacer.py) charges each stream its own frames and training, and lets the
streams asking ten times what the class's lighter quarter asks share what the class leaves
(each keeping its frames at ``min_fps``).

Marked slow (``make test-slow``): it passed 6 of 7 runs here on 2026-12-01 (97 % on a quiet
machine, 80-110 % at 35-80 % CPU pressure) but failed once inside ``make test`` on a clean
clone (78 %, with the honest students already at 24 frames/s alone), so it is not yet a
gate for ``make test``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.abuse.conftest import Server
from tests.abuse.heavy import Heavy, heavy_streams
from tests.abuse.students import Rates, measure

HONEST = 10
ABUSERS = 20
WINDOW_S = 3.0


async def _before_and_under(server: Server) -> tuple[Rates, Rates, Heavy]:
    before = await measure(server.ws_base, HONEST, WINDOW_S)
    async with heavy_streams(server.base, ABUSERS) as heavy:
        await asyncio.sleep(1.0)  # the abusers are playing, and the pacer has seen them
        under = await measure(server.ws_base, HONEST, WINDOW_S)
    return before, under, heavy


@pytest.mark.slow
def test_the_largest_networks_at_max_speed_do_not_slow_honest_students(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    before, under, heavy = asyncio.run(_before_and_under(server))
    print(f"\nbefore {before} {before.planned}\nunder {under} {under.planned}\n{heavy}")
    assert heavy.made == ABUSERS  # the abuse happened: every heavy run was made and played
    assert not before.failures and not under.failures
    # The class keeps 80 % of its rate, and no student is left far behind.
    assert under.median >= 0.8 * before.median, (before, under)
    assert under.min >= 0.6 * before.min, (before, under)
    # The abusers are served too, only not at the class's expense: frames of the largest
    # network (tens of KB each) kept arriving.
    assert min(heavy.received) > 500_000  # several times its first frame (158 KB)
