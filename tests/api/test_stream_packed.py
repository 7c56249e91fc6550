"""A stream that asks for packed frames (``?encoding=f32``, docs/api.md): its frames are
binary messages that unpack to the frames a JSON stream sends; control messages stay JSON
text; a script that asks for nothing still gets JSON; an unknown encoding is refused by name."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from starlette.websockets import WebSocketDisconnect

from app.runs.frame_pack import unpack
from tests.api.conftest import TestClient
from tests.runs.test_packed_frames import same_frame


def url(run_id: str, encoding: str | None = "f32") -> str:
    query = "" if encoding is None else f"?encoding={encoding}"
    return f"/api/runs/{run_id}/stream{query}"


def frame_of(ws: Any) -> dict[str, Any]:
    """The next frame of a packed stream (control messages before it must be text)."""
    for _ in range(50):
        message = ws.receive()
        if message.get("bytes") is not None:
            frame: dict[str, Any] = unpack(message["bytes"])
            assert frame["type"] == "frame"
            return frame
        assert orjson.loads(message["text"])["type"] != "frame"
    raise AssertionError("no frame in 50 messages")


def test_packed_frames_are_the_json_frames_of_the_same_state(
    client: TestClient, run_id: str
) -> None:
    with client.websocket_connect(url(run_id)) as ws:
        first = frame_of(ws)
        assert first["grid"] is not None and first["history"] is not None
        assert isinstance(first["layers"][0]["w"], np.ndarray)
        ws.send_json({"type": "step", "steps": 5})
        stepped = frame_of(ws)
        assert stepped["step"] == 5
        # the same state as JSON, by REST (same step, same probe, the grid): number for number
        rest = client.get(f"/api/runs/{run_id}/frame?grid=true").json()
        for key in ("t", "fps", "prediction", "metrics_step", "health", "history"):
            rest.pop(key, None)
            stepped.pop(key, None)
        assert same_frame(rest, stepped) > 0
        ws.send_json({"type": "set", "hidden": [3], "dataset": "xor"})
        message = ws.receive()  # the rebuilt message: JSON text, as for every stream
        assert orjson.loads(message["text"])["type"] == "rebuilt"
        after = frame_of(ws)
        assert after["sizes"] == [2, 3, 1] and after["layers"][0]["w"].shape == (3, 2)


def test_a_stream_without_an_encoding_gets_json_text(client: TestClient, run_id: str) -> None:
    for encoding in (None, "json"):
        with client.websocket_connect(url(run_id, encoding)) as ws:
            message = ws.receive()
            assert message.get("bytes") is None
            assert orjson.loads(message["text"])["layers"][0]["w"][0][0] is not None


def test_an_unknown_encoding_is_refused_by_name(client: TestClient, run_id: str) -> None:
    with client.websocket_connect(url(run_id, "f64")) as ws:
        error = ws.receive_json()
        assert error["type"] == "error"
        assert "encoding" in error["detail"] and "json, f32" in error["detail"]
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
        assert e.value.code == 4400
