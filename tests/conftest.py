"""Suite-wide settings: hypothesis runs the same examples on every machine (CI included),
so a red run can be reproduced and a green one means the same thing everywhere.

The order files run in (``make test`` hands whole files to two workers in collection order,
``--dist loadfile --no-loadscope-reorder``): files of few long tests first (servers, Redis,
haproxy, then the browser package in one block, so each worker starts its uvicorn and
Chromium once rather than at every switch), the many short unit tests last, to even out the
two workers' ends. Within a file the order is the file's own.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.load_profile("repeatable")

# tests/<dir>/...: a smaller rank runs earlier; directories not named here rank with api.
RANK = {"store": 0, "deploy": 0, "browser": 1, "api": 2, "runs": 3, "core": 4}


def _rank(item: pytest.Item) -> int:
    parts = item.nodeid.split("::", 1)[0].split("/")
    return RANK.get(parts[1], RANK["api"]) if len(parts) > 2 else RANK["api"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = {}
    for n, item in enumerate(items):
        first.setdefault(item.nodeid.split("::", 1)[0], n)
    items.sort(key=lambda i: (_rank(i), first[i.nodeid.split("::", 1)[0]]))
