"""Suite-wide settings: hypothesis runs the same examples on every machine (CI included),
so a red run can be reproduced and a green one means the same thing everywhere.

The order files run in (``make test`` hands whole files to two workers in collection order,
``--dist loadfile --no-loadscope-reorder``): files of few long tests first (servers, Redis,
haproxy, then the browser package in one block, so each worker starts its uvicorn and
Chromium once rather than at every switch), the many short unit tests last, to even out the
two workers' ends. Within a file the order is the file's own.

Files that measure time (tests/abuse: honest students' frame rates and deadlines) are marked
``timed``: ``make test`` runs them alone in its second pass, everything else (``-m "not
timed"``) on both cores in the first. (The image replay in tests/docker runs in the first:
its one bound, a clean stop within 10 s of SIGTERM, is far from what it measures, 1-2 s,
and its ~40 s are mostly pip installing the image's packages.)
"""

from __future__ import annotations

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.load_profile("repeatable")

# tests/<dir>/...: a smaller rank runs earlier; directories not named here rank with api
# (tests/abuse: its untimed files run in the first pass).
RANK = {
    "docker": 0, "store": 0, "deploy": 0, "abuse": 0, "browser": 1, "api": 2, "runs": 3, "core": 4
}  # fmt: skip


def _rank(item: pytest.Item) -> int:
    parts = item.nodeid.split("::", 1)[0].split("/")
    return RANK.get(parts[1], RANK["api"]) if len(parts) > 2 else RANK["api"]


TIMED_DIRS = ("abuse",)
# ...but these files and tests there time nothing: the docs pages and the app in Chromium
# under the CSP, the settings' one-line errors, the Host and Origin checks, resident memory,
# the header limits and protections, the per-client run cap.
UNTIMED = {
    "tests/abuse/test_docs.py",
    "tests/abuse/test_settings.py",
    "tests/abuse/test_edge_host.py",
    "tests/abuse/test_memory.py",
    "tests/abuse/test_headers.py::test_many_headers_and_a_long_url_are_refused",
    "tests/abuse/test_headers.py::test_ordinary_large_headers_still_work",
    "tests/abuse/test_headers.py::test_the_page_and_the_api_carry_the_protections",
    "tests/abuse/test_clients.py::test_one_address_gets_at_most_max_runs_per_client",
}


def _timed(item: pytest.Item) -> bool:
    path = item.nodeid.split("::", 1)[0]
    parts = path.split("/")
    in_dir = len(parts) > 2 and parts[1] in TIMED_DIRS
    return in_dir and not {path, item.nodeid.split("[", 1)[0]} & UNTIMED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = {}
    for n, item in enumerate(items):
        first.setdefault(item.nodeid.split("::", 1)[0], n)
        if _timed(item):
            item.add_marker(pytest.mark.timed)
    items.sort(key=lambda i: (_rank(i), first[i.nodeid.split("::", 1)[0]]))
