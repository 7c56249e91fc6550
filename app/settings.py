"""Server settings, read once from ``BPV_*`` environment variables.

Tests build their own :class:`Settings` and pass it to ``create_app``; the server reads
the environment through :func:`get_settings`, cached so it happens once.
"""

from __future__ import annotations

import os
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
    # Runs (one per student / browser tab).
    max_runs: int = 300
    idle_timeout_s: float = 600.0  # JupyterHub's culler default
    # Runs one client (a peer address) may hold; a classroom behind one NAT address needs more.
    max_runs_per_client: int = 5
    # Memory (README "Memory budget"): a run's estimated bytes (app/runs/budget.py) at most
    # run_memory_mb, one client's runs together at most client_memory_mb, and all live runs'
    # estimates at most memory_mb, so that the server's resident memory stays under 512 MB.
    run_memory_mb: float = 32.0
    client_memory_mb: float = 64.0
    memory_mb: float = 300.0
    # A REST request's training stops after this many seconds (and max_steps_per_request).
    max_request_s: float = 10.0
    # Size caps; every one of them is reported by GET /api/options.
    max_layers: int = 6  # hidden layers (Playground: 0-6)
    max_width: int = 8  # neurons per hidden layer (Playground: 1-8)
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
    send_timeout_s: float = 10.0
    max_ws_message_bytes: int = 65_536
    allowed_origins: tuple[str, ...] = field(default_factory=_default_origins)
    # uvicorn: ~3 connections per student (reliability.md).
    limit_concurrency: int = 1_000
    # A teacher's preset: a URL-hash string (``dataset=xor&hidden=4,4``) that becomes the
    # default experiment of ``POST /api/runs {}`` and of the page.
    preset: str = ""
    static_dir: Path = ROOT / "static"
    templates_dir: Path = ROOT / "templates"


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
    """Build :class:`Settings` from ``BPV_*`` variables; unknown values raise ValueError."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Settings):
        name = f"BPV_{f.name.upper()}"
        raw = env.get(name)
        if raw is not None:
            try:
                values[f.name] = _parse(f.type, raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a valid {f.type}") from None
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return settings_from_env()
