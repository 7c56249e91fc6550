"""The wire matches its documentation: real frames, stream messages and REST responses
validate against the API models (app/api/frame_model.py, app/api/models.py) with no field the
models do not declare, and docs/frames.md names exactly the frame model's fields.

A script written from docs/frames.md or the OpenAPI then reads every field the server sends,
and nothing the server sends is missing from them.
"""

from __future__ import annotations

import json
import re
import time
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from app.api.frame_model import Frame, NeuronGrid, Rebuilt, StreamError
from app.api.models import (
    BackpropResponse,
    Detail,
    History,
    Options,
    Refusal,
    RunData,
    RunInfo,
    ValidationDetail,
)
from app.api.nudge import LayerAnswer, NudgeAnswer
from app.api.stats import Stats
from tests.api.conftest import DIVERGING, TestClient, client_for
from tests.api.test_backprop import HAND

M = TypeVar("M", bound=BaseModel)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "frames.md"

# One run per kind of problem, and the output whose σ' cancels in BP1.
CONFIGS: dict[str, dict[str, Any]] = {
    "classification": {},
    "regression": {"dataset": "plane", "hidden": [3]},
    "multiclass": {"dataset": "blobs3", "hidden": [5, 4]},
    "cross_entropy": {"output_activation": "sigmoid", "cost": "cross_entropy", "hidden": [3]},
}


