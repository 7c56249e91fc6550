"""reliability.md's bad-input table: every row gets its answer, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import TestClient, client_for

JSON = {"content-type": "application/json"}


def post_raw(client: TestClient, path: str, body: bytes) -> tuple[int, dict[str, object]]:
    r = client.post(path, content=body, headers=JSON)
    assert r.headers["content-type"].startswith("application/json")
    return r.status_code, r.json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"learning_rate": NaN}',
        b'{"learning_rate": Infinity}',
        b'{"learning_rate": -Infinity}',
        b'{"noise": 1e999}',
        b'{"hidden": [4, NaN]}',
        b'{"seed": true}',
        b'{"learning_rate": false}',
        b'{"batch_size": 10.0}',
        b'{"batch_size": "10"}',
        b'{"hidden": "4,2"}',
        b'{"hidden": [4, 2], "surprise": 1}',
        b'{"dataset": "mnist"}',
        b'{"features": []}',
        b"[]",
        b'"hello"',
        b'{"learning_rate": 0.03,',
        b'{"hidden": [4, 2]}}',
        b"\xff\xfe",
    ],
)
def test_bad_run_bodies_are_422(client: TestClient, body: bytes) -> None:
    status, answer = post_raw(client, "/api/runs", body)
    assert status == 422, answer
    for issue in answer["detail"]:  # type: ignore[union-attr]
        assert set(issue) == {"loc", "msg", "type"}  # never the input back


@pytest.mark.parametrize(
    "body",
    [
        b'{"sizes": [1, 1], "weights": [[[NaN]]], "biases": [[0]], "activations": ["linear"],'
        b' "cost": "quadratic", "x": [[1]], "y": [[1]]}',
        b'{"sizes": [1, 1], "weights": [[[1]]], "biases": [[Infinity]], "activations": ["linear"],'
        b' "cost": "quadratic", "x": [[1]], "y": [[1]]}',
        b'{"sizes": [1, true], "weights": [[[1]]], "biases": [[0]], "activations": ["linear"],'
        b' "cost": "quadratic", "x": [[1]], "y": [[1]]}',
        b'{"sizes": [1, 1], "weights": [[[1]]], "biases": [[0]], "activations": ["linear"],'
        b' "cost": "quadratic", "x": [[false]], "y": [[1]]}',
        b'{"sizes": [1, 1], "weights": [[[1]]], "biases": [[0]], "activations": ["linear"],'
        b' "cost": "quadratic", "x": [[1]], "y": [[-Infinity]], "extra": 1}',
    ],
)
def test_bad_backprop_bodies_are_422(client: TestClient, body: bytes) -> None:
    status, _ = post_raw(client, "/api/backprop", body)
    assert status == 422


def params(client: TestClient, rid: str) -> dict:
    """The run's weights and biases, exactly (its export's ``parameters``)."""
    return client.get(f"/api/runs/{rid}/export").json()["parameters"]


def test_nan_in_every_body_route(client: TestClient, run_id: str) -> None:
    for path, body in [
        (f"/api/runs/{run_id}/step", b'{"steps": NaN}'),
        (f"/api/runs/{run_id}/probe", b'{"index": Infinity}'),
        (f"/api/runs/{run_id}/step", b'{"steps": true}'),
        (f"/api/runs/{run_id}/probe", b'{"index": 1, "x": 2}'),
    ]:
        assert post_raw(client, path, body)[0] == 422
    r = client.patch(f"/api/runs/{run_id}", content=b'{"momentum": NaN}', headers=JSON)
    assert r.status_code == 422


def test_huge_bodies_are_413_with_and_without_content_length() -> None:
    with client_for(max_body_bytes=10_000) as c:
        big = b'{"csv": "' + b"1,2\\n" * 5_000 + b'"}'
        r = c.post("/api/runs", content=big, headers=JSON)
        assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length
            yield b'{"csv": "'
            for _ in range(100):
                yield b"1,2\\n" * 100
            yield b'"}'

        r = c.post("/api/runs", content=chunks(), headers=JSON)
        assert r.status_code == 413
        assert r.headers["x-content-type-options"] == "nosniff"
        huge_array = b'{"hidden": [' + b"4," * 6_000 + b"4]}"
        assert c.post("/api/runs", content=huge_array, headers=JSON).status_code == 413
        assert c.post("/api/runs", json={}).status_code == 201  # the server is fine


def test_huge_arrays_under_the_body_cap_are_422(client: TestClient) -> None:
    status, answer = post_raw(client, "/api/runs", b'{"hidden": [' + b"4," * 999 + b"4]}")
    assert status == 422
    x = ",".join(["[1.0]"] * 600).encode()
    body = (
        b'{"sizes": [1, 1], "weights": [[[1]]], "biases": [[0]], "activations": ["linear"],'
        b' "cost": "quadratic", "x": [' + x + b'], "y": [' + x + b"]}"
    )
    status, answer = post_raw(client, "/api/backprop", body)
    assert status == 422 and "max_batch" in str(answer)


def test_caps_name_field_and_limit(client: TestClient) -> None:
    for body, loc, cap in [
        ({"hidden": [4, 9]}, ["body", "hidden", 1], "max_width"),
        ({"hidden": [1] * 7}, ["body", "hidden"], "max_layers"),
        ({"batch_size": 513}, ["body", "batch_size"], "max_batch"),
        ({"probe": 250}, ["body", "probe"], "training set"),
    ]:
        r = client.post("/api/runs", json=body)
        assert r.status_code == 422
        issue = r.json()["detail"][0]
        assert issue["loc"] == loc and cap in issue["msg"], issue
    csv = "x,y\n" + "1,0\n" * 5_001
    r = client.post("/api/runs", json={"dataset": "csv", "csv": csv})
    assert r.status_code == 422 and "max_rows" in r.json()["detail"][0]["msg"]


# Far past the caps (and past any bound a schema could hold): the refusal still names the
# server's own cap, the one a client can meet, not a bigger one it would hit next.
FAR_PAST_THE_CAPS = [
    ({"hidden": [100, 100]}, ["body", "hidden", 0], "at most 8 neurons per hidden layer"),
    ({"hidden": [100_000]}, ["body", "hidden", 0], "at most 8 neurons per hidden layer"),
    ({"hidden": [2] * 100}, ["body", "hidden"], "at most 6 hidden layers (max_layers)"),
    ({"batch_size": 10**24}, ["body", "batch_size"], "at most 512 examples (max_batch)"),
    ({"probe": 10**12}, ["body", "probe"], "the training set has 250 examples"),
    (
        {"dataset": "digits", "hidden": [100_000]},
        ["body", "hidden", 0],
        "at most 32 neurons per hidden layer on the digits (max_digits_width)",
    ),
]


@pytest.mark.parametrize(("body", "loc", "says"), FAR_PAST_THE_CAPS)
def test_far_past_a_cap_the_refusal_names_that_cap(
    client: TestClient, run_id: str, body: dict[str, object], loc: list[object], says: str
) -> None:
    """A student who sends 100 neurons is told the server's 8 (max_width), on create and on
    PATCH alike, not a memory estimate blamed on another field or a schema's 4096 that
    would only lead to a second refusal; and the run is unchanged."""
    before = client.get(f"/api/runs/{run_id}").json()
    for r in (client.post("/api/runs", json=body), client.patch(f"/api/runs/{run_id}", json=body)):
        assert r.status_code == 422, r.text
        issue = r.json()["detail"][0]
        assert issue["loc"] == loc and says in issue["msg"], issue
    assert client.get(f"/api/runs/{run_id}").json() == before


def test_far_past_the_step_and_probe_caps_the_refusal_names_them(
    client: TestClient, run_id: str
) -> None:
    for path, body, loc, says in [
        ("step", {"steps": 10**30}, "steps", "at most 100000 steps (max_steps_per_request)"),
        ("step", {"epochs": 10**11}, "epochs", "at most 100000 (max_steps_per_request)"),
        ("probe", {"index": 10**12}, "index", "the training set has 250 examples (0..249)"),
    ]:
        r = client.post(f"/api/runs/{run_id}/{path}", json=body)
        assert r.status_code == 422, r.text
        issue = r.json()["detail"][0]
        assert issue["loc"] == ["body", loc] and says in issue["msg"], issue
    assert client.get(f"/api/runs/{run_id}").json()["step"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2f..%2fapp/main.py",
        "/static/%2e%2e/%2e%2e/app/main.py",
        "/static/..%2fsettings.py",
        "/static/../pyproject.toml",
        "/static/%252e%252e/pyproject.toml",
        "/static/js/..%5c..%5cpyproject.toml",
    ],
)
def test_encoded_traversal_is_404(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert b"[build-system]" not in r.content and b"create_app" not in r.content


def test_markup_in_user_text_stays_inert(client: TestClient) -> None:
    """Anything echoed back is JSON (never HTML), with nosniff, and unknown keys are cut."""
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    for r in [
        client.post("/api/runs", json={evil: 1}),
        client.post("/api/runs", json={"dataset": "csv", "csv": f"{evil},1\n2,{evil}\n"}),
        client.post("/api/runs", json={"dataset": evil}),
        client.get(f"/api/runs/{evil}"),
    ]:
        assert r.status_code in (404, 422)
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers["x-content-type-options"] == "nosniff"
    r = client.post("/api/runs", json={"x" * 500: 1})
    assert len(r.json()["detail"][0]["loc"][1]) <= 65


def test_wrong_methods_and_paths(client: TestClient, run_id: str) -> None:
    r = client.put(f"/api/runs/{run_id}", json={})
    assert r.status_code == 405
    # The methods this path takes: GET (read), PATCH (change), DELETE (end).
    assert set(r.headers["Allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
    r = client.get(f"/api/runs/{run_id}/step")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    assert client.get("/api/nothing").status_code == 404


def test_a_very_long_integer_is_named_as_such(client: TestClient) -> None:
    status, body = post_raw(client, "/api/runs", b'{"seed": 1' + b"0" * 5000 + b"}")
    assert status == 422
    (only,) = body["detail"]  # type: ignore[misc]
    assert "4300 digits" in only["msg"] and only["type"] == "json_number_too_long"


def test_deep_nesting_is_named_as_such(client: TestClient) -> None:
    status, body = post_raw(client, "/api/runs", b"[" * 20_000 + b"]" * 20_000)
    assert status == 422
    (only,) = body["detail"]  # type: ignore[misc]
    assert "nested too deeply" in only["msg"]


def test_bytes_that_are_not_utf8_are_named_as_such(client: TestClient) -> None:
    status, body = post_raw(client, "/api/runs", b'{"csv": "' + bytes([0xFF, 0xFE]) + b'"}')
    assert status == 422
    assert "not UTF-8" in body["detail"][0]["msg"]  # type: ignore[index]


def test_error_lists_are_capped(client: TestClient) -> None:
    """50,000 unknown keys answered a 4.5 MB list of errors."""
    body = "{" + ",".join(f'"k{i}": 1' for i in range(50_000)) + "}"
    r = client.post("/api/runs", content=body.encode(), headers=JSON)
    assert r.status_code == 422 and len(r.content) < 5_000
    detail = r.json()["detail"]
    assert len(detail) == 21
    assert all(d["loc"][1].startswith("k") for d in detail[:20])
    assert detail[-1]["msg"].startswith("49980 more problems not shown")


def test_an_out_of_range_probe_in_patch_names_probe(client: TestClient, run_id: str) -> None:
    n_train = len(client.get(f"/api/runs/{run_id}/data").json()["train"]["points"])
    r = client.patch(f"/api/runs/{run_id}", json={"probe": n_train})
    assert r.status_code == 422
    (only,) = r.json()["detail"]
    assert only["loc"] == ["body", "probe"] and f"0..{n_train - 1}" in only["msg"]
    r = client.post(f"/api/runs/{run_id}/probe", json={"index": n_train})
    assert r.json()["detail"][0]["loc"] == ["body", "index"]


@pytest.mark.parametrize("value", ["1e308", "-1e308", "1.5e12", "-2000000000000"])
def test_csv_values_beyond_the_magnitude_cap_are_422(client: TestClient, value: str) -> None:
    """±1e308 gave ``extent: [null, null]``; beyond ±1e12 is refused, naming line and column."""
    csv = f"x,t\n0.5,1\n{value},0\n1,1\n"
    r = client.post("/api/runs", json={"dataset": "csv", "csv": csv})
    assert r.status_code == 422
    (only,) = r.json()["detail"]
    assert only["loc"] == ["body", "csv"]
    assert only["msg"].startswith("line 3: column 1:") and "1e+12" in only["msg"]


def test_csv_values_at_the_cap_train_with_a_finite_extent(client: TestClient) -> None:
    rows = "\n".join(f"{(-1) ** i * 1e12},{i * 5e10},{i % 2}" for i in range(20))
    r = client.post("/api/runs", json={"dataset": "csv", "csv": f"x,y,t\n{rows}\n"})
    assert r.status_code == 201
    data = client.get(f"/api/runs/{r.json()['id']}/data").json()
    (lo_x, hi_x), (lo_y, hi_y) = data["extent"]  # numbers (null before), around the data
    assert lo_x <= -1e12 and hi_x >= 1e12 and lo_y <= 0 and hi_y >= 19 * 5e10


def test_csv_text_is_checked_even_while_another_dataset_is_used(
    client: TestClient, run_id: str
) -> None:
    """CSV text sent with another dataset is kept for when the CSV is picked: it is checked
    when it arrives (a reviewer's ``1e400`` was stored and only refused later), and keeping
    it loses nothing already there (the run is not rebuilt)."""
    assert client.post(f"/api/runs/{run_id}/step", json={"steps": 30}).status_code == 200
    for bad, where in [("a,b\n1,1e400\n", "line 2: column 2"), ("a,b\nx,2\n", "line 2: column 1")]:
        r = client.post("/api/runs", json={"csv": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "csv"], r.text
        assert where in r.json()["detail"][0]["msg"]
        r = client.patch(f"/api/runs/{run_id}", json={"csv": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "csv"], r.text
        assert where in r.json()["detail"][0]["msg"]
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["step"] == 30 and run["config"]["csv"] is None
    good = "u,v,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
    r = client.patch(f"/api/runs/{run_id}", json={"csv": good})
    assert r.status_code == 200 and r.json()["step"] == 30 and r.json()["config"]["csv"] == good
    r = client.patch(f"/api/runs/{run_id}", json={"dataset": "csv"})
    assert r.status_code == 200 and r.json()["sizes"][0] == 2 and r.json()["n_train"] == 10


def test_noise_on_csv_data_keeps_the_run(client: TestClient) -> None:
    """Noise is added only to the built-in data sets: changing it on a CSV run changes no
    point, so the run keeps its step, weights and history (it used to be rebuilt at step 0);
    the new noise is kept in the config and applies once a built-in data set is picked."""
    csv = "u,v,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
    run = client.post("/api/runs", json={"dataset": "csv", "csv": csv}).json()
    rid = run["id"]
    assert client.post(f"/api/runs/{rid}/step", json={"steps": 30}).status_code == 200
    before = params(client, rid)
    r = client.patch(f"/api/runs/{rid}", json={"noise": 0.3})
    assert r.status_code == 200, r.text
    assert r.json()["step"] == 30 and r.json()["config"]["noise"] == 0.3
    assert params(client, rid) == before
    assert len(client.get(f"/api/runs/{rid}/history").json()["step"]) >= 1
    r = client.patch(f"/api/runs/{rid}", json={"dataset": "circle"})
    assert r.status_code == 200 and r.json()["step"] == 0


def test_backprop_error_list_counts_the_hidden_problems_once(client: TestClient) -> None:
    """30 rows of two strings are 60 problems: 20 listed, then "40 more" (the cap was applied
    twice, in the route and in the 422 handler, and said "1 more")."""
    body = {
        "sizes": [2, 1],
        "weights": [[[0.1, 0.2]]],
        "biases": [[0.0]],
        "activations": ["sigmoid"],
        "cost": "quadratic",
        "x": [["a", "b"]] * 30,
        "y": [[1.0]] * 30,
    }
    r = client.post("/api/backprop", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert len(detail) == 21
    assert all(d["loc"][:2] == ["body", "x"] for d in detail[:20])
    assert detail[-1]["type"] == "more"
    assert detail[-1]["msg"].startswith("40 more problems not shown")
