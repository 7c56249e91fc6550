"""The user's own data from CSV text: features in the first columns, the target in the last.

Format: comma-separated numbers, one example per line; optional spaces around values; LF, CRLF
or CR line ends; an optional UTF-8 byte-order mark; blank lines only at the end. The first row
is a header (and is skipped) when any of its cells is not a number. Every :class:`CSVError`
message starts with the 1-based line number: ``"line 7: expected 3 columns, got 2"``.

``max_cols`` caps the total number of columns, target included; ``max_rows`` caps the data
rows, header excluded. Every value must be finite with magnitude at most
:data:`MAX_MAGNITUDE` (1e12): beyond it sums of squares (scaling, the plot's extent) overflow
float64 long before 1e308, and such values are a units mistake in a teaching data set.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from app.core.datasets import Dataset

Array = NDArray[np.float64]

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
MAX_CLASSES = 10
MAX_MAGNITUDE = 1e12


class CSVError(ValueError):
    """A CSV problem; ``line`` is the 1-based line number, ``problem`` the reason."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.fullmatch(cell) or _NONFINITE.fullmatch(cell))


def _parse_row(cells: list[str], line: int) -> list[float]:
    row = []
    for col, cell in enumerate(cells, start=1):
        if cell == "":
            raise CSVError(line, f"column {col} is empty")
        if not _is_number(cell):
            shown = cell if len(cell) <= 20 else cell[:20] + "…"
            raise CSVError(line, f"column {col}: {shown!r} is not a number")
        value = float(cell)
        if not np.isfinite(value):
            raise CSVError(line, f"column {col}: {cell!r} is not a finite number (NaN or inf)")
        if abs(value) > MAX_MAGNITUDE:
            shown = cell if len(cell) <= 20 else cell[:20] + "…"
            raise CSVError(
                line, f"column {col}: {shown} is beyond ±{MAX_MAGNITUDE:g} (the largest allowed)"
            )
        row.append(value)
    return row


def _parse_line(text: str, line: int, n_cols: int) -> list[float]:
    """One data line, checked cell by cell: the rule, and every error message."""
    if text.strip() == "":
        raise CSVError(line, "blank line (blank lines are allowed only at the end)")
    cells = [c.strip() for c in text.split(",")]
    if len(cells) != n_cols:
        raise CSVError(line, f"expected {n_cols} columns, got {len(cells)}")
    return _parse_row(cells, line)


@lru_cache(maxsize=8)
def _plain_row(n_cols: int) -> re.Pattern[str]:
    """A line of ``n_cols`` plain finite numbers, spaces or tabs around them: a subset of
    what :func:`_parse_line` accepts, matched in C. A line it does not match is checked by
    :func:`_parse_line` instead, so both paths accept and refuse exactly the same lines."""
    cell = rf"[ \t]*{_NUMBER.pattern}[ \t]*"
    return re.compile(rf"{cell}(?:,{cell}){{{n_cols - 1}}}")


def _parse_lines(lines: list[str], start: int, n_cols: int) -> NDArray[np.float64]:
    """Lines ``start:`` as an (N, n_cols) array. Plain lines go through one regex match and
    ``float`` each (a 1,500 × 65 CSV in 40-80 ms, not 250-350: a slow job holds the GIL the
    streams' event loop needs); any other line through :func:`_parse_line`, which raises its
    error. Values beyond ±:data:`MAX_MAGNITUDE` in plain lines are found afterwards, and the
    first line holding one is checked again by :func:`_parse_line` for its error (before an
    error in a later line: errors come in line order)."""
    plain = _plain_row(n_cols).fullmatch
    values: list[float] = []
    try:
        for i in range(start, len(lines)):
            text = lines[i]
            if plain(text):
                values.extend(map(float, text.split(",")))
            else:
                values.extend(_parse_line(text, i + 1, n_cols))
    finally:  # on a later line's error too: an earlier line's comes first
        data = np.array(values, dtype=np.float64).reshape(-1, n_cols)
        wrong = ~(np.abs(data) <= MAX_MAGNITUDE)  # also inf ("1e999" is a plain number)
        if wrong.any():
            r = int(np.argmax(wrong.any(axis=1)))
            _parse_line(lines[start + r], start + r + 1, n_cols)
            raise AssertionError("a value beyond the limit passed the check")  # pragma: no cover
    return data


def load_csv(text: str, max_rows: int, max_cols: int) -> tuple[Array, Array]:
    """Parse CSV text into ``X`` (N, d) features and ``t`` (N,) targets (the last column).

    Needs at least 2 columns (d ≥ 1) and 2 data rows; raises :class:`CSVError` otherwise.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    while lines and lines[-1].strip() == "":
        lines.pop()
    if not lines:
        raise CSVError(1, "the file is empty")
    first = [c.strip() for c in lines[0].split(",")]
    n_cols = len(first)
    if n_cols > max_cols:
        raise CSVError(1, f"{n_cols} columns, more than max_cols={max_cols} columns")
    if n_cols < 2:
        raise CSVError(
            1, "need at least 2 comma-separated columns (features, then the target last), got 1"
        )
    header = not all(_is_number(c) for c in first)
    start = 1 if header else 0
    if len(lines) - start > max_rows:
        raise CSVError(start + max_rows + 1, f"more than max_rows={max_rows} rows")
    data = _parse_lines(lines, start, n_cols)
    if len(data) < 2:
        raise CSVError(len(lines), f"need at least 2 data rows, got {len(data)}")
    return data[:, :-1].copy(), data[:, -1].copy()


def infer_kind(t: Array) -> tuple[str, int]:
    """Guess (kind, n_classes) from targets t (N,).

    - every value in {−1, 1} or every value in {0, 1}: ("classification", 2), stored as ±1;
    - otherwise every value an integer 0..K−1 with K = max + 1 ≤ 10: ("multiclass", K);
    - otherwise ("regression", 1), values kept as they are (not rescaled).
    """
    v = np.asarray(t, dtype=np.float64).reshape(-1)
    values = set(np.unique(v).tolist())
    if values and (values <= {-1.0, 1.0} or values <= {0.0, 1.0}):
        return "classification", 2
    if values and all(x >= 0 and x == int(x) for x in values) and max(values) < MAX_CLASSES:
        return "multiclass", int(max(values)) + 1
    return "regression", 1


def csv_to_dataset(text: str, max_rows: int, max_cols: int, name: str = "csv") -> Dataset:
    """A :class:`Dataset` from CSV text, its kind from :func:`infer_kind`.

    ``points`` is X as is, shape (N, d): with d = 2 it plays the role of (x1, x2) and
    :func:`app.core.datasets.features` applies; with d ≠ 2 the columns are the network's
    inputs directly (features() refuses them). Targets 0/1 are stored as −1/+1.
    """
    X, t = load_csv(text, max_rows, max_cols)
    kind, k = infer_kind(t)
    labels = np.where(t > 0, 1.0, -1.0) if kind == "classification" else t
    return Dataset(name, kind, X, labels.astype(np.float64), k)
