"""The static critic accepts valid programs and names line, construct and fix for the rest."""

import pytest

from text2reward.critic.static import check_source

GOOD = '''
import numpy as np
import math

SCALE = 2.0


def _upright(angle, temperature):
    return np.exp(-np.abs(angle) / temperature)


def compute_reward(state, action, next_state):
    upright = _upright(next_state.pole_angle, 0.1)
    centred = -SCALE * np.square(next_state.cart_position) * math.pi
    bonus = np.where(np.abs(next_state.pole_angle) < 0.05, 1.0, 0.0)
    total = upright + centred + bonus
    return total, {"upright": upright, "centred": centred, "bonus": bonus}
'''


def test_accepts_helpers_constants_and_numpy():
    assert check_source(GOOD) == []


@pytest.mark.parametrize(
    "source, construct",
    [
        ("import os\ndef compute_reward(s, a, n):\n    return 0, {}\n", "import os"),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    np.save('x', s.obs)\n"
         "    return 0, {}\n", ".save"),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    return np.ctypeslib, {}\n",
         ".ctypeslib"),
        ("def compute_reward(s, a, n):\n    return s.obs.tofile('x'), {}\n", ".tofile"),
        ("def compute_reward(s, a, n):\n    return s.__class__, {}\n", ".__class__"),
        ("def compute_reward(s, a, n):\n    return open('/etc/passwd').read(), {}\n", "open"),
        ("def compute_reward(s, a, n):\n    return eval('1'), {}\n", "eval"),
        ("def compute_reward(s, a, n):\n    return getattr(s, 'obs'), {}\n", "getattr"),
        ("X = []\ndef compute_reward(s, a, n):\n    return 0, {}\n", "Assign"),
        ("def compute_reward(s, a, n):\n    global X\n    return 0, {}\n", "Global"),
        ("class A: pass\ndef compute_reward(s, a, n):\n    return 0, {}\n", "ClassDef"),
        ("def compute_reward(s, a):\n    return 0, {}\n", "compute_reward signature"),
        ("def reward(s, a, n):\n    return 0, {}\n", "compute_reward"),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    return np.random.rand(3), {}\n",
         "np.random"),
        ("def compute_reward(s, a, n):\n    return '{0.__class__}'.format(s), {}\n", ".format"),
        ("def compute_reward(s, a, n)\n    return 0, {}\n", "syntax"),
    ],
)
def test_rejects_with_construct_named(source, construct):
    findings = check_source(source)
    assert findings, source
    assert any(f.construct == construct for f in findings), [str(f) for f in findings]


def test_findings_name_line_reason_and_fix():
    findings = check_source(
        "import numpy as np\n\ndef compute_reward(s, a, n):\n    return np.load('x'), {}\n")
    text = str(findings[0])
    assert text.startswith("line 4: np.load") or text.startswith("line 4: .load")
    assert "use" in text


@pytest.mark.parametrize(
    "source, construct",
    [
        ("import numpy as np\ndef compute_reward(s, a, n):\n    np.cos = np.sin\n"
         "    return 0, {}\n", ".cos = ..."),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    return np.ndarray((3,)), {}\n",
         "np.ndarray"),
        ("def compute_reward(s, a, n):\n    return (x for x in s).gi_code, {}\n", ".gi_code"),
        ("def compute_reward(s, a, n):\n    return 10 ** 10 ** 10, {}\n",
         "** with a huge exponent"),
        ("def compute_reward(s, a, n):\n    return pow(7, 10**9), {}\n",
         "pow with a huge exponent"),
        ("from math import pi as __builtins__\ndef compute_reward(s, a, n):\n    return 0, {}\n",
         "__builtins__"),
        ("W = {'a': 1.0}\ndef compute_reward(s, a, n):\n    W['a'] = 2.0\n    return 0, {}\n",
         "writing into W"),
        ("W = {'a': 1.0}\ndef compute_reward(s, a, n):\n    W.update(a=2.0)\n    return 0, {}\n",
         ".update() on W"),
        ("def compute_reward(s, a, n):\n    return " + "-" * 20000 + "1, {}\n", "nesting"),
    ],
)
def test_rejects_hardened_constructs(source, construct):
    findings = check_source(source)
    assert any(f.construct == construct for f in findings), [str(f) for f in findings]
    assert all(f.fix for f in findings)


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\ndef compute_reward(s, a, n):\n"
        "    return float(isinstance(s.obs, np.ndarray)), {}\n",
        "import math\nimport numpy as np\nHALF = math.pi / 2\nW = np.array([1.0, 2.0])\n"
        "G = {'a': 1.0}\ndef compute_reward(s, a, n):\n    w = dict(G)\n    w['a'] = 2.0\n"
        "    return W[0] * HALF * w['a'], {}\n",
        "def compute_reward(s, a, n):\n"
        "    return s.obs[:, 0] ** 2 + pow(s.obs[:, 1], 3) + 2 ** -3, {}\n",
    ],
)
def test_accepts_tricky_but_valid_programs(source):
    assert check_source(source) == [], [str(f) for f in check_source(source)]


# -- stateful programs are refused -----------------------------------------------------------

