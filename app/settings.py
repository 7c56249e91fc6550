"""Server settings, read once from ``BPV_*`` environment variables.

Tests build their own :class:`Settings` and pass it to ``create_app``; the server reads
the environment through :func:`get_settings`, cached so it happens once.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _default_origins() -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Settings:
    """Every tunable of the server. Field ``x`` is read from env var ``BPV_X``."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Runs (one per student / browser tab). max_runs and memory_mb count this process's runs
    # (each of --workers N has its own: they guard its memory); with Redis, the per-client
    # caps count the client's runs on every worker (app/runs/client_ledger.py).
    max_runs: int = 300
    idle_timeout_s: float = 600.0  # JupyterHub's culler default
    # Runs one client (a peer address) may hold; a classroom behind one NAT address needs more.
    max_runs_per_client: int = 5
    # Memory (README "Memory budget"): a run's estimated bytes (app/runs/budget.py) at most
    # run_memory_mb, one client's runs together at most client_memory_mb, and all live runs'
    # estimates at most memory_mb (room for one grid pass, the largest, included): the server's
    # resident memory stays under 512 MB (80 MB of its own), and 200 default runs fit.
    run_memory_mb: float = 32.0
    client_memory_mb: float = 64.0
    memory_mb: float = 380.0
    # A REST request's training stops after this many seconds (and max_steps_per_request).
    max_request_s: float = 10.0
    # Size caps; every one of them is reported by GET /api/options.
    max_layers: int = 6  # hidden layers (Playground: 0-6)
    max_width: int = 8  # neurons per hidden layer (Playground: 1-8)
    # neurons per hidden layer of a network on the book's digits (64 inputs; the book's 30)
    max_digits_width: int = 32
    max_inputs: int = 64  # input neurons (features, or CSV columns)
    max_outputs: int = 16  # output neurons
    max_params: int = 20_000
    max_batch: int = 512
    max_rows: int = 5_000
    max_body_bytes: int = 1_000_000
    max_steps_per_request: int = 100_000
    # POST /api/backprop: the numbers in one answer (m x weights backward contributions and
    # the rest), each at most 26 bytes of JSON: about 5 MB at most.
    max_response_values: int = 200_000
    # Streaming.
    max_fps: float = 30.0
    min_fps: float = 2.0  # the floor when the server lowers the rate under load
    # Under load the rate is held here by shortening training per frame, while frames fit.
    steady_fps: float = 10.0
    cpu_share: float = 0.95  # share of one core all playing streams may use
    grid_every: int = 10  # frames between decision-boundary grids while playing
    # A stream's frames, on average, at most this many kB a second: a class on a school's
    # network shares it (a default 2-8-8-1 frame is ~10 kB, well under at 30 frames/s; the
    # digits' 64-30-10 frame is ~150 kB, so about 7 frames/s instead of 4.5 MB/s).
    max_stream_kb_per_s: float = 1_000.0
    send_timeout_s: float = 10.0
    max_ws_message_bytes: int = 65_536
    allowed_origins: tuple[str, ...] = field(default_factory=_default_origins)
    # uvicorn: ~3 connections per student (reliability.md).
    limit_concurrency: int = 1_000
    # The HTTP edge (app/api/connections.py, app/api/edge.py; README "Classroom safety").
    # Host names the server answers to, besides loopback names and IP addresses ("*": any).
    allowed_hosts: tuple[str, ...] = ()
    # A connection must finish a request's headers this long after it opens (or after its
    # previous answer), or it is closed: idle and slowloris connections cannot hold a slot.
    header_timeout_s: float = 10.0
    max_header_bytes: int = 32_768  # request line and headers; more is 414 / 431 (nginx: 32 KiB)
    # Connections waiting for a request, per client address: beyond it, its oldest is closed.
    # A class behind one NAT address opens ~200 pages at once: their handshakes wait briefly.
    max_waiting_per_client: int = 256
    # HTTP requests per client address and second, with bursts (a page load is ~40): beyond
    # them a request waits its turn (up to 1 s), then 429 (app/api/request_rate.py).
    client_rps: float = 50.0
    client_burst: int = 200
    # A teacher's preset: a URL-hash string (``dataset=xor&hidden=4,4``) that becomes the
    # default experiment of ``POST /api/runs {}`` and of the page.
    preset: str = ""
    # Redis (README "Many students, many cores"): empty, runs live in this process only; a
    # redis:// URL, each run is checkpointed there and a restart loses none of them.
    redis_url: str = ""
    static_dir: Path = ROOT / "static"
    templates_dir: Path = ROOT / "templates"


class SettingsError(ValueError):
    """A ``BPV_`` value out of its range: ``str(e)`` is one line naming it and the range."""


