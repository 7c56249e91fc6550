"""Static assets compressed once and served with validators.

Every file under ``static/`` and Plotly.js is read once, gzip-compressed (level 9, about
0.3 s for Plotly's 4.8 MB) and brotli-compressed, and kept in memory. Brotli at quality 11
saves another ~25 % over gzip on Plotly (1.11 MB against 1.47 MB) but takes ~30 s of one
core, so large files are brotli-compressed once in a background thread and the result is kept
in a cache directory, keyed by the file's SHA-256 (the next start reads it back in
milliseconds). Until it is ready, such a file goes out gzip-compressed.

A response carries ``Content-Encoding`` only when the request's ``Accept-Encoding`` allows
it, always ``Vary: Accept-Encoding``, an ``ETag`` per representation and ``Last-Modified``;
``If-None-Match`` (or ``If-Modified-Since``) answers ``304 Not Modified``.
A file that changes on disk (an edited module while developing) is read again.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import mimetypes
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path, PurePosixPath

import brotli

# Files at least this large are brotli-compressed in the background (Plotly.js).
BACKGROUND_BYTES = 512 * 1024
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


def default_cache_dir() -> Path:
    """``$BPV_ASSET_CACHE``, else ``$XDG_CACHE_HOME/backprop-viz/assets`` (``~/.cache/...``)."""
    if os.environ.get("BPV_ASSET_CACHE"):
        return Path(os.environ["BPV_ASSET_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "backprop-viz" / "assets"


@dataclass
class Asset:
    """One file: its bytes as stored and in each encoding ready so far."""

    path: Path
    stamp: tuple[int, int]  # (mtime_ns, size): read again when it changes
    media_type: str
    tag: str  # hex digest prefix: the ETag's core, shared by every encoding
    last_modified: str  # HTTP date
    mtime: float
    encodings: dict[str, bytes] = field(default_factory=dict)  # "identity" | "gzip" | "br"

    def etag(self, encoding: str) -> str:
        suffix = {"identity": "", "gzip": "-gz", "br": "-br"}[encoding]
        return f'"{self.tag}{suffix}"'


class AssetStore:
    """Named files (``"static/js/main.js"``, ``"vendor/plotly.min.js"``), compressed once.

    ``roots`` maps a URL prefix to a directory whose files (no hidden ones) are served;
    ``files`` maps a name to one file. ``cache_dir=None`` keeps brotli output in memory only.
    """

    def __init__(
        self,
        roots: dict[str, Path],
        files: dict[str, Path],
        cache_dir: Path | None,
        br_quality: int = 11,
    ) -> None:
        self.roots = {k: v.resolve() for k, v in roots.items()}
        self.files = {k: v.resolve() for k, v in files.items()}
        self.cache_dir = cache_dir
        self.br_quality = br_quality
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()
        # One daemon worker for slow brotli jobs: never joined at exit (a server stopping
        # mid-compression just compresses again next time).
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        threading.Thread(target=self._work, name="brotli", daemon=True).start()

    # ---- lookup ---------------------------------------------------------------------------
    def resolve(self, name: str) -> Path | None:
        """The file behind a URL path, or None (unknown, hidden, outside its root)."""
        if name in self.files:
            return self.files[name]
        if "\\" in name or "\x00" in name:
            return None
        prefix, _, rest = name.partition("/")
        root = self.roots.get(prefix)
        if root is None or not rest:
            return None
        parts = PurePosixPath(rest).parts
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        path = (root / rest).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def names(self) -> list[str]:
        """Every servable name (to warm the store at startup)."""
        out = list(self.files)
        for prefix, root in self.roots.items():
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(root).as_posix()
                if p.is_file() and self.resolve(f"{prefix}/{rel}") is not None:
                    out.append(f"{prefix}/{rel}")
        return out

    def get(self, name: str) -> Asset | None:
        """The asset for ``name`` (read and compressed on first use), or None."""
        path = self.resolve(name)
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        asset = self._assets.get(name)
        if asset is not None and asset.stamp == stamp:
            return asset
        with self._lock:
            asset = self._assets.get(name)
            if asset is None or asset.stamp != stamp:
                asset = self._load(path, stamp, st.st_mtime)
                self._assets[name] = asset
        return asset

    def warm(self) -> None:
        """Read and compress every file now (called in a thread at startup)."""
        for name in self.names():
            self.get(name)

    def wait_compressed(self, timeout: float | None = None) -> bool:
        """Wait until the background brotli work queued so far is done; False on timeout."""
        done = threading.Event()
        self._jobs.put(done.set)
        return done.wait(timeout)

    def _work(self) -> None:
        while True:
            self._jobs.get()()

    # ---- compression ----------------------------------------------------------------------
    def _load(self, path: Path, stamp: tuple[int, int], mtime: float) -> Asset:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        media = MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        asset = Asset(
            path=path,
            stamp=stamp,
            media_type=media or "application/octet-stream",
            tag=digest[:24],
            last_modified=formatdate(mtime, usegmt=True),
            mtime=mtime,
            encodings={"identity": data},
        )
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        if len(gz) < len(data):
            asset.encodings["gzip"] = gz
        cached = self._read_cache(digest)
        if cached is not None:
            asset.encodings["br"] = cached
        elif len(data) < BACKGROUND_BYTES:
            self._add_br(asset, digest)
        else:
            self._jobs.put(lambda: self._add_br(asset, digest))
        return asset

    def _add_br(self, asset: Asset, digest: str) -> None:
        data = asset.encodings["identity"]
        br = brotli.compress(data, quality=self.br_quality)
        if len(br) >= len(data):
            return
        asset.encodings["br"] = br  # one dict store: atomic for readers
        self._write_cache(digest, br)

    def _cache_file(self, digest: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{digest}.q{self.br_quality}.br"

    def _read_cache(self, digest: str) -> bytes | None:
        f = self._cache_file(digest)
        if f is None:
            return None
        try:
            data = f.read_bytes()
        except OSError:
            return None
        return data or None

    def _write_cache(self, digest: str, data: bytes) -> None:
        f = self._cache_file(digest)
        if f is None:
            return
        # A read-only or full disk only costs the next start a re-compression.
        with contextlib.suppress(OSError):
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(f)


# ---- HTTP negotiation ---------------------------------------------------------------------
def accepted_encodings(header: str | None) -> dict[str, float]:
    """``Accept-Encoding`` as {coding: q}; ``*`` kept as is. Malformed q counts as 0."""
    out: dict[str, float] = {}
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        out[coding] = q
    return out


def choose_encoding(asset: Asset, accept: str | None) -> str:
    """The smallest representation the client accepts (q > 0); identity otherwise."""
    acc = accepted_encodings(accept)
    star = acc.get("*", 0.0)
    for coding in ("br", "gzip"):
        if coding in asset.encodings and acc.get(coding, star) > 0:
            return coding
    return "identity"


def not_modified(asset: Asset, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110 §13.1: If-None-Match (weak comparison, any encoding of this content) wins;
    If-Modified-Since is looked at only without it."""
    if if_none_match is not None:
        for token in if_none_match.split(","):
            t = token.strip()
            if t == "*":
                return True
            t = t.removeprefix("W/").strip('"')
            if t.removesuffix("-gz").removesuffix("-br") == asset.tag:
                return True
        return False
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
        return int(asset.mtime) <= since
    return False