def undeclared(sent: Any, kept: Any, path: str = "$") -> list[str]:
    """Paths of the keys in ``sent`` that validation dropped (``kept`` is the model's dump)."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        out = [f"{path}.{k}" for k in sent if k not in kept]
        for k in sent.keys() & kept.keys():
            out += undeclared(sent[k], kept[k], f"{path}.{k}")
        return out
    if isinstance(sent, list) and isinstance(kept, list):
        pairs = enumerate(zip(sent, kept, strict=True))  # a dump keeps every item
        return [p for i, (a, b) in pairs for p in undeclared(a, b, f"{path}[{i}]")]
    return []


def conforms(model: type[M], raw: bytes | str) -> M:
    """Validate what the server sent, strictly (JSON types as declared), and fail on any
    field the model does not declare, at any depth (also for models that would ignore it)."""
    obj = model.model_validate_json(raw, strict=True)
    extra = undeclared(json.loads(raw), obj.model_dump(mode="json", by_alias=True))
    assert not extra, f"{model.__name__}: fields the model does not declare: {extra}"
    return obj


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with client_for(max_runs_per_client=100) as c:
        yield c


def create(client: TestClient, config: dict[str, Any]) -> tuple[str, RunInfo]:
    r = client.post("/api/runs", json=config)
    assert r.status_code == 201, r.text
    info = conforms(RunInfo, r.content)
    return info.id, info


def selections(sizes: list[int]) -> dict[str, str]:
    """explain= values: the output neuron (BP1), a hidden neuron (BP2), an edge into each."""
    L = len(sizes)
    out = {"BP1": f"{L},{sizes[-1] - 1}", "edge into the output": f"{L},0,{sizes[-2] - 1}"}
    if L > 2:
        out |= {"BP2": f"2,{sizes[1] - 1}", "edge into layer 2": "2,0,1"}
    return out


@pytest.mark.parametrize("kind", CONFIGS)
def test_rest_frames_and_responses_match_the_models(client: TestClient, kind: str) -> None:
    run_id, info = create(client, CONFIGS[kind])
    base = f"/api/runs/{run_id}"
    conforms(RunInfo, client.get(base).content)
    frames = [client.get(f"{base}/frame").content]
    for what, sel in selections(info.sizes).items():
        r = client.post(f"{base}/step?explain={sel}", json={"steps": 3})
        assert r.status_code == 200, (what, r.text)
        frames.append(r.content)
        frames.append(client.get(f"{base}/frame?explain={sel}&grid=false").content)
    frames.append(client.post(f"{base}/probe?explain=2,0", json={"index": 3}).content)
    frames.append(client.put(f"{base}/weights/2/0/1", json={"value": 0.25}).content)
    frames.append(client.post(f"{base}/reset").content)
    for raw in frames:
        f = conforms(Frame, raw)
        assert f.kind == info.kind
    explained = [conforms(Frame, raw).explain for raw in frames]
    assert {e.type for e in explained if e} == {"neuron", "edge"}
    assert "BP1" in {e.equation for e in explained if e}

    conforms(RunData, client.get(f"{base}/data").content)
    conforms(History, client.get(f"{base}/history").content)
    conforms(NeuronGrid, client.get(f"{base}/grid/2/0").content)
    for body in ({"of": "w", "l": 2, "j": 0, "k": 1}, {"of": "a", "l": 2, "j": 0}):
        r = client.post(f"{base}/nudge", json=body)
        assert r.status_code == 200, r.text
        conforms(NudgeAnswer, r.content)
    r = client.post(f"{base}/nudge_layer", json={"l": len(info.sizes)})
    assert r.status_code == 200, r.text
    conforms(LayerAnswer, r.content)
    r = client.patch(base, json={"learning_rate": 0.1})
    assert r.status_code == 200, r.text
    conforms(RunInfo, r.content)
    assert client.delete(base).status_code == 204


def stream_messages(client: TestClient, run_id: str, sizes: list[int]) -> list[dict[str, Any]]:
    """What a page's stream receives: the first frame, a frame per selection and step, some
    playing frames, a refused message and a rebuild."""
    got: list[dict[str, Any]] = []

    def until(ws: Any, kind: str) -> dict[str, Any]:
        for _ in range(100):
            msg: dict[str, Any] = ws.receive_json()
            got.append(msg)
            if msg["type"] == kind:
                return msg
        raise AssertionError(f"no {kind} message in 100")

    with client.websocket_connect(f"/api/runs/{run_id}/stream") as ws:
        until(ws, "frame")
        for sel in selections(sizes).values():
            msg = dict(zip("ljk", (int(x) for x in sel.split(",")), strict=False))
            ws.send_json({"type": "select", **msg})
            until(ws, "frame")
            ws.send_json({"type": "step", "steps": 2})
            until(ws, "frame")
        ws.send_json({"type": "play"})
        for _ in range(4):
            until(ws, "frame")
        ws.send_json({"type": "pause"})
        while until(ws, "frame")["status"] != "paused":
            pass
        ws.send_json({"type": "select", "l": 99, "j": 0, "id": 7})
        assert until(ws, "error")["id"] == 7
        ws.send_json({"type": "set", "hidden": [2]})
        until(ws, "rebuilt")
        until(ws, "frame")
    return got


@pytest.mark.parametrize("kind", CONFIGS)
def test_stream_messages_match_the_models(client: TestClient, kind: str) -> None:
    run_id, info = create(client, CONFIGS[kind])
    models: dict[str, type[BaseModel]] = {"frame": Frame, "error": StreamError, "rebuilt": Rebuilt}
    messages = stream_messages(client, run_id, info.sizes)
    for msg in messages:
        assert msg["type"] in models, f"an undocumented message type: {msg['type']}"
        conforms(models[msg["type"]], json.dumps(msg))
    frames = [Frame.model_validate(m) for m in messages if m["type"] == "frame"]
    assert frames[0].grid is not None and frames[0].history is not None
    assert any(f.explain and f.explain.type == "edge" for f in frames)
    assert any(f.status == "running" for f in frames)


def test_a_diverged_run_and_its_advice_match_the_model(client: TestClient) -> None:
    run_id, _ = create(client, DIVERGING)
    r = client.post(f"/api/runs/{run_id}/step?explain=2,0", json={"steps": 50})
    first = conforms(Frame, r.content)
    assert first.status == "diverged"
    deadline = time.monotonic() + 60
    f = first
    while f.health.advice is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the advice is tried in a background thread: poll its frame
        f = conforms(Frame, client.get(f"/api/runs/{run_id}/frame?explain=2,0,0").content)
    assert f.health.advice is not None, "no advice within 60 s"
    assert f.health.advice.tried, "the advice says what it tried"


def test_other_responses_match_the_models(client: TestClient) -> None:
    conforms(Options, client.get("/api/options").content)
    conforms(Stats, client.get("/api/stats").content)
    r = client.post("/api/backprop", json=HAND)  # the hand-worked example
    assert r.status_code == 200, r.text
    assert conforms(BackpropResponse, r.content).updated is not None
    r = client.get("/api/runs/no-such-run")
    assert r.status_code == 404
    conforms(Detail, r.content)
    run_id, _ = create(client, {})
    r = client.post(f"/api/runs/{run_id}/step", json={"steps": 0})
    assert r.status_code == 422
    conforms(ValidationDetail, r.content)


def test_a_refusal_names_its_limit_as_the_model_says() -> None:
    with client_for(max_runs_per_client=1) as c:
        create(c, {})
        r = c.post("/api/runs", json={})
        assert r.status_code == 429
        assert conforms(Refusal, r.content).reason == "client_runs"


# -- docs/frames.md against the frame model ----------------------------------------------------


def models_under(model: type[BaseModel], skip: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """The model and every model its fields hold (through lists, unions, optionals)."""
    seen: set[type[BaseModel]] = set()

    def visit(t: Any) -> None:
        if isinstance(t, type) and issubclass(t, BaseModel):
            if t in seen or t in skip:
                return
            seen.add(t)
            for f in t.model_fields.values():
                visit(f.annotation)
        for arg in typing.get_args(t):
            visit(arg)
        if isinstance(t, types.UnionType):
            for arg in t.__args__:
                visit(arg)

    visit(model)
    return seen


def model_keys(models: set[type[BaseModel]]) -> set[str]:
    return {f.alias or name for m in models for name, f in m.model_fields.items()}


def documented_keys(text: str) -> set[str]:
    """The keys the text blocks of docs/frames.md name: ``"key":`` and the names listed in
    braces (``{"l", "n", "saturated"}``), not the values (``"paused" | "running"``)."""
    blocks = re.findall(r"```text\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3, "docs/frames.md has its frame, explain and health blocks"
    code = "\n".join(re.sub(r"#.*", "", b) for b in blocks)  # comments are prose
    keys = set(re.findall(r'"(\w+)"\s*:', code))
    keys |= set(re.findall(r'[{,]\s*"(\w+)"(?=\s*[,}\s(])', code))
    return keys


def test_docs_frames_md_names_every_field_of_the_frame_and_no_other() -> None:
    # history is GET /history's body (docs/api.md), not spelled out again in frames.md.
    models = models_under(Frame, skip={History})
    in_model = model_keys(models)
    in_docs = documented_keys(DOCS.read_text())
    assert not in_model - in_docs, f"fields docs/frames.md does not name: {in_model - in_docs}"
    assert not in_docs - in_model, f"docs/frames.md names fields no model has: {in_docs - in_model}"
