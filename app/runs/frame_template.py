"""A frame's ``probe``, ``input`` and ``layers`` in their documented shape (``docs/frames.md``).

The dicts are built once per network shape and batch size, holding float32 views of the
send plan's rounded values (:attr:`app.runs.frame_send.SendPlan.send32`) and its norms'
dicts, so between frames only the numbers under them change; ``layers`` is encoded by orjson
once per frame computed (a pre-encoded :class:`orjson.Fragment` the frame embeds).

One reason to change: the wire shape of these fields. A new per-layer array is a slot of the
send plan (:data:`app.runs.frame_send.LAYER_SLOTS`) placed here; a field the plan does not
gather (a feedback rule's) is set with :meth:`FrameTemplate.extend_layers`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from app.runs.frame_pack import ref
from app.runs.frame_send import SendPlan

OPTS = orjson.OPT_SERIALIZE_NUMPY


class FrameTemplate:
    """The frame's ``probe`` and ``input`` dicts and ``layers`` list over a send plan."""

    def __init__(self, plan: SendPlan, activations: list[str]) -> None:
        self._plan, self._activations = plan, activations
        v = plan.views(plan.send32)
        self._layers = self._dicts(v, plan.norms_by_layer)
        s = plan.probe_slots
        self.probe: dict[str, Any] = {
            "index": 0,
            "point": v[s["point"]],
            "x": v[s["x"]],
            "y": v[s["y"]],
            "cost": 0.0,
        }
        self.input = {"a": v[s["x"]], "mean_a": v[s["mean_x"]], "backward": v[s["back"]]}
        self._encoded: orjson.Fragment | None = None
        # The same list for a packed frame (app/runs/frame_pack.py): references into send32
        # in place of the views, the same norms' dicts.
        # (encoded once: orjson copies a Fragment's bytes, a third of a dict's cost; by json,
        # whose bytes are their size: orjson's small outputs hold about 2 KB each).
        refs = [orjson.Fragment(json.dumps(ref(o, sh)).encode()) for o, sh in plan.layout]
        self._packed = self._dicts(refs, plan.norms_by_layer)
        self._packed_encoded: orjson.Fragment | None = None

    def _dicts(self, v: list[Any], norms: list[dict[str, float]]) -> list[dict[str, Any]]:
        """The ``layers`` list with the views ``v`` (one per slot of the plan: arrays, or a
        packed frame's references)."""
        out = []
        for i, sl in enumerate(self._plan.layer_slots):
            s = {name: v[j] for name, j in sl.items()}
            out.append(
                {
                    "l": i + 2,
                    "activation": self._activations[i],
                    "w": s["w"],
                    "b": s["b"],
                    "grad_w": s["grad_w"],
                    "grad_b": s["mean_delta"],  # BP3: the mean δ (biases are never regularised)
                    "z": s["z"],
                    "a": s["a"],
                    "delta": s["delta"],
                    "sigma_prime": s["sigma_prime"],
                    "mean": {
                        "z": s["mean_z"],
                        "a": s["mean_a"],
                        "delta": s["mean_delta"],
                        "sigma_prime": s["mean_sigma_prime"],
                    },
                    "edges": {
                        "probe": {
                            "forward": s["probe_forward"],
                            "backward": s["probe_backward"],
                            "gradient": s["probe_gradient"],
                        },
                        "mean": {
                            "forward": s["mean_forward"],
                            "backward": s["mean_backward"],
                            "gradient": s["mean_gradient"],
                        },
                    },
                    "norms": norms[i],
                }
            )
        return out

    @property
    def layers(self) -> orjson.Fragment:
        """The frame's ``layers`` list, encoded once per frame computed."""
        if self._encoded is None:
            self._encoded = orjson.Fragment(orjson.dumps(self._layers, option=OPTS))
        return self._encoded

    @property
    def packed_layers(self) -> tuple[orjson.Fragment, bytes]:
        """A packed frame's ``layers`` (references) and the float32 bytes they refer to."""
        if self._packed_encoded is None:
            self._packed_encoded = orjson.Fragment(orjson.dumps(self._packed, option=OPTS))
        return self._packed_encoded, self._plan.send32.tobytes()

    def extend_layers(self, extra: list[dict[str, Any]]) -> None:
        """Set ``extra[i]``'s keys in layer i's dict (layer l = i + 2): fields the plan does
        not gather (a feedback rule's, :mod:`app.runs.frames`); the caller keeps them current."""
        for layer, packed, more in zip(self._layers, self._packed, extra, strict=True):
            layer.update(more)
            packed.update(more)
        self._encoded = self._packed_encoded = None

    def invalidate(self) -> None:
        """The plan's buffers are about to change: the encoded layers are stale."""
        self._encoded = self._packed_encoded = None

    def unrounded(self) -> list[dict[str, Any]]:
        """The last frame's gathered ``layers`` in float64, before rounding (copies; the
        norms are the frame's, fields set by :meth:`extend_layers` are left out): what the
        tests hold to the readable reference."""
        plan = self._plan
        return self._dicts(plan.views(plan.vals.copy()), [dict(n) for n in plan.norms_by_layer])