@dataclass(frozen=True)
class Between:
    """A number in ``[lo, hi]`` (``integer``: whole numbers only); NaN and ±inf never pass."""

    lo: float
    hi: float
    integer: bool = False

    def ok(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        return math.isfinite(value) and self.lo <= value <= self.hi

    @property
    def text(self) -> str:
        kind = "an integer" if self.integer else "a number"
        return f"{kind} from {_number(self.lo)} to {_number(self.hi)}"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Matches:
    """Text (or, for a tuple field, every comma-separated item) matching ``pattern``."""

    pattern: str
    text: str
    each: bool = False

    def ok(self, value: object) -> bool:
        items = value if self.each and isinstance(value, tuple) else (value,)
        return all(isinstance(v, str) and re.fullmatch(self.pattern, v) for v in items)


@dataclass(frozen=True)
class IsDir:
    text: str = "an existing directory"

    def ok(self, value: object) -> bool:
        return isinstance(value, Path) and value.is_dir()


_HOST = r"\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
_ORIGIN = r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?"

# The allowed range of every setting, checked at startup (``BPV_X=... : must be ...``).
# Every field of Settings needs an entry: tests/abuse/test_settings.py fails otherwise.
RANGES: dict[str, Between | Matches | IsDir] = {
    "host": Matches(r"[0-9A-Za-z.:\[\]-]{1,253}", "a host name or IP address to bind"),
    "port": Between(1, 65_535, integer=True),
    "max_runs": Between(1, 100_000, integer=True),
    "idle_timeout_s": Between(1, 7 * 86_400),
    "max_layers": Between(0, 64, integer=True),
    "max_width": Between(1, 4096, integer=True),
    "max_digits_width": Between(1, 4096, integer=True),
    "max_inputs": Between(1, 4096, integer=True),
    "max_outputs": Between(1, 4096, integer=True),
    "max_params": Between(1, 10_000_000, integer=True),
    "max_batch": Between(1, 1_000_000, integer=True),
    "max_rows": Between(2, 1_000_000, integer=True),
    "max_body_bytes": Between(1_024, 1_000_000_000, integer=True),
    "max_steps_per_request": Between(1, 100_000_000, integer=True),
    "max_response_values": Between(1, 1_000_000_000, integer=True),
    "max_fps": Between(0.1, 240),
    "min_fps": Between(0.1, 240),
    "steady_fps": Between(0.1, 240),
    "cpu_share": Between(0.01, 64),
    "grid_every": Between(1, 10_000, integer=True),
    "max_stream_kb_per_s": Between(10, 10_000_000),
    "send_timeout_s": Between(0.1, 3_600),
    "max_ws_message_bytes": Between(1_024, 100_000_000, integer=True),
    "allowed_origins": Matches(_ORIGIN, "comma-separated origins like http://host:8000", True),
    "limit_concurrency": Between(1, 1_000_000, integer=True),
    "max_runs_per_client": Between(1, 100_000, integer=True),
    "run_memory_mb": Between(1, 65_536),
    "client_memory_mb": Between(1, 1_048_576),
    "memory_mb": Between(1, 1_048_576),
    "max_request_s": Between(0.1, 3_600),
    "allowed_hosts": Matches(_HOST, "comma-separated host names, IP addresses or *", True),
    "header_timeout_s": Between(0.5, 600),
    "max_header_bytes": Between(1_024, 1_048_576, integer=True),
    "max_waiting_per_client": Between(1, 100_000, integer=True),
    "client_rps": Between(0.1, 1_000_000),
    "client_burst": Between(1, 1_000_000, integer=True),
    "preset": Matches(r"[^\n]*", "one line (a URL-hash string)"),
    "redis_url": Matches(r"(rediss?|unix)://[^\s]{1,500}|", "empty, or a redis:// URL"),
    "static_dir": IsDir(),
    "templates_dir": IsDir(),
}


def _shown(raw: object) -> str:
    """A setting's value as an error message shows it: at most 60 characters, and a URL's
    password (``scheme://user:password@host``) as ``***``."""
    text = raw if isinstance(raw, str) else ",".join(raw) if isinstance(raw, tuple) else raw
    text = re.sub(r"(://[^/@\s]*?:)[^/@\s]*@", r"\1***@", str(text))
    return text if len(text) <= 60 else text[:60] + "…"


def check(settings: Settings, raw: dict[str, str] | None = None) -> Settings:
    """Raise :class:`SettingsError` for the first value out of its range in :data:`RANGES`.

    ``raw`` maps field names to the environment text they came from (shown as given).
    """
    raw = raw or {}
    for f in fields(Settings):
        rule = RANGES.get(f.name)
        value = getattr(settings, f.name)
        if rule is not None and not rule.ok(value):
            shown = _shown(raw.get(f.name, value))
            raise SettingsError(f"BPV_{f.name.upper()}={shown} : must be {rule.text}")
    if settings.min_fps > settings.max_fps:
        raise SettingsError(
            f"BPV_MIN_FPS={settings.min_fps:g} : must be at most BPV_MAX_FPS={settings.max_fps:g}"
        )
    return settings


def _parse(kind: object, raw: str) -> object:
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in ("tuple[str, ...]",):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind in (Path, "Path"):
        return Path(raw)
    return raw


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``BPV_*`` variables and :func:`check` them.

    A value that does not parse or is out of range raises :class:`SettingsError`.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    given: dict[str, str] = {}
    for f in fields(Settings):
        name = f"BPV_{f.name.upper()}"
        raw = env.get(name)
        if raw is not None:
            given[f.name] = raw
            try:
                values[f.name] = _parse(f.type, raw.strip())
            except ValueError:
                rule = RANGES.get(f.name)
                text = rule.text if rule is not None else f"a valid {f.type}"
                raise SettingsError(f"{name}={_shown(raw)} : must be {text}") from None
    return check(Settings(**values), given)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return settings_from_env()