@pytest.mark.parametrize(
    "source, construct",
    [
        ("import numpy as np\ndef compute_reward(s, a, n, _calls=[0]):\n    _calls[0] += 1\n"
         "    bonus = 1.0 if _calls[0] > 2000 else 0.0\n"
         "    return np.cos(n.obs[:, 2]) + bonus, {}\n",
         "mutable default argument of compute_reward"),
        ("import numpy as np\ndef helper(x, cache={}):\n    return x\n"
         "def compute_reward(s, a, n):\n    return helper(n.obs[:, 0]), {}\n",
         "mutable default argument of helper"),
        ("import numpy as np\nHIST = np.zeros(4)\ndef compute_reward(s, a, n, h=HIST):\n"
         "    return n.obs[:, 0], {}\n", "mutable default argument of compute_reward"),
        ("import numpy as np\ndef compute_reward(s, a, n):\n    compute_reward.calls = 1\n"
         "    return n.obs[:, 0], {}\n", "compute_reward.calls = ..."),
        ("import numpy as np\nSTATS = {'n': 0}\ndef compute_reward(s, a, n):\n    st = STATS\n"
         "    st['n'] = st['n'] + 1\n    return n.obs[:, 0] * st['n'], {}\n", "writing into st"),
        ("import numpy as np\nW = np.zeros(3)\ndef compute_reward(s, a, n):\n"
         "    w = np.asarray(W)\n    w += 1\n    return n.obs[:, 0] * w[0], {}\n",
         "in-place update of w"),
    ],
)
def test_stateful_programs_are_refused(source, construct):
    findings = check_source(source)
    assert any(f.construct == construct for f in findings), [str(f) for f in findings]


def test_immutable_defaults_are_fine():
    source = ("import math\ndef shape(x, scale=0.5, pair=(1, 2), half=math.pi / 2, name=None):\n"
              "    return x * scale\ndef compute_reward(s, a, n):\n"
              "    return shape(n.obs[:, 0]), {}\n")
    assert check_source(source) == []


# -- batch mistakes found before anything runs -----------------------------------------------

@pytest.mark.parametrize(
    "body, construct, fix",
    [
        ("    r = math.cos(next_state.pole_angle)\n", "math.cos on a batch", "np.cos"),
        ("    angle = next_state.pole_angle * 2\n    r = math.exp(-angle)\n", "math.exp on a batch",
         "np.exp"),
        ("    r = next_state[:, 2]\n", "next_state[...]", "next_state.obs[:, i]"),
        ("    r = action[0] * 1.0\n", "action[0]", "action[:, 0]"),
        ("    r = next_state.torso_position[2]\n", "next_state.torso_position[2]",
         "next_state.torso_position[:, 2]"),
    ],
)
def test_batch_mistakes_are_named_with_a_fix(body, construct, fix):
    source = ("import math\nimport numpy as np\n\ndef compute_reward(state, action, next_state):\n"
              + body + "    return r, {'r': r}\n")
    findings = check_source(source)
    found = [f for f in findings if f.construct == construct]
    assert found and fix in found[0].fix, [str(f) for f in findings]


def test_whole_batch_reductions_may_use_math():
    source = ("import math\nimport numpy as np\n\ndef compute_reward(state, action, next_state):\n"
              "    spread = math.sqrt(float(np.var(next_state.pole_angle)))\n"
              "    r = np.cos(next_state.pole_angle) - spread\n    return r, {'r': r}\n")
    assert check_source(source) == []


def test_all_findings_are_listed_at_once():
    source = ("import torch\nimport math\n\ndef compute_reward(state, action, next_state, c=[]):\n"
              "    r = math.cos(next_state.pole_angle) + action[0]\n    return r, {'r': r}\n")
    constructs = {f.construct for f in check_source(source)}
    assert {"import torch", "math.cos on a batch", "action[0]",
            "mutable default argument of compute_reward"} <= constructs


def test_torch_gets_a_concrete_fix():
    finding = check_source("import torch\ndef compute_reward(s, a, n):\n    return 0, {}\n")[0]
    assert "np.X for torch.X" in finding.fix and "@torch.jit.script" in finding.fix


# -- annotations ------------------------------------------------------------------------------

def test_lazy_annotations_are_not_checked_but_everything_else_is():
    source = ("from __future__ import annotations\nimport numpy as np\n\n"
              "def compute_reward(state: np.ndarray, action, next_state) -> Tuple[np.ndarray]:\n"
              "    r: np.ndarray = np.cos(next_state.obs[:, 2])\n    return r, {'r': r}\n")
    assert check_source(source) == []
    assert check_source(source.replace("np.cos(", "np.load(")) != []


def test_annotations_evaluated_without_the_future_import_are_checked():
    source = ("import numpy as np\n\ndef compute_reward(state, action, next_state) -> np.ndarray:\n"
              "    return next_state.obs[:, 2], {}\n")
    assert any(f.construct == "np.ndarray" for f in check_source(source))


@pytest.mark.parametrize("line", ["from __future__ import division",
                                  "from __future__ import annotations as A"])
def test_only_the_annotations_future_import_is_allowed(line):
    assert check_source(line + "\ndef compute_reward(s, a, n):\n    return 0, {}\n")


def test_annotations_are_never_evaluated_when_loaded():
    from text2reward.program import RewardProgram

    source = ("from __future__ import annotations\n\n"
              "def compute_reward(state, action, next_state: open('/etc/passwd')):\n"
              "    return 0, {}\n")
    assert check_source(source) == []
    program = RewardProgram.load(source)
    assert program.fn.__annotations__ == {"next_state": "open('/etc/passwd')"}
