"""What docs/api.md (and README.md, docs/frames.md) tell a script author, against what the
server answers: each test reads the sentence from the docs and checks it on the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.api.conftest import TestClient
from tests.api.test_backprop import HAND  # a 2-2-1 network worked by hand

ROOT = Path(__file__).resolve().parents[2]
API = (ROOT / "docs" / "api.md").read_text()
FRAMES = (ROOT / "docs" / "frames.md").read_text()
README = (ROOT / "README.md").read_text()


def flat(text: str) -> str:
    """Prose with its line breaks (and a code block's comment marks) as single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"\n\s*#", " ", text))


@pytest.mark.parametrize(
    ("output", "targets"),
    [
        ("sigmoid", {-1.0: [0.0], 1.0: [1.0]}),
        ("softmax", {-1.0: [1.0, 0.0], 1.0: [0.0, 1.0]}),
        ("tanh", {-1.0: [-1.0], 1.0: [1.0]}),
        ("linear", {-1.0: [-1.0], 1.0: [1.0]}),
    ],
)
def test_classification_targets_follow_the_output_and_the_labels_stay_pm1(
    client: TestClient, output: str, targets: dict[float, list[float]]
) -> None:
    """A script compared the frame's ``probe.y`` (0 or 1 under a sigmoid) with ``/data``'s
    label (±1); the docs said only "Labels: ±1"."""
    config = {"dataset": "circle", "output_activation": output}
    rid = client.post("/api/runs", json=config).json()["id"]
    labels = client.get(f"/api/runs/{rid}/data").json()["train"]["labels"]
    assert set(labels) == {-1.0, 1.0}
    seen = set()
    for index in (0, 1, 2, 3, 4, 5, 6, 7):
        assert client.post(f"/api/runs/{rid}/probe", json={"index": index}).status_code == 200
        probe = client.get(f"/api/runs/{rid}/frame").json()["probe"]
        assert probe["index"] == index
        assert probe["y"] == targets[labels[index]]
        seen.add(labels[index])
    assert seen == {-1.0, 1.0}
    # where /data's labels are documented, and where the config's defaults are
    for said in (
        "on classification with a sigmoid output y is 0 for −1 and 1 for +1, with softmax y is"
        " one-hot over two outputs (`[1, 0]` for −1, `[0, 1]` for +1); with any other output y"
        " is the label itself",
        "Classification's targets y follow the output: 0/1 for sigmoid, one-hot over two"
        " outputs for softmax, the ±1 labels themselves for any other output",
    ):
        assert said in flat(API), said
    said = (
        "y: its targets; on classification 0/1 under a sigmoid output, one-hot ([1, 0] for −1,"
        " [0, 1] for +1) under softmax, else ±1 as /data's labels"
    )
    assert said in flat(FRAMES), said


RANGES = {"learning_rate", "lambda", "noise", "train_share", "momentum", "steps_per_frame"}


def test_the_docs_name_exactly_the_caps_api_options_lists(client: TestClient) -> None:
    """ "The caps are in /api/options" sent a reader looking there for max_runs_per_client,
    max_response_values and the memory caps, which it did not list; the other settings are
    not there. The docs name the caps it lists, and the server lists those."""
    api = flat(API)
    said = re.search(
        r"`/api/options` `limits` lists the caps a request or a stream can run "
        r"into: (.*?) \(with the ranges of the RunConfig fields\)",
        api,
    )
    assert said, "docs/api.md says which caps /api/options lists"
    named = set(re.findall(r"`(\w+)`", said.group(1)))
    limits = client.get("/api/options").json()["limits"]
    assert named == set(limits) - RANGES
    assert {"max_runs_per_client", "max_response_values", "memory_mb"} <= named
    assert "the caps are in `/api/options`" not in api
    readme = flat(README)
    assert "the caps are also shown at `/api/options`;" not in readme
    assert (
        'also shown at `/api/options` `limits`: docs/api.md, "Limits and settings", lists'
        " which; the time caps, pacing and HTTP-edge settings are not there" in readme
    )


def test_the_docs_give_api_backprops_own_bounds(client: TestClient) -> None:
    """/api/backprop's schema bounds (4,096 wide, 64 hidden layers, η and λ up to 1e6) were
    not written anywhere; each is checked here as the docs say it."""
    said = flat(API)
    for sentence in (
        "the network is checked against the same settings as a run's (`max_layers` hidden"
        " layers, `max_width` neurons per hidden layer, `max_inputs`, `max_outputs`,"
        " `max_params`) and the batch against `max_batch` examples",
        "the request's schema refuses a layer wider than 4,096 neurons or more than 64 hidden"
        " layers (66 `sizes`), naming those numbers instead",
        "`learning_rate` and `lambda` may be 0 to 1e6 (wider than a run's"
        " `limits.learning_rate` and `limits.lambda`",
        "`n` 1 to 1,000,000, `seed` 0 to 2^32−1",
    ):
        assert sentence in said, sentence

    def post(**changes: object) -> tuple[int, str]:
        r = client.post("/api/backprop", json={**HAND, **changes})
        return r.status_code, r.text

    limits = client.get("/api/options").json()["limits"]
    width = limits["max_width"]
    status, text = post(sizes=[2, width + 1, 1])
    assert status == 422 and f"at most {width} neurons per hidden layer (max_width)" in text
    status, text = post(sizes=[2, 4097, 1])
    assert status == 422 and "4096" in text
    status, text = post(sizes=[2, *[2] * 65, 1])
    assert status == 422 and "66" in text
    for field in ("learning_rate", "lambda"):
        assert limits[field][1] < 1e6
        assert post(**{field: 1e6})[0] == 200
        assert post(**{field: limits[field][1] * 10})[0] == 200  # beyond a run's range
        assert post(**{field: 1.000001e6})[0] == 422
    assert post(n=1_000_000)[0] == 200 and post(n=1_000_001)[0] == 422
    feedback = {"feedback": "random"}
    assert post(**feedback, seed=2**32 - 1)[0] == 200 and post(**feedback, seed=2**32)[0] == 422


def test_json_number_too_long_is_about_integers_and_not_about_api_backprop(
    client: TestClient,
) -> None:
    """The docs said a number of more than 4,300 digits is ``json_number_too_long``; a float
    literal of 4,401 digits was accepted. The limit is Python's on reading an integer; the
    orjson routes have none (a number beyond a float's range is ``json_invalid``)."""
    said = flat(API)
    for sentence in (
        "`json_number_too_long` (an integer literal, no `.` and no exponent, of more than 4,300"
        " digits: Python's `sys.get_int_max_str_digits()`; a number with a fraction or an"
        " exponent is read as a float whatever its length",
        "`/api/backprop` and the stream read JSON with orjson instead: there a number beyond"
        " ±1.8e308, an integer of any length included, is `json_invalid`",
    ):
        assert sentence in said, sentence
    assert "an integer with more than 4,300 digits" in flat(README)

    def post(path: str, body: str) -> tuple[int, list[dict[str, object]] | None]:
        r = client.post(path, content=body.encode())
        return r.status_code, r.json().get("detail") if r.status_code == 422 else None

    def kind(detail: list[dict[str, object]] | None) -> object:
        return detail[0]["type"] if detail else None

    status, detail = post("/api/runs", '{"seed": ' + "1" * 4301 + "}")
    assert status == 422 and kind(detail) == "json_number_too_long"
    assert "4300 digits" in str(detail)
    status, detail = post("/api/runs", '{"seed": ' + "1" * 4300 + "}")  # read; too large a seed
    assert status == 422 and detail and detail[0]["loc"] == ["body", "seed"]
    assert post("/api/runs", '{"learning_rate": 0.' + "1" * 4400 + "}")[0] == 201
    assert post("/api/runs", '{"learning_rate": 1e-' + "0" * 5000 + "1}")[0] == 201
    status, detail = post("/api/runs", '{"learning_rate": ' + "1" * 400 + ".5}")
    assert status == 422 and "finite number" in str(detail)
    for number in ("1" * 4301, "1" * 400):
        status, detail = post("/api/backprop", '{"n": ' + number + "}")
        assert status == 422 and kind(detail) == "json_invalid"


def test_the_documented_422_example_is_the_servers_words(client: TestClient) -> None:
    """docs/api.md's example 422 said "per layer"; the server says "per hidden layer"."""
    m = re.search(r'`(\{"loc": \["body", "hidden", 0\], "msg": "[^"]*"\})`', API)
    assert m, "docs/api.md shows an example 422 for a hidden layer too wide"
    example = json.loads(m.group(1))
    width = client.get("/api/options").json()["limits"]["max_width"]
    r = client.post("/api/runs", json={"hidden": [width + 1]})
    assert r.status_code == 422
    (only,) = r.json()["detail"]
    assert {k: only[k] for k in example} == example


def test_reset_answers_a_history_of_one_point_at_step_0(client: TestClient) -> None:
    """The docs said reset answers an "(empty)" history; it holds the point at step 0."""
    rid = client.post("/api/runs", json={}).json()["id"]
    assert client.post(f"/api/runs/{rid}/step", json={"steps": 30}).status_code == 200
    history = client.post(f"/api/runs/{rid}/reset").json()["history"]
    assert history["step"] == [0] and len(history["train_cost"]) == 1
    assert all(len(layer["grad_w"]) == 1 for layer in history["layers"])
    said = flat(API)
    assert "(empty) `history`" not in said
    assert 'a `history` started again: one point, at step 0 (`"step": [0]`' in said
