"""``POST /api/backprop``: one forward + backward pass on a network given in full.

Stateless and exact: float64 throughout, numbers written with their shortest round-trip
representation, never rounded. This is what a student checks a hand calculation against.

All of the work (parsing and validating the body, the pass, encoding the answer) runs in a
worker thread (:mod:`app.runs.work`): a 1 MB body takes tens of milliseconds to validate,
which on the event loop would stall every stream. The answer is capped at
``max_response_values`` numbers in all (each at most 26 bytes of JSON), so a small request
cannot ask for a huge answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.deps import SettingsDep, WorkersDep
from app.api.errors import issue
from app.api.models import BackpropRequest, BackpropResponse
from app.api.responses import OrjsonResponse, errors
from app.core.activations import ACTIVATIONS
from app.core.costs import get_cost
from app.core.feedback import Feedback, alignment, get_rule, random_matrices
from app.core.network import Network, backprop, n_params
from app.settings import Settings

router = APIRouter(tags=["backprop"])
BYTES_PER_VALUE = 26  # the longest float64 in JSON ("-2.2250738585072014e-308") and a comma


class Invalid(Exception):
    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.issue = issue(("body", *loc), msg, "value_error")


def _check_shapes(req: BackpropRequest, s: Settings) -> None:
    sizes = req.sizes
    n_layers = len(sizes)
    if n_layers - 2 > s.max_layers:
        raise Invalid(("sizes",), f"at most {s.max_layers} hidden layers (max_layers)")
    if sizes[0] > s.max_inputs:
        raise Invalid(("sizes", 0), f"at most {s.max_inputs} inputs (max_inputs)")
    for i, n in enumerate(sizes[1:-1], start=1):
        if n > s.max_width:
            raise Invalid(
                ("sizes", i), f"at most {s.max_width} neurons per hidden layer (max_width)"
            )
    if sizes[-1] > s.max_outputs:
        raise Invalid(("sizes", n_layers - 1), f"at most {s.max_outputs} outputs (max_outputs)")
    if n_params(sizes) > s.max_params:
        raise Invalid(
            ("sizes",), f"{n_params(sizes)} parameters; at most {s.max_params} (max_params)"
        )
    for name, given in (
        ("weights", req.weights),
        ("biases", req.biases),
        ("activations", req.activations),
    ):
        if len(given) != n_layers - 1:
            raise Invalid((name,), f"need {n_layers - 1} entries, one per layer l = 2..{n_layers}")
    for i, (w, b) in enumerate(zip(req.weights, req.biases, strict=True)):
        n, k = sizes[i + 1], sizes[i]
        if len(w) != n:
            raise Invalid(("weights", i), f"w^{i + 2} needs {n} rows (n_l), got {len(w)}")
        for j, row in enumerate(w):
            if len(row) != k:
                raise Invalid(("weights", i, j), f"w^{i + 2} rows need {k} entries (n_(l-1))")
        if len(b) != n:
            raise Invalid(("biases", i), f"b^{i + 2} needs {n} entries, got {len(b)}")
    for i, act in enumerate(req.activations[:-1]):
        if not ACTIVATIONS[act].hidden_ok:
            raise Invalid(("activations", i), f"{act} is allowed on the output layer only")
    try:
        get_cost(req.cost, req.activations[-1])
    except ValueError as e:
        raise Invalid(("cost",), str(e)) from None
    _check_feedback(req)
    m = len(req.x)
    if m > s.max_batch:
        raise Invalid(("x",), f"at most {s.max_batch} examples (max_batch)")
    rule = not get_rule(req.feedback).exact
    values = response_values(sizes, m, req.learning_rate is not None, rule)
    if values > s.max_response_values:
        raise Invalid(
            ("x",),
            f"{m} examples need an answer of {values} numbers (backward_contribution alone "
            f"is m × {n_weights(sizes)}); at most {s.max_response_values} "
            "(max_response_values): send fewer examples",
        )
    if len(req.y) != m:
        raise Invalid(("y",), f"need one target per example: {m} rows, got {len(req.y)}")
    for name, rows, width in (("x", req.x, sizes[0]), ("y", req.y, sizes[-1])):
        for r, row in enumerate(rows):
            if len(row) != width:
                raise Invalid((name, r), f"each row needs {width} entries, got {len(row)}")


def _check_feedback(req: BackpropRequest) -> None:
    """``feedback_matrices`` and ``seed`` belong to the random rule; the matrices must be
    one per layer l = 3..L, each (n_{l-1}, n_l)."""
    rule, sizes = get_rule(req.feedback), req.sizes
    for name, given in (("feedback_matrices", req.feedback_matrices), ("seed", req.seed)):
        if given is not None and not rule.fixed:
            raise Invalid(
                (name,), f"{name} is for a rule drawn once (random), not for {req.feedback}"
            )
    if req.feedback_matrices is None:
        return
    if req.seed is not None:
        raise Invalid(("seed",), "give feedback_matrices or a seed to draw them from, not both")
    want = [(k, n) for n, k in zip(sizes[2:], sizes[1:-1], strict=True)]
    if len(req.feedback_matrices) != len(want):
        raise Invalid(
            ("feedback_matrices",),
            f"need {len(want)} matrices, one per layer l = 3..{len(sizes)} (B^l, (n_(l-1), n_l))",
        )
    for i, (mat, (k, n)) in enumerate(zip(req.feedback_matrices, want, strict=True)):
        if len(mat) != k:
            raise Invalid(("feedback_matrices", i), f"B^{i + 3} needs {k} rows (n_(l-1))")
        for j, row in enumerate(mat):
            if len(row) != n:
                raise Invalid(("feedback_matrices", i, j), f"B^{i + 3} rows need {n} entries (n_l)")


def n_weights(sizes: list[int]) -> int:
    return sum(n * k for n, k in zip(sizes[1:], sizes[:-1], strict=True))


def response_values(sizes: list[int], m: int, updated: bool, rule: bool = False) -> int:
    """How many numbers the answer holds: per example its cost, and for each layer z, a, δ,
    σ' and the backward contributions; the gradients; the updated parameters; with a rule
    other than the transpose, the true δ and gradients, alignments and the rule's matrices."""
    params = n_params(sizes)
    per_layer = sum(4 * m * n for n in sizes[1:])
    total = m + per_layer + m * n_weights(sizes) + params + (params if updated else 0)
    if rule:
        n_back = n_weights(sizes) - sizes[0] * sizes[1]  # B^l for l = 3..L
        total += sum(m * n for n in sizes[1:]) + params + len(sizes) - 1 + n_back
    return total


