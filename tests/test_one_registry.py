"""One place per choice: no activation, cost, regulariser or feedback rule name is written
down outside its registry.

The API's enums, /api/options, the page's labels and equations, the link grammar, the fast
path, saturation and accuracy all read app/core/activations.py (and costs.py, which says on
which output σ' cancels, and regularisers.py). A module that spells a choice's name to
decide something is a second list, which the next activation or cost would have to find and
extend: this test finds it first. The few names that remain are choices (defaults), not
lists, another word that is spelt the same, or a second list not yet moved, each with its
reason below. Regulariser "none" is not scanned (the word is everywhere: CSS, JSON).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from app.core.activations import ACTIVATIONS
from app.core.costs import COSTS
from app.core.feedback import RULES
from app.core.regularisers import REGULARISERS

ROOT = Path(__file__).resolve().parents[1]
NAMES = set(ACTIVATIONS) | set(COSTS) | (set(REGULARISERS) - {"none"}) | set(RULES)
REGISTRY = {
    "app/core/activations.py",
    "app/core/costs.py",
    "app/core/regularisers.py",
    "app/core/feedback.py",
}

# (file, name): why it may be spelt there.
ALLOWED = {
    ("app/core/datasets.py", "tanh"): "Playground's default pairing for classification",
    ("app/core/datasets.py", "linear"): "the default pairing for regression",
    ("app/core/datasets.py", "softmax"): "the default pairing for multiclass",
    ("app/runs/experiment.py", "tanh"): "the default experiment's hidden activation",
    ("app/api/presets.py", "linear"): "the colour scale named linear (view key 'scale')",
    # The page's own σ, used to choose how many digits of z make "a = σ(z)" hold when
    # written (JavaScript cannot call the server's); an activation missing there is shown
    # without that equation.
    **{
        ("static/js/quantities.js", n): "ACT_FN"
        for n in ("tanh", "sigmoid", "relu", "leaky_relu", "swish", "linear")
    },
    # 'linear' is also a scale: Plotly's axis type and the colour scales' name.
    ("static/js/loss_plot.js", "linear"): "Plotly's linear axis",
    ("static/js/colors.js", "linear"): "the colour scale",
    ("static/js/controls.js", "linear"): "the colour scale's select value",
    ("app/core/datasets.py", "quadratic"): "the default cost for classification and regression",
    ("app/core/datasets.py", "log_likelihood"): "the default cost for multiclass",
    ("app/runs/config.py", "quadratic"): "the cost of an output no cost cancels on",
    # BP2's feedback rules (app/core/feedback.py): the nudge reports the inverse rule's
    # prediction beside backprop's (issue 12's question), under a field of that name.
    ("app/core/nudge.py", "inverse"): "the rule every nudge predicts beside backprop",
    ("app/api/nudge.py", "inverse"): "the nudge answer's field for that prediction",
    ("static/js/walkthrough.js", "transpose"): "prose: 'so to use column k as a row we "
    "transpose: the sum is…' reads as an object key",
}


def py_names(source: str) -> set[str]:
    """Choice names among the string constants of Python source (docstrings and comments
    are prose: a docstring is never exactly a name, and comments are not in the tree)."""
    tree = ast.parse(source)
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in NAMES}


_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"(^|[\s;{}(,])//[^\n]*")
_ALTERNATIVES = "|".join(sorted(NAMES, key=len, reverse=True))
_JS = (
    (re.compile(rf"""(["'`])({_ALTERNATIVES})\1"""), 2),  # a string
    (re.compile(rf"""(?:^|[{{,\s])({_ALTERNATIVES})\s*:(?!:)""", re.M), 1),  # an object key
    (re.compile(rf"/({_ALTERNATIVES})/"), 1),  # a regular expression
)


def js_names(source: str) -> set[str]:
    """Choice names in JavaScript source as a quoted string, an object key or a regular
    expression (comments are not code)."""
    code = _LINE_COMMENT.sub(r"\1", _BLOCK_COMMENT.sub("", source))
    return {m.group(g) for pattern, g in _JS for m in pattern.finditer(code)}


def spellings() -> set[tuple[str, str]]:
    """(file, name) for every choice name spelt in app/ and static/js."""
    found = set()
    for path in sorted((ROOT / "app").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel not in REGISTRY:
            found |= {(rel, n) for n in py_names(path.read_text(encoding="utf-8"))}
    for path in sorted((ROOT / "static" / "js").glob("*.js")):
        rel = path.relative_to(ROOT).as_posix()
        found |= {(rel, n) for n in js_names(path.read_text(encoding="utf-8"))}
    return found


def test_no_choice_name_is_spelt_outside_its_registry() -> None:
    stray = sorted(spellings() - ALLOWED.keys())
    assert not stray, f"activation, cost or regulariser names outside app/core: {stray}"


def test_the_allow_list_is_still_needed() -> None:
    """An entry whose name is gone must go too (the list only shrinks)."""
    unused = sorted(ALLOWED.keys() - spellings())
    assert not unused, unused


def test_the_scan_finds_a_hand_list() -> None:
    """The ways a second list is written are seen; prose is not."""
    assert py_names('ACTS = ["gelu", "tanh"]\nif a == "relu": pass\n') == {"gelu", "tanh", "relu"}
    assert py_names('"""The tanh and relu units."""\n# "swish"\n') == set()
    js = 'const T = { tanh: 1, sigmoid: 2 }; if (a === "relu") f(/softmax/); // "swish" here'
    assert js_names(js) == {"tanh", "sigmoid", "relu", "softmax"}
    assert js_names("/* leaky_relu: x */ const f = (gelu) => gelu;") == set()
    js = 'const C = { quadratic: "½‖y−a‖²" }; if (r === "l1" || c === "cross_entropy") f();'
    assert js_names(js) == {"quadratic", "l1", "cross_entropy"}
    assert py_names('if cost.name == "log_likelihood" or reg == "l2": pass') == {
        "log_likelihood",
        "l2",
    }
