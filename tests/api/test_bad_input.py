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
    assert client.put(f"/api/runs/{run_id}", json={}).status_code == 405
    assert client.get("/api/nothing").status_code == 404
