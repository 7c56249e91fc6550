"""Every ``BPV_`` setting is checked at startup: a bad one stops the server with one line
naming it and its allowed range, status 2, no traceback (app/settings.py ``RANGES``).

Before: ``BPV_SEND_TIMEOUT_S=0`` spun a core per stream, ``BPV_IDLE_TIMEOUT_S=nan`` gave
500s, ``BPV_MAX_RUNS=0`` refused everyone, ``BPV_MAX_FPS=0`` died with a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

import pytest

from app.settings import RANGES, Settings, SettingsError, check, settings_from_env
from tests.abuse.conftest import ROOT, free_port

BAD = [
    ("BPV_SEND_TIMEOUT_S", "0", "a number from 0.1 to 3600"),
    ("BPV_IDLE_TIMEOUT_S", "nan", "a number from 1 to"),
    ("BPV_IDLE_TIMEOUT_S", "-1", "a number from 1 to"),
    ("BPV_IDLE_TIMEOUT_S", "inf", "a number from 1 to"),
    ("BPV_MAX_RUNS", "0", "an integer from 1 to"),
    ("BPV_MAX_RUNS", "lots", "an integer from 1 to"),
    ("BPV_MAX_RUNS", "2.5", "an integer from 1 to"),
    ("BPV_MAX_FPS", "0", "a number from 0.1 to 240"),
    ("BPV_LIMIT_CONCURRENCY", "-5", "an integer from 1 to"),
    ("BPV_HEADER_TIMEOUT_S", "0", "a number from 0.5 to 600"),
    ("BPV_ALLOWED_ORIGINS", "evil", "origins like http://host:8000"),
    ("BPV_ALLOWED_HOSTS", "a b", "host names, IP addresses or *"),
]


def start(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    port = str(free_port())
    cmd = [sys.executable, *argv] if argv else [sys.executable, "-m", "app.cli", "--port", port]
    return subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.mark.parametrize(("name", "value", "range_text"), BAD)
def test_a_bad_setting_gives_one_line_and_status_2(name: str, value: str, range_text: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_env({name: value})
    line = str(caught.value)
    assert line.startswith(f"{name}={value} : must be ") and range_text in line
    assert "\n" not in line


@pytest.mark.parametrize(("name", "value", "range_text"), BAD[:2])
def test_the_cli_stops_with_that_line(name: str, value: str, range_text: str) -> None:
    done = start({name: value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [f"backprop-viz: {name}={value} : must be {lines[0].split('must be ')[1]}"]
    assert range_text in lines[0] and "Traceback" not in done.stderr + done.stdout


def test_the_image_command_stops_without_a_traceback() -> None:
    """The Docker image runs ``uvicorn app.main:create_app --factory`` directly."""
    port = str(free_port())
    done = start(
        {"BPV_MAX_FPS": "0"},
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--port",
        port,
    )
    assert done.returncode != 0
    assert "backprop-viz: BPV_MAX_FPS=0 : must be a number from 0.1 to 240" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_preset_stops_the_cli_with_one_line() -> None:
    done = start({"BPV_PRESET": "hidden=99,99,99"})
    assert done.returncode == 2
    assert done.stderr.startswith("backprop-viz: BPV_PRESET") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_every_setting_has_a_range() -> None:
    """Adding a field to Settings without a RANGES entry fails here: no unchecked setting."""
    missing = [f.name for f in fields(Settings) if f.name not in RANGES]
    assert missing == [], f"add these to RANGES in app/settings.py: {missing}"
    assert set(RANGES) <= {f.name for f in fields(Settings)}, "RANGES names a gone field"
    check(Settings())  # the defaults are in range


def test_good_values_are_read() -> None:
    s = settings_from_env(
        {
            "BPV_MAX_RUNS": "40",
            "BPV_IDLE_TIMEOUT_S": " 90.5 ",
            "BPV_ALLOWED_HOSTS": "class.example, 10.0.0.5,[::1]",
            "BPV_ALLOWED_ORIGINS": "https://lesson.example",
        }
    )
    assert (s.max_runs, s.idle_timeout_s) == (40, 90.5)
    assert s.allowed_hosts == ("class.example", "10.0.0.5", "[::1]")
    assert s.allowed_origins == ("https://lesson.example",)


def test_the_readme_lists_every_range() -> None:
    """README "Classroom safety" has a row per setting with the range the server checks."""
    readme = (ROOT / "README.md").read_text()
    for f in fields(Settings):
        row = f"| `BPV_{f.name.upper()}` | {RANGES[f.name].text} |"
        assert row in readme, f"README is missing or out of date: {row}"


def test_a_bad_redis_url_is_shown_without_its_password() -> None:
    """The one line names the setting and the rule, and never echoes a password (it would
    land in a teacher's terminal, logs and screenshots)."""
    env = {"BPV_REDIS_URL": "http://teacher:s3cret-pw@redis.school:6379/0"}
    with pytest.raises(SettingsError) as e:
        settings_from_env(env)
    line = str(e.value)
    assert line.startswith("BPV_REDIS_URL=http://teacher:***@redis.school")
    assert "s3cret" not in line and "redis:// URL" in line