def _finite(*arrays: Any) -> bool:
    return all(np.isfinite(a).all() for a in arrays)


_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": BackpropRequest.model_json_schema()}},
    }
}


@router.post(
    "/api/backprop",
    response_model=BackpropResponse,
    response_class=OrjsonResponse,
    responses=errors(413, 422, 503),
    openapi_extra=_BODY,
)
async def run_backprop(
    request: Request, settings: SettingsDep, workers: WorkersDep
) -> OrjsonResponse:
    """Forward + backward pass in float64 (BP1-BP4); with `learning_rate`, also the
    parameters after one SGD step `w ← w − η ∂C/∂w`. `weights[i][j][k]` is `w^{i+2}_jk`
    (row j: neuron in layer l, column k: neuron in layer l-1). With `feedback` other than
    `transpose`, BP2 carries δ back through the rule's matrix: the answer is the rule's, with
    backprop's `true_*` numbers and the `alignment` beside it per layer, and the matrices
    used. The answer holds at most `max_response_values` numbers."""
    body = await request.body()
    status, payload = await workers.run(_respond, body, settings)
    return OrjsonResponse(payload, status_code=status)


def _respond(body: bytes, settings: Settings) -> tuple[int, Any]:
    """In a worker thread: (status, JSON body) for the raw request body."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as e:
        msg = f"the body is not valid JSON ({str(e)[:80]})"
        raise RequestValidationError([issue(("body",), msg, "json_invalid")]) from None
    try:
        req = BackpropRequest.model_validate(data)
    except ValidationError as e:
        found = e.errors(include_input=False, include_url=False)
        for err in found:
            err["loc"] = ("body", *err["loc"])
        # all of them: the 422 handler keeps the first MAX_ISSUES and counts the rest once
        raise RequestValidationError(found) from None
    try:
        _check_shapes(req, settings)
    except Invalid as e:
        return 422, {"detail": [e.issue]}
    with np.errstate(all="ignore"):  # overflow is reported below as a 422
        return _answer(req)


def _feedback(req: BackpropRequest) -> Feedback | None:
    """The request's rule (None: the transpose), its matrices given or drawn from the seed."""
    rule = get_rule(req.feedback)
    if rule.exact:
        return None
    if not rule.fixed:
        return Feedback(rule)
    if req.feedback_matrices is not None:
        return Feedback(rule, tuple(np.array(m, dtype=np.float64) for m in req.feedback_matrices))
    seed = 1 if req.seed is None else req.seed
    return Feedback(rule, tuple(random_matrices(list(req.sizes), seed)))


