"""The Dockerfile, verified without a Docker engine: lint it, then replay it and run it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docker import dockerfile_replay as replay

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def test_hadolint_is_clean_at_warning_level() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or "hadolint"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_shape() -> None:
    stages = replay.parse(DOCKERFILE.read_text())
    assert len(stages) >= 2, "multi-stage: build, then a slim final stage"
    final = stages[-1]
    assert "slim" in final.base and final.base.startswith("python:3.1")
    keywords = [i.keyword for i in final.instructions]
    assert "USER" in keywords and "HEALTHCHECK" in keywords
    user = next(i.args for i in final.instructions if i.keyword == "USER")
    assert user not in ("root", "0")
    env = " ".join(i.args for i in final.instructions if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    cmd = replay.exec_form(next(i.args for i in final.instructions if i.keyword == "CMD"))
    assert cmd[:2] == ["uvicorn", "app.main:create_app"]
    assert "0.0.0.0" in cmd and "--ws-per-message-deflate" in cmd
    assert "curl" not in " ".join(
        replay.healthcheck_argv(
            next(i.args for i in final.instructions if i.keyword == "HEALTHCHECK")
        )
    )
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [line for line in lock if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), "every dependency pinned"


def test_dockerignore_keeps_tests_and_caches_out() -> None:
    patterns = replay.read_dockerignore(ROOT)
    for path in (
        "tests/core/test_network.py",
        ".venv/bin/python",
        "app/__pycache__/x.pyc",
        ".git/HEAD",
        "bench/bench_core.py",
    ):
        assert replay.ignored(path, patterns), path
    for path in ("app/main.py", "static/js/main.js", "templates/index.html", "requirements.lock"):
        assert not replay.ignored(path, patterns), path


def test_replayed_image_serves_streams_and_stops_cleanly(tmp_path: Path) -> None:
    """Install what the Dockerfile installs, start its exact CMD in a network namespace of
    its own (so 0.0.0.0:8000 is loopback only), run its HEALTHCHECK, load the page, stream
    frames, then SIGTERM: it must shut down cleanly within 10 s."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("needs util-linux `unshare` and iproute2 `ip` (both in Debian's base)")
    image = replay.replay(DOCKERFILE, ROOT, tmp_path / "image")
    assert not (image.workdir / "tests").exists(), ".dockerignore / COPY let tests in"
    assert (image.workdir / "app" / "main.py").exists()
    assert (image.workdir / "app" / "data" / "digits.csv.gz").exists()  # the book's digits
    spec = {
        "cmd": image.cmd,
        "healthcheck": image.healthcheck,
        "cwd": str(image.workdir),
        "env": image.env,
        "log": str(tmp_path / "server.log"),
    }
    spec_file = tmp_path / "image.json"
    spec_file.write_text(json.dumps(spec))
    probe = Path(__file__).with_name("probe_image.py")
    result = subprocess.run(
        ["unshare", "--net", "--map-root-user", sys.executable, str(probe), str(spec_file)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert result.returncode == 0, result.stderr[-3000:] + "\n--- server log ---\n" + log[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["healthcheck_rc"] == 0
    assert report["page_status"] == 200 and report["page_has_plotly"]
    assert report["plotly_bytes"] > 1_000_000, "Plotly.js is served from the image itself"
    assert report["create_status"] == 201
    assert report["digits_sizes"] == [64, 30, 10]
    assert report["frames"] == 5
    assert report["frame_steps"][-1] > report["frame_steps"][0], "training runs while streaming"
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught, so a clean stop
    # ends "killed by SIGTERM" (docker shows 143) after the shutdown is logged complete.
    assert report["exit_code"] in (0, -signal.SIGTERM), log[-3000:]
    assert "Application shutdown complete" in log and "Finished server process" in log
    assert report["stop_s"] < 10
