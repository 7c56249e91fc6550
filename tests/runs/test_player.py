"""The stream's player without a transport: commands in, frames out (docs/api.md's stream)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from app.runs.config import ConfigError
from app.runs.experiment import Experiment
from app.runs.pacer import Pacer
from app.runs.player import Player
from app.runs.run import Run
from app.runs.work import Workers
from app.settings import Settings


class Recorder:
    """A frame output that keeps everything posted, decoded, with how it was posted."""

    frame_grid = False
    frame_history = False
    busy = False

    def __init__(self) -> None:
        self.posted: list[tuple[dict[str, Any], bool]] = []  # (frame, keep)

    def post_frame(
        self, data: bytes, *, keep: bool = False, grid: bool = False, history: bool = False
    ) -> None:
        self.posted.append((orjson.loads(data), keep))

    def take_spent(self) -> float:
        return 0.0

    async def next_frame(self, after: int) -> dict[str, Any]:
        for _ in range(500):
            if len(self.posted) > after:
                return self.posted[after][0]
            await asyncio.sleep(0.01)
        raise AssertionError("no frame within 5 s")


def player_for(run: Run, out: Recorder, rebuilt: list[int]) -> Player:
    s = Settings()
    pacer = Pacer(s.max_fps, s.min_fps, s.cpu_share, s.steady_fps)
    return Player(run, pacer, s, Workers(), out, lambda r: rebuilt.append(r.generation))


def test_commands_drive_the_run_and_every_answer_is_a_frame() -> None:
    async def scenario() -> None:
        run = Run("r", Experiment(hidden=(4, 3), seed=2), Settings())
        out, rebuilt = Recorder(), []
        player = player_for(run, out, rebuilt)
        player.start()
        first = out.posted[0][0]
        assert (first["step"], first["status"]) == (0, "paused")
        assert first["grid"] is not None and first["history"] is not None
        tick = asyncio.create_task(player.tick())
        try:
            async with player.turn():
                player.step(7, None)
            stepped = await out.next_frame(1)
            assert stepped["step"] == 7 and stepped["grid"] is not None
            async with player.turn():
                player.probe(42)
            assert (await out.next_frame(2))["probe"]["index"] == 42
            async with player.turn():  # a bad probe changes nothing, and posts nothing
                with pytest.raises(ConfigError) as e:
                    player.probe(250)
            assert e.value.loc == ("index",) and len(out.posted) == 3
            async with player.turn():  # the training rule keeps the weights
                await player.configure({"lmbda": 0.5, "regulariser": "l2"})
            kept = await out.next_frame(3)
            assert kept["step"] == 7 and kept["hyper"]["lambda"] == 0.5 and not out.posted[3][1]
            async with player.turn():  # a new network rebuilds: the client is told first
                await player.configure({"hidden": (5,)})
            new = await out.next_frame(4)
            assert rebuilt == [1] and out.posted[4][1]  # kept: a newer frame cannot drop it
            assert new["step"] == 0 and new["sizes"] == [2, 5, 1] and new["data_changed"]
            assert run.config.hidden == (5,) and run.config.lmbda == 0.5
        finally:
            tick.cancel()
            player.finish()

    asyncio.run(scenario())


def test_a_newer_player_takes_the_run_over() -> None:
    run = Run("r", Experiment(), Settings())
    old = player_for(run, Recorder(), [])
    old.start()
    new = player_for(run, Recorder(), [])
    new.start()
    assert old.stopped.is_set() and old.stop_reason == "another stream took over this run"
    assert run.session is new and not new.stopped.is_set()
    old.finish()  # the old stream ends: the run stays the new one's
    assert run.session is new
    new.finish()
    assert run.session is None and not run.playing
