# The two commands a user needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-js test-slow test-redis lint format bench bench-quick soak system chromium nodejs redis haproxy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps make repeat runs instant: pip runs again only when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

# What `make test` needs from Debian, missing ones installed with one `apt-get update` (a clean
# machine needs all four: one update instead of four). Each is also a target of its own below.
system:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	[ -z "$$missing" ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; }

# Browser tests use Debian's Chromium: Playwright's own browser download cannot work offline.
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# The Redis-backed store's tests (tests/store/) start their own redis-server from Debian's
# package on a free loopback port, with no persistence, and stop it by its pid.
redis:
	@command -v redis-server >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }

# The reference deployment's tests (tests/deploy/) check deploy/haproxy.cfg with `haproxy -c`
# and run it on loopback in front of two app processes: Debian's HAProxy, as Chromium.
haproxy:
	@command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq haproxy; }

# The page's pure modules are unit-tested with Node's own test runner (no npm packages);
# Debian's nodejs (18 on bookworm) is enough: static/js/package.json marks them ES modules.
nodejs:
	@command -v node >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs; }

test-js: nodejs
	node --test --test-reporter=spec tests/js/*.test.mjs

run: $(VENV)/.installed-run
	$(BIN)/backprop-viz --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app
	$(BIN)/lint-imports

# Two passes: what does not measure time on both cores (a file per worker, in the order
# tests/conftest.py gives: long files first, the browser files in one block; three workers
# saved only 54 s of 702 and made two tests flaky), then what
# does (tests/abuse measures honest students' frame rates; the image replay times its
# server) alone. Each fails on pytest's exit 5 (no tests) like any other error.
# tests/conftest.py marks those `timed`; the abuse files that time nothing (docs pages in
# Chromium, settings, Host/Origin checks) run in the first pass. Elsewhere a test that counts
# frames in a second is marked `timed` by hand (tests/api/test_stream.py).
test: system $(VENV)/.installed-test chromium redis haproxy lint test-js
	$(BIN)/pytest -m "not slow and not timed" -n 2 --dist loadfile --no-loadscope-reorder \
		--durations=15 tests
	$(BIN)/pytest -m "not slow and timed" --durations=10 tests/abuse tests/api/test_stream.py

# Checks too long for `make test` (marked slow), each with a shorter one in `make test`:
# - a client that never reads the largest network's frames is dropped
#   (tests/api/test_uvicorn.py; tests/abuse/test_stalled_reader.py checks the same drop
#   with small frames);
# - seven more fresh loads show the first picture (test_first_picture.py[7]; [3] in
#   `make test`);
# - eight more seeded networks' explained equations hold to their digits
#   (test_numbers.py[more]; [fast] checks four, one per hidden activation);
# - a reload after each of three prototype keys in the hash, which leave the default link
#   (test_truth.py; the reload of the link that keeps such keys is in `make test`);
# - the layout, the BP2 panel and the colour-bar ticks at the middle desktop sizes
#   (1280 x 720, 1366 x 768, and 1024 x 768 for the ticks; the narrowest and widest are in
#   `make test`), and the σ' row for swish and linear (gelu, relu and tanh in `make test`);
# - the page reconnecting with Redis and behind HAProxy (test_reconnect.py; `make test`
#   keeps the page's reconnect after a restart, and the same kills through REST in
#   tests/store and tests/deploy).
test-slow: $(VENV)/.installed-test chromium redis haproxy
	$(BIN)/pytest -m slow

# The API and browser suites against Redis-backed servers (issue 14), not in `make test`
# (time): BPV_TEST_REDIS=1 (tests/store/redis_switch.py) starts one redis-server, builds
# every in-process app with the Redis store and starts every real server as
# `backprop-viz --workers 2` with BPV_REDIS_URL; tests marked single_process are skipped.
test-redis: $(VENV)/.installed-test chromium redis
	BPV_TEST_REDIS=1 $(BIN)/pytest -m "not slow" -n 2 --dist loadfile tests/api tests/browser

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks report ratios against a reference measured in the same run (shared, noisy
# machines drift ±20 % in absolute time). `bench` includes the 10-minute classroom soak.
bench: bench-quick soak

bench-quick: $(VENV)/.installed-test chromium
	$(BIN)/python bench/bench_core.py
	$(BIN)/python bench/bench_stream.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_abuse.py
	$(BIN)/python bench/bench_page.py

soak: $(VENV)/.installed-test
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
