"""What docs/api.md (and README.md, docs/frames.md) tell a script author, against what the
server answers: each test reads the sentence from the docs and checks it on the server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.api.conftest import TestClient

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
