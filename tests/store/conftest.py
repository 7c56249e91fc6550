"""Fixtures of the Redis-backed store's tests: one redis-server per test module (emptied
before each test), stopped by its pid at the end; servers a test starts are stopped too."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.store.procs import RedisServer, Server


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = redis_server.client()
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def serve(redis_url: str) -> Iterator[Callable[..., Server]]:
    """``serve(**env)``: a backprop-viz on loopback with ``BPV_REDIS_URL`` (and ``env``),
    healthy; stopped when the test ends unless the test killed it."""
    started: list[Server] = []

    def start(args: tuple[str, ...] = (), wait_s: float = 40.0, **env: str) -> Server:
        server = Server({"BPV_REDIS_URL": redis_url, **env}, args)
        started.append(server)
        return server.wait_healthy(wait_s)

    yield start
    for server in started:
        server.stop()
