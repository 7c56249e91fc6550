"""CSV upload: parsing, limits, error messages with line numbers, kind inference."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.core import csvdata
from app.core.csvdata import CSVError, csv_to_dataset, infer_kind, load_csv
from app.core.datasets import features, targets


def load(text: str, max_rows: int = 5000, max_cols: int = 10) -> tuple[np.ndarray, np.ndarray]:
    return load_csv(text, max_rows, max_cols)


def test_plain_numbers_without_header() -> None:
    X, t = load("1,2,1\n-0.5, 3e-1 ,-1\n.25,+4.,1\n")
    np.testing.assert_array_equal(X, [[1, 2], [-0.5, 0.3], [0.25, 4.0]])
    np.testing.assert_array_equal(t, [1, -1, 1])
    assert X.dtype == np.float64 and t.shape == (3,)


def test_header_is_detected_and_skipped() -> None:
    X, t = load('x1,"x2",label\n1,2,0\n3,4,1')
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(t, [0, 1])
    X, _ = load("1,2,0\n3,4,1")  # first row numeric: it is data
    assert X.shape == (2, 2)


def test_crlf_bom_and_trailing_blank_lines() -> None:
    X, t = load("\ufeffa,b\r\n1,2\r\n3,4\r\n\r\n  \n")
    np.testing.assert_array_equal(X, [[1], [3]])
    np.testing.assert_array_equal(t, [2, 4])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        ("\n \n", 1, "empty"),
        ("a,b,c\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2\n", 7, "expected 3 columns, got 2"),
        ("1,2\n3,4,5\n", 2, "expected 2 columns, got 3"),
        ("x,y\n1,2\n3,abc\n", 3, "'abc' is not a number"),
        ("1,2\n3,0x10\n", 2, "not a number"),
        ("1,2\n3,\n", 2, "column 2 is empty"),
        ("x,y\n1,2\n3,nan\n", 3, "NaN or inf"),
        ("1,2\n-inf,4\n", 2, "NaN or inf"),
        ("1,2\n1e400,4\n", 2, "NaN or inf"),
        ("1;2;3\n4;5;6\n", 1, "at least 2"),
        ("x,y\n1,2\n", 2, "at least 2 data rows, got 1"),
        ("x,y\n", 1, "got 0"),
        ("1,2\n\n3,4\n", 2, "blank line"),
    ],
)
def test_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(CSVError) as info:
        load(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ")
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_row_cap() -> None:
    body = "".join(f"{i},{i % 2}\n" for i in range(6))
    assert load("x,y\n" + body, max_rows=6)[0].shape == (6, 1)
    with pytest.raises(CSVError, match=r"line 6: more than max_rows=5 rows"):
        load(body, max_rows=5)
    with pytest.raises(CSVError, match=r"line 7: more than max_rows=5 rows"):
        load("x,y\n" + body, max_rows=5)


def test_column_cap() -> None:
    assert load("1,2,3\n4,5,6", max_cols=3)[0].shape == (2, 2)
    with pytest.raises(CSVError, match=r"line 1: 4 columns, more than max_cols=3"):
        load("1,2,3,4\n5,6,7,8", max_cols=3)


@pytest.mark.parametrize(
    ("t", "kind", "k"),
    [
        ([-1, 1, 1], "classification", 2),
        ([0, 1, 0], "classification", 2),
        ([1, 1], "classification", 2),
        ([0, 1, 2], "multiclass", 3),
        ([0, 9, 3], "multiclass", 10),
        ([0, 10, 3], "regression", 1),
        ([-1, 0, 1], "regression", 1),
        ([0.5, 1, 0], "regression", 1),
        ([2.5, -7.0], "regression", 1),
    ],
)
def test_infer_kind(t: list[float], kind: str, k: int) -> None:
    assert infer_kind(np.array(t, dtype=np.float64)) == (kind, k)


def test_csv_to_dataset_two_columns_classification() -> None:
    d = csv_to_dataset("x1,x2,y\n0.5,1,0\n-2,3,1\n1,1,1\n", 100, 5, name="mine")
    assert (d.name, d.kind, d.n_classes) == ("mine", "classification", 2)
    assert d.points.shape == (3, 2)
    np.testing.assert_array_equal(d.labels, [-1, 1, 1])  # 0/1 stored as ±1
    assert features(d.points, ["x1x2"]).ravel().tolist() == [0.5, -6.0, 1.0]
    assert targets(d.labels, d.kind, "sigmoid", d.n_classes).ravel().tolist() == [0, 1, 1]


def test_csv_to_dataset_other_widths_and_kinds() -> None:
    d = csv_to_dataset("1,2,3,0\n4,5,6,2\n7,8,9,1\n", 100, 5)
    assert (d.kind, d.n_classes, d.points.shape) == ("multiclass", 3, (3, 3))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        features(d.points, ["x1"])
    r = csv_to_dataset("1,0.25\n2,-3.5\n", 100, 5)
    assert (r.kind, r.n_classes, r.points.shape) == ("regression", 1, (2, 1))
    np.testing.assert_array_equal(r.labels, [0.25, -3.5])


# plain numbers, and odd or wrong cells: the non-ASCII ones are an Arabic-Indic 3 (float()
# reads it; the CSV rule does not) and a no-break space before a 1 (strip() removes it)
CELLS = [
    "1",
    "-2.5",
    " 3 ",
    "\t4",
    "+.5",
    "5.",
    "0.000123",
    "7e-3",
    "-1E+2",
    "1e12",
    "-1e12",
    "1e13",
    "1e999",
    "nan",
    "-inf",
    "Infinity",
    "",
    " ",
    "abc",
    "1_000",
    "0x10",
    "\u0663",
    "\u00a01",
    "1 2",
    "1e",
    ".",
    "--1",
    "1.2.3",
    "2,3",
]


def _slow_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line through the cell-by-cell check: the rule the fast path must equal."""
    never = re.compile(r"(?!)")
    monkeypatch.setattr(csvdata, "_plain_row", lambda n_cols: never)


def _outcome(text: str) -> tuple[str, object]:
    try:
        x, t = load_csv(text, max_rows=50, max_cols=6)
    except CSVError as e:
        return "error", str(e)
    return "data", (x.tolist(), t.tolist())


def test_the_fast_path_accepts_and_refuses_exactly_what_the_cell_check_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plain lines are parsed by one regex match and ``float`` (a 1,500-row CSV in tens of
    milliseconds, holding the GIL the streams need that much less); 3,000 random CSVs mixing
    plain numbers with every kind of odd or wrong cell give the same data, or the same error
    message for the same line and column, as checking every cell one by one."""
    rng = np.random.default_rng(7)
    texts = []
    for _ in range(3000):
        n_cols, n_rows = int(rng.integers(2, 5)), int(rng.integers(1, 6))
        rows = []
        for _ in range(n_rows):
            odd = rng.random() < 0.3
            rows.append(
                ",".join(
                    str(CELLS[rng.integers(len(CELLS))])
                    if odd and rng.random() < 0.4
                    else f"{rng.normal() * 10.0 ** rng.integers(-3, 4):.{rng.integers(0, 6)}f}"
                    for _ in range(n_cols)
                )
            )
        texts.append("\n".join(rows))
    fast = [_outcome(t) for t in texts]
    _slow_only(monkeypatch)
    slow = [_outcome(t) for t in texts]
    assert fast == slow
    kinds = {kind for kind, _ in fast}
    assert kinds == {"data", "error"}  # both happened
    errors = {str(e).split(": ", 1)[1].split(" ")[0] for k, e in fast if k == "error"}
    assert len(errors) >= 3, errors  # several kinds of error, not one