def _answer(req: BackpropRequest) -> tuple[int, Any]:
    weights = [np.array(w, dtype=np.float64) for w in req.weights]
    biases = [np.array(b, dtype=np.float64) for b in req.biases]
    net = Network(list(req.sizes), weights, biases, list(req.activations))
    x, y = np.array(req.x, dtype=np.float64), np.array(req.y, dtype=np.float64)
    fb = _feedback(req)
    t = backprop(net, req.cost, x, y, req.regulariser, req.lambda_, req.n, feedback=fb)
    contributions = [
        w[None, :, :] * d[:, :, None] for w, d in zip(net.weights, t.delta, strict=True)
    ]
    body: dict[str, Any] = {
        "cost": t.cost,
        "cost_x": t.cost_x,
        "layers": [
            {
                "l": i + 2,
                "z": t.z[i],
                "a": t.a[i + 1],
                "delta": t.delta[i],
                "sigma_prime": t.sigma_prime[i],
                "grad_w": t.grad_w[i],
                "grad_b": t.grad_b[i],
                "backward_contribution": contributions[i],
            }
            for i in range(len(net.weights))
        ],
        "updated": None,
    }
    arrays = [t.cost_x, *t.z, *t.a, *t.delta, *t.sigma_prime, *t.grad_w, *t.grad_b, *contributions]
    if fb is not None:  # the true numbers beside the rule's, and the rule's matrices
        true = backprop(net, req.cost, x, y, req.regulariser, req.lambda_, req.n)
        for i, layer in enumerate(body["layers"]):
            layer["true_delta"] = true.delta[i]
            layer["true_grad_w"] = true.grad_w[i]
            layer["true_grad_b"] = true.grad_b[i]
            layer["alignment"] = alignment(t.grad_w[i], true.grad_w[i])
        body["feedback_matrices"] = fb.matrices(net.weights)
        arrays += [*true.delta, *true.grad_w, *true.grad_b, *body["feedback_matrices"]]
    if req.learning_rate is not None:
        eta = req.learning_rate
        new_w = [w - eta * g for w, g in zip(net.weights, t.grad_w, strict=True)]
        new_b = [b - eta * g for b, g in zip(net.biases, t.grad_b, strict=True)]
        body["updated"] = {"weights": new_w, "biases": new_b}
        arrays += new_w + new_b
    if not (np.isfinite(t.cost) and _finite(*arrays)):
        msg = "the result is not finite in float64 (overflow): use smaller values"
        return 422, {"detail": [issue(("body",), msg, "value_error")]}
    return 200, orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
