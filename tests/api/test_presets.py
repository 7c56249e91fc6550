"""One link grammar, one parser: the page's hash (GET /api/preset) and BPV_PRESET read every
link of tests/hash_cases.json the same way."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from app.api.models import RunConfig
from app.api.presets import GRAMMAR, PresetError, parse_link, parse_preset
from app.main import create_app
from app.settings import Settings
from tests.api.conftest import TestClient, client_for

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "hash_cases.json").read_text()
)["cases"]
IDS = [c["name"] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_link_cases(case: dict[str, Any]) -> None:
    link = parse_link(case["hash"], Settings())
    assert link.config == case["config"]
    assert link.view == case["view"]
    assert [i["key"] for i in link.ignored] == case["ignored"]
    for i in link.ignored:  # every ignored part says why, in words
        assert i["reason"] and "Traceback" not in i["reason"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_page_asks_the_same_parser(client: TestClient, case: dict[str, Any]) -> None:
    r = client.get("/api/preset", params={"hash": case["hash"]})
    assert r.status_code == 200
    got = r.json()["hash"]
    assert got["config"] == case["config"] and got["view"] == case["view"]
    assert [i["key"] for i in got["ignored"]] == case["ignored"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bpv_preset_reads_the_same_cases(case: dict[str, Any]) -> None:
    """A teacher's preset sets what the link sets, and refuses to start on a bad value."""
    invalid = [i for i in parse_link(case["hash"], Settings()).ignored if i["kind"] == "invalid"]
    if invalid:
        with pytest.raises(PresetError, match=invalid[0]["key"]):
            create_app(Settings(preset=case["hash"]))
        return
    config = parse_preset(case["hash"], Settings()).model_dump(by_alias=True)
    for key, value in case["config"].items():
        assert config[key] == value, key
    with client_for(preset=case["hash"]) as c:  # and it is the page's default experiment
        default = c.get("/api/options").json()["default_config"]
        assert {k: default[k] for k in case["config"]} == case["config"]
        view = c.get("/api/preset").json()["preset"]["view"]
        assert view == case["view"]


def test_the_grammar_covers_every_run_setting() -> None:
    config_keys = {k.key for k in GRAMMAR if k.target == "config"}
    assert config_keys == {f.alias or name for name, f in RunConfig.model_fields.items()}


def test_the_page_writes_links_with_the_servers_grammar(client: TestClient) -> None:
    grammar = client.get("/api/preset").json()["grammar"]
    assert [g["key"] for g in grammar] == [k.key for k in GRAMMAR]
    view = {g["key"]: g["default"] for g in grammar if g["target"] == "view"}
    assert view["speed"] == 10 and view["hide"] == [] and view["test"] is False


def test_the_js_tests_copy_of_the_grammar_is_the_servers(client: TestClient) -> None:
    """tests/js/heat_link.test.mjs writes links with this copy, as the page does with the
    server's; regenerate it with ``python -c "import json; from app.api.presets import
    grammar_json; print(json.dumps(grammar_json(), ensure_ascii=False, indent=1))"
    > tests/js/grammar.json``."""
    copy = json.loads((Path(__file__).resolve().parents[1] / "js" / "grammar.json").read_text())
    assert copy == client.get("/api/preset").json()["grammar"]


def test_a_link_too_long_is_a_clear_422(client: TestClient) -> None:
    r = client.get("/api/preset", params={"hash": "x" * 5000})
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"][-1] == "hash" and "4096" in detail["msg"]


def test_a_written_link_reads_back(client: TestClient) -> None:
    """Values as the page writes them (null, lists, booleans) parse to the same values."""
    settings = {
        "dataset": "spiral", "noise": 0.25, "train_share": 0.6, "seed": 7,
        "features": ["x1", "x2", "sin_x1"], "hidden": [5, 3], "hidden_activation": "relu",
        "output_activation": None, "cost": None, "init": "he", "learning_rate": 0.003,
        "batch_size": 30, "regulariser": "l2", "lambda": 0.3, "momentum": 0.9, "probe": 12,
        "speed": 200, "color": "weight", "over": "mean", "heat": "saturated", "fill": "z",
        "test": True, "discretize": False, "hide": ["noise"], "lock": ["hidden_activation"],
    }  # fmt: skip

    def show(v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        return ",".join(map(str, v)) if isinstance(v, list) else str(v)

    text = "&".join(f"{k}={urllib.parse.quote(show(v), safe=',^')}" for k, v in settings.items())
    got = client.get("/api/preset", params={"hash": text}).json()["hash"]
    assert got["ignored"] == []
    assert {**got["config"], **got["view"]} == settings
