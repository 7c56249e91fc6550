"""Packed stream frames (app/runs/frame_pack.py, docs/frames.md "Packed frames") carry the same
numbers as the JSON frame of the same state, number for number: each packed float32 is the
float32 the JSON's decimal parses to, and its shortest decimal is the JSON's own (the one
the page's decoder, static/js/packed.js, rebuilds; tests/js/packed.test.mjs)."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from app.runs import frame_doc
from app.runs.experiment import Experiment
from app.runs.frame_pack import REF, pack, ref, unpack
from app.runs.run import Run
from app.settings import Settings

FIXTURE = Path(__file__).resolve().parents[1] / "js" / "packed_frame.json"


def same_frame(json_frame: Any, packed: Any, path: str = "") -> int:
    """Assert the unpacked frame ``packed`` is ``json_frame`` read from JSON; returns how
    many arrays came packed. A packed array must have the JSON's shape, its float32 values
    must be the JSON numbers' float32, and each one's shortest decimal must read back as the
    JSON's number itself (the same double, −0.0 included)."""
    if isinstance(packed, np.ndarray):
        assert packed.dtype == np.float32, path
        if packed.size == 0:  # JSON writes an empty array of any shape as []
            assert json_frame == [], path
            return 1
        want = np.array(json_frame, dtype=np.float64)
        assert packed.shape == want.shape, path
        assert np.array_equal(want.astype(np.float32), packed), path
        for j, p in zip(want.ravel().tolist(), packed.ravel(), strict=True):
            back = float(str(p))  # numpy writes a float32's shortest decimal, as orjson does
            assert back == j and math.copysign(1.0, back) == math.copysign(1.0, j), (path, j, p)
        return 1
    assert type(packed) is type(json_frame), path
    if isinstance(json_frame, dict):
        assert json_frame.keys() == packed.keys(), path
        return sum(same_frame(json_frame[k], packed[k], f"{path}.{k}") for k in json_frame)
    if isinstance(json_frame, list):
        assert len(json_frame) == len(packed), path
        pairs = zip(json_frame, packed, strict=True)
        return sum(same_frame(j, p, f"{path}[{i}]") for i, (j, p) in enumerate(pairs))
    assert json_frame == packed, path
    return 0


