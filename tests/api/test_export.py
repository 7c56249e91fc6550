"""Save and open a run (export, import) and rewind it, over HTTP: exact, or refused whole."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import client_for

RULES: dict[str, dict[str, Any]] = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "l1": {"regulariser": "l1", "lambda": 0.01},
    "l2": {"regulariser": "l2", "lambda": 0.01, "momentum": 0.5},
}
BASE = {"hidden": [5, 3], "batch_size": 7, "learning_rate": 0.1, "seed": 4}


def _hex(params: dict[str, Any]) -> list[str]:
    """Every weight and bias as float.hex: equal lists are equal float64 bits."""
    out: list[str] = []
    for w in params["weights"]:
        out += [float(v).hex() for row in w for v in row]
    for b in params["biases"]:
        out += [float(v).hex() for v in b]
    return out


def _step(c: TestClient, rid: str, steps: int) -> None:
    r = c.post(f"/api/runs/{rid}/step?grid=false", json={"steps": steps})
    assert r.status_code == 200 and r.headers["x-steps-done"] == str(steps)


def _export(c: TestClient, rid: str) -> dict[str, Any]:
    r = c.get(f"/api/runs/{rid}/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment")
    doc: dict[str, Any] = r.json()
    return doc


@pytest.mark.parametrize("rule", list(RULES))
def test_an_opened_run_goes_on_exactly_as_the_saved_one(rule: str) -> None:
    with client_for() as c:
        rid = c.post("/api/runs", json={**BASE, **RULES[rule]}).json()["id"]
        _step(c, rid, 143)  # mid-epoch: 250 examples in batches of 7
        doc = _export(c, rid)
        text = json.dumps(doc)  # saved to a file and read back, as the page would
        made = c.post("/api/runs", json={"import": json.loads(text)})
        assert made.status_code == 201
        info = made.json()
        assert info["step"] == 143 and info["config"] == doc["settings"]
        twin = info["id"]
        assert c.get(f"/api/runs/{twin}/history").json()["step"] == doc["history"]["step"]
        _step(c, rid, 100)
        _step(c, twin, 100)
        a, b = _export(c, rid), _export(c, twin)
        assert a["step"] == b["step"] == 243
        assert _hex(a["parameters"]) == _hex(b["parameters"])
        assert _hex(a["velocity"]) == _hex(b["velocity"])
        assert a["batches"] == b["batches"]
        assert _hex(a["parameters"]) != _hex(doc["parameters"])  # it did train


def test_a_csv_run_carries_its_data() -> None:
    rows = "\n".join(f"{i % 7 / 7},{i % 5 / 5},{(i % 7 + i % 5) % 2}" for i in range(60))
    with client_for() as c:
        rid = c.post("/api/runs", json={"dataset": "csv", "csv": "a,b,y\n" + rows}).json()["id"]
        _step(c, rid, 20)
        doc = _export(c, rid)
        assert doc["settings"]["csv"].endswith(rows)
        twin = c.post("/api/runs", json={"import": doc}).json()["id"]
        _step(c, rid, 100)
        _step(c, twin, 100)
        assert _hex(_export(c, rid)["parameters"]) == _hex(_export(c, twin)["parameters"])


def test_a_random_feedback_run_carries_its_matrices() -> None:
    with client_for() as c:
        config = {**BASE, "hidden": [4, 3], "feedback": "random", "momentum": 0.5}
        rid = c.post("/api/runs", json=config).json()["id"]
        _step(c, rid, 50)
        doc = _export(c, rid)
        shapes = [(len(m), len(m[0])) for m in doc["feedback_matrices"]]
        assert shapes == [(4, 3), (3, 1)]  # B^3, B^4: (n_{l-1}, n_l)
        twin = c.post("/api/runs", json={"import": doc}).json()["id"]
        _step(c, rid, 100)
        _step(c, twin, 100)
        assert _hex(_export(c, rid)["parameters"]) == _hex(_export(c, twin)["parameters"])
        # The document's matrices are the ones used: other matrices, another run
        other = copy.deepcopy(doc)
        other["feedback_matrices"][0][0][0] += 0.5
        changed = c.post("/api/runs", json={"import": other}).json()["id"]
        _step(c, changed, 100)
        after = _export(c, changed)
        assert after["feedback_matrices"] == other["feedback_matrices"]
        assert _hex(after["parameters"]) != _hex(_export(c, twin)["parameters"])
        for bad, loc in (
            (None, ["feedback_matrices"]),
            ([[[1.0]]], ["feedback_matrices"]),
            ([[[1.0] * 3] * 4, [[1.0]] * 2], ["feedback_matrices", 1]),
        ):
            d = copy.deepcopy(doc)
            d["feedback_matrices"] = bad
            r = c.post("/api/runs", json={"import": d})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"][2:] == loc, r.text


def _broken(doc: dict[str, Any]) -> list[tuple[str, Any, list[Any], str]]:
    """(what, the document changed, the loc expected after ["body", "import"], a phrase)."""
    cases = []

    def case(what: str, change: Any, loc: list[Any], phrase: str) -> None:
        d = copy.deepcopy(doc)
        change(d)
        cases.append((what, d, loc, phrase))

    case("newer", lambda d: d.update(format_version=3), ["format_version"], "version 3")
    case("not ours", lambda d: d.update(format="something"), ["format"], "format must be")
    case("missing", lambda d: d.pop("velocity"), ["velocity"], "required")
    case("unknown", lambda d: d.update(extra=1), ["extra"], "not permitted")
    case(
        "shape",
        lambda d: d["parameters"]["weights"].__setitem__(1, [[1.0]]),
        ["parameters", "weights", 1],
        "w^3 must be 3 × 5",
    )
    case(
        "layers",
        lambda d: d["velocity"]["biases"].pop(),
        ["velocity", "biases"],
        "3 of these",
    )
    case(
        "order", lambda d: d["batches"].update(order=[0] * 250), ["batches", "order"], "permutation"
    )
    case("position", lambda d: d["batches"].update(position=251), ["batches", "position"], "0..250")
    case(
        "rng",
        lambda d: d["batches"]["rng"].update(state="zz"),
        ["batches", "rng", "state"],
        "pattern",
    )
    case("data", lambda d: d["settings"].update(seed=5), ["data_sha256"], "differs")
    case("caps", lambda d: d["settings"].update(hidden=[9]), ["settings", "hidden", 0], "max_width")
    case(
        "history",
        lambda d: d["history"]["test_cost"].pop(),
        ["history", "test_cost"],
        "entries",
    )
    case(
        "a layer's series too short",
        lambda d: d["history"]["layers"][1]["grad_w"].pop(),
        ["history", "layers", 1, "grad_w"],
        "entries",
    )
    case(
        "a layer missing",
        lambda d: d["history"]["layers"].pop(),
        ["history", "layers"],
        "l = 2..4",
    )
    case(
        "a norm float32 cannot hold",
        lambda d: d["history"]["layers"][0]["probe_delta"].__setitem__(0, 1e39),
        ["history", "layers", 0, "probe_delta"],
        "norms are",
    )
    case(
        "more saturated units than the layer has",
        lambda d: d["history"]["layers"][0]["saturated"].__setitem__(0, 6),
        ["history", "layers", 0, "saturated"],
        "0..5",
    )
    case(
        "a probe series too short",
        lambda d: d["history"]["probe"].pop(),
        ["history", "probe"],
        "entries",
    )
    case(
        "a probe that is not a training example",
        lambda d: d["history"]["probe"].__setitem__(0, 250),
        ["history", "probe"],
        "0..249",
    )
    case(
        "version 1 with a probe series",
        lambda d: (d.update(format_version=1), d["history"].pop("layers")),
        ["history", "probe"],
        "not part of format version 1",
    )
    case(
        "version 2 without layers",
        lambda d: d["history"].pop("layers"),
        ["history", "layers"],
        "required",
    )
    case(
        "version 1 with layers",
        lambda d: d.update(format_version=1),
        ["history", "layers"],
        "not part of format version 1",
    )
    return cases


def test_a_broken_or_newer_document_is_refused_naming_the_field_and_nothing_is_made() -> None:
    with client_for() as c:
        rid = c.post("/api/runs", json={**BASE, "momentum": 0.9}).json()["id"]
        _step(c, rid, 40)
        doc = _export(c, rid)
        for what, bad, loc, phrase in _broken(doc):
            r = c.post("/api/runs", json={"import": bad})
            assert r.status_code == 422, (what, r.text)
            issue = r.json()["detail"][0]
            assert issue["loc"] == ["body", "import", *loc], (what, issue)
            assert phrase in issue["msg"], (what, issue)
        # NaN in a weight (a raw body: JSON has no NaN, Python's reader takes it)
        text = json.dumps({"import": doc}).replace(
            json.dumps(doc["parameters"]["weights"][0][0][0]), "NaN", 1
        )
        r = c.post("/api/runs", content=text)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][:4] == [
            "body",
            "import",
            "parameters",
            "weights",
        ]
        r = c.post("/api/runs", json={"import": doc, "seed": 3})
        assert r.status_code == 422 and "not both" in r.json()["detail"][0]["msg"]
        assert c.get("/api/stats").json()["runs"] == 1  # nothing half-made


DEEP = {"dataset": "circle", "hidden": [8] * 6, "hidden_activation": "sigmoid", "seed": 2}


def test_an_opened_run_has_the_gradient_across_layers_of_the_saved_one() -> None:
    with client_for() as c:
        rid = c.post("/api/runs", json=DEEP).json()["id"]
        first = c.get(f"/api/runs/{rid}/frame").json()["probe"]["index"]
        for k in (1, 3, 10, 40, 6):
            if k == 10:  # the learner picks another probe: the points after it are its
                assert c.post(f"/api/runs/{rid}/probe", json={"index": 17}).status_code == 200
            _step(c, rid, k)
        doc = _export(c, rid)
        at = dict(zip(doc["history"]["step"], doc["history"]["probe"], strict=True))
        # step 4 was measured before the change (its point stays the one first measured)
        assert [at[s] for s in (1, 4, 14, 54, 60)] == [first, first, 17, 17, 17], at
        assert first != 17
        assert doc["format_version"] == 2 and [x["l"] for x in doc["history"]["layers"]] == list(
            range(2, 9)
        )
        made = c.post("/api/runs", json={"import": json.loads(json.dumps(doc))})
        assert made.status_code == 201, made.text
        twin = made.json()["id"]
        original = c.get(f"/api/runs/{rid}/history").json()
        opened = c.get(f"/api/runs/{twin}/history").json()
        original.pop("revision"), opened.pop("revision")  # a count of this run's cuts
        assert opened == original
        # the layer histograms are not in the document: the opened run's first frame has them
        assert c.get(f"/api/runs/{twin}/frame").status_code == 200
        snaps = c.get(f"/api/runs/{twin}/history?histograms=true").json()["histograms"]
        assert snaps["step"] == [doc["step"]] and snaps["layers"][0]["w"][0] is not None
        # the staircase is there: layer 2 learns orders of magnitude slower than the output
        g = {x["l"]: x["grad_w"][-1] for x in opened["layers"]}
        assert g[8] / g[2] > 100, g
        # it trains on from there: the new points follow the document's
        _step(c, twin, 5)
        on = c.get(f"/api/runs/{twin}/history").json()
        assert on["step"][:-1] == original["step"] and on["step"][-1] == original["step"][-1] + 5
        for x, y in zip(on["layers"], opened["layers"], strict=True):
            assert x["grad_w"][:-1] == y["grad_w"]


def test_a_version_1_document_still_opens_with_its_loss_history() -> None:
    with client_for() as c:
        rid = c.post("/api/runs", json=BASE).json()["id"]
        _step(c, rid, 20)
        doc = _export(c, rid)
        old = copy.deepcopy(doc)
        old["format_version"] = 1
        del old["history"]["layers"], old["history"]["probe"]  # what a version 1 server wrote
        made = c.post("/api/runs", json={"import": old})
        assert made.status_code == 201, made.text
        h = c.get(f"/api/runs/{made.json()['id']}/history").json()
        assert h["step"] == doc["history"]["step"]
        assert h["train_cost"] == doc["history"]["train_cost"]
        assert h["layers"] == []  # nothing to show of the layers' past, and nothing made up
        assert h["probe"] == [None] * len(h["step"])


def test_an_import_counts_against_the_clients_runs() -> None:
    with client_for(max_runs_per_client=1) as c:
        rid = c.post("/api/runs", json={}).json()["id"]
        r = c.post("/api/runs", json={"import": _export(c, rid)})
        assert r.status_code == 429 and r.json()["reason"] == "client_runs"


def test_timeline_and_rewind_over_http() -> None:
    with client_for() as c:
        rid = c.post("/api/runs", json={**BASE, "momentum": 0.9}).json()["id"]
        assert c.get(f"/api/runs/{rid}/timeline").json()["steps"] == [0]
        _step(c, rid, 30)
        before = c.get(f"/api/runs/{rid}/frame").json()
        _step(c, rid, 500)
        tl = c.get(f"/api/runs/{rid}/timeline").json()
        assert tl["step"] == 530 and tl["steps"][:31] == list(range(31))
        assert tl["bytes"] <= tl["budget_bytes"] and len(tl["steps"]) <= tl["max_snapshots"]
        r = c.post(f"/api/runs/{rid}/rewind?grid=false", json={"step": 30})
        assert r.status_code == 200
        f = r.json()
        assert f["step"] == 30 and f["history"]["step"][-1] <= 30
        assert f["layers"] == before["layers"] and f["train"] == before["train"]
        assert c.get(f"/api/runs/{rid}").json()["step"] == 30
        r = c.post(f"/api/runs/{rid}/rewind", json={"step": -1})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "step"]


def test_a_document_too_big_for_this_servers_budget_is_refused_naming_the_setting() -> None:
    with client_for() as c:
        rid = c.post("/api/runs", json={"hidden": [8] * 6, "batch_size": 512}).json()["id"]
        doc = _export(c, rid)
    with client_for(run_memory_mb=2) as small:
        r = small.post("/api/runs", json={"import": doc})
        assert r.status_code == 422
        issue = r.json()["detail"][0]
        assert issue["loc"][:3] == ["body", "import", "settings"], issue
        assert "run_memory_mb" in issue["msg"]
        assert small.get("/api/stats").json()["runs"] == 0