def both(run: Run, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[bytes, bytes]:
    """The JSON and the packed frame of the same state (the same clock for ``t``)."""
    monkeypatch.setattr(frame_doc.time, "time", lambda: 1_700_000_000.0)
    json_data = run.frame(**kw)
    packed = run.frame(**kw, packed=True)
    return json_data, packed


CASES = [
    {},  # the default experiment: tanh 2-4-2-1 on circle
    {"hidden": [8, 8], "batch_size": 10},  # W1
    {"dataset": "blobs3", "hidden": [5]},  # multiclass: the grid's output is class indices
    {"regulariser": "l2", "lmbda": 0.5, "hidden_activation": "relu"},
    {"feedback": "random", "hidden": [5, 3]},  # the rule's numbers and the true ones beside
    {"hidden": []},  # no hidden layer: no thumbnails
    {"dataset": "digits", "hidden": [6]},  # 64 inputs: no grid
    {"hidden": [3], "hidden_activation": "sigmoid", "cost": "cross_entropy"},
]


@pytest.mark.parametrize("changes", CASES)
def test_a_packed_frame_unpacks_to_the_json_frame(
    changes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run("r", Experiment(seed=5, **changes), Settings())
    run.train(37)
    for kw in (
        {"grid": True, "history": True},
        {"metrics": False},
        {"grid": True, "explain": (len(run.state.net.sizes), 0, 0)},  # the output's w^L_00
    ):
        json_data, packed = both(run, monkeypatch, **kw)
        frame = orjson.loads(json_data)
        got = unpack(packed)
        assert (frame["explain"] is not None) == ("explain" in kw)
        n_layers = len(frame["layers"])
        # every per-layer tensor and edge array is packed (grad_b and mean.delta: 18 each)
        assert same_frame(frame, got) >= 18 * n_layers
        assert all(isinstance(layer["w"], np.ndarray) for layer in got["layers"])
        grid = got["grid"]
        if kw.get("grid") and grid is not None:
            assert isinstance(grid["neurons"], np.ndarray)
            # the multiclass output is class indices: they stay JSON integers
            assert isinstance(grid["output"], list) == (changes.get("dataset") == "blobs3")
        run.train(3)


def test_a_packed_diverged_frame_unpacks_to_the_json_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clipped values (±1e30) and the zeros of a dead network pack as they are written."""
    run = Run("r", Experiment(hidden=[4], hidden_activation="linear", dataset="plane"), Settings())
    run.state.trainer.theta[:] = 1e20
    json_data, packed = both(run, monkeypatch, grid=True)
    frame = orjson.loads(json_data)
    assert same_frame(frame, unpack(packed)) > 0
    numbers = np.concatenate(
        [np.ravel(v) for v in unpack(packed)["layers"][0].values() if isinstance(v, np.ndarray)]
    )
    assert np.abs(numbers).max() >= 1e29  # the clipped magnitudes were there to be compared


def test_the_packed_frame_is_smaller_and_says_where_its_numbers_are() -> None:
    run = Run("r", Experiment(hidden=[8, 8], batch_size=10), Settings())
    json_data = run.frame(grid=True)
    packed = run.frame(grid=True, packed=True)
    assert len(packed) < 0.7 * len(json_data)
    (n,) = np.frombuffer(packed[:4], "<u4")
    assert (4 + n) % 4 == 0  # the float32 data is aligned for a Float32Array view
    header = json.loads(packed[4 : 4 + n])
    w = header["layers"][0]["w"]
    assert set(w) == {REF, "shape"} and w["shape"] == [8, 2]
    data = np.frombuffer(packed[4 + n :], "<f4")
    at = w[REF]
    assert data[at : at + 16].reshape(8, 2).tolist() == unpack(packed)["layers"][0]["w"].tolist()
    assert np.array_equal(
        data[at : at + 16].reshape(8, 2),
        np.asarray(orjson.loads(json_data)["layers"][0]["w"], np.float32),
    )


def fixture() -> dict[str, str]:
    """tests/js/packed_frame.json: a real frame, JSON and packed, and a packed message of
    edge values beside orjson's JSON of them (what tests/js/packed.test.mjs decodes)."""
    from unittest import mock

    with mock.patch.object(frame_doc.time, "time", lambda: 1_700_000_000.0):
        run = Run("r", Experiment(seed=1, hidden=[2]), Settings())
        run.train(20)
        json_data = run.frame(grid=True)
        packed = run.frame(grid=True, packed=True)
    rng = np.random.default_rng(0)
    edge = np.array(
        [
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            1.1754944e-38,
            3.4028235e38,
            -3.4028235e38,
            1e30,
            -1e30,
            1e-30,
            0.1235,
            -0.1235,
            1.0,
            1000.0,
            999.9,
            9999.0,
            12340.0,
            1e22,
            1e23,
            1e-19,
            1e-20,
            2.0**-126,
            2.0**20,
            0.1,
            1.0 / 3.0,
        ],
        dtype=np.float32,
    )
    scaled = rng.standard_normal(400) * 10.0 ** rng.uniform(-40, 38, 400)
    rounded = np.array([float(f"{v:.4g}") for v in scaled], dtype=np.float32)
    raw = (rng.standard_normal(400) * 10.0 ** rng.uniform(-40, 38, 400)).astype(np.float32)
    values = np.concatenate([edge, rounded, raw])
    values = values[np.isfinite(values)]
    matrix = values[: 2 * 3 * 5].reshape(2, 3, 5)
    opts = orjson.OPT_SERIALIZE_NUMPY
    message = {
        "type": "frame",
        "values": values,
        "matrix": matrix,
        "empty": values[:0].reshape(0, 4),
    }
    n = values.size
    header = {
        "type": "frame",
        "values": ref(0, (n,)),
        "matrix": ref(n, (2, 3, 5)),
        "empty": ref(n + 30, (0, 4)),
    }
    return {
        "frame_json": json_data.decode(),
        "frame_packed": base64.b64encode(packed).decode(),
        "values_json": orjson.dumps(message, option=opts).decode(),
        "values_packed": base64.b64encode(
            pack(header, [values.astype("<f4").tobytes(), matrix.astype("<f4").tobytes()])
        ).decode(),
    }


def test_the_js_fixture_is_a_real_frame_in_this_format() -> None:
    """tests/js/packed.test.mjs decodes this file's packed messages and compares them with its
    JSON (JSON.parse): the pairs must be what this server writes. Remake it with
    ``.venv/bin/python -m tests.runs.test_packed_frames``."""
    fix = json.loads(FIXTURE.read_text())
    for name in ("frame", "values"):
        assert same_frame(
            orjson.loads(fix[f"{name}_json"]), unpack(base64.b64decode(fix[f"{name}_packed"]))
        )


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(fixture()) + "\n")
